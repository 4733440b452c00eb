package dev.affinity.balancer;

import java.util.concurrent.atomic.AtomicInteger;

final class RoundRobin implements BalancingAlgorithm {
  private final AtomicInteger sequence = new AtomicInteger();

  @Override
  public Target select(Target[] candidates) {
    return candidates[Math.floorMod(sequence.getAndIncrement(), candidates.length)];
  }

  @Override
  public String toString() {
    return "round_robin";
  }
}
