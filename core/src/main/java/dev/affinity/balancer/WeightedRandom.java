package dev.affinity.balancer;

import java.util.concurrent.ThreadLocalRandom;

final class WeightedRandom implements BalancingAlgorithm {
  static final WeightedRandom INSTANCE = new WeightedRandom();

  private WeightedRandom() {}

  @Override
  public Target select(Target[] candidates) {
    int total = 0;
    for (Target t : candidates) {
      total += t.weight();
    }
    if (total <= 0) {
      return candidates[ThreadLocalRandom.current().nextInt(candidates.length)];
    }
    int pick = ThreadLocalRandom.current().nextInt(total);
    for (Target t : candidates) {
      pick -= t.weight();
      if (pick < 0) {
        return t;
      }
    }
    return candidates[candidates.length - 1];
  }

  @Override
  public String toString() {
    return "weighted_random";
  }
}
