package dev.affinity.balancer;

import java.util.concurrent.atomic.AtomicInteger;

final class LeastOutstandingRequests implements BalancingAlgorithm {
  private final AtomicInteger sequence = new AtomicInteger();

  @Override
  public Target select(Target[] candidates) {
    int n = candidates.length;
    // Start the scan at a rotating offset so that ties do not always go to the first target.
    int start = Math.floorMod(sequence.getAndIncrement(), n);
    Target best = candidates[start];
    int bestLoad = best.inFlight();
    for (int i = 1; i < n && bestLoad > 0; i++) {
      Target t = candidates[(start + i) % n];
      int load = t.inFlight();
      if (load < bestLoad) {
        best = t;
        bestLoad = load;
      }
    }
    return best;
  }

  @Override
  public String toString() {
    return "least_outstanding_requests";
  }
}
