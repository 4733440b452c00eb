package dev.affinity.balancer;

import java.util.Locale;

/**
 * Picks a target for a client that is not pinned. Implementations are lock-free; a sticky client
 * never reaches the algorithm.
 */
@FunctionalInterface
public interface BalancingAlgorithm {

  /**
   * One of {@code candidates} (never empty, all eligible), chosen by this algorithm.
   */
  Target select(Target[] candidates);

  /** Each target in turn. */
  static BalancingAlgorithm roundRobin() {
    return new RoundRobin();
  }

  /** The target with the fewest requests in flight; ties go round robin so that idle targets share. */
  static BalancingAlgorithm leastOutstandingRequests() {
    return new LeastOutstandingRequests();
  }

  /** A random target, in proportion to its weight. */
  static BalancingAlgorithm weightedRandom() {
    return WeightedRandom.INSTANCE;
  }

  /** By the names the YAML file uses: {@code round_robin}, {@code least_outstanding_requests}, {@code weighted_random}. */
  static BalancingAlgorithm named(String name) {
    String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
    switch (key) {
      case "round_robin":
        return roundRobin();
      case "least_outstanding_requests":
        return leastOutstandingRequests();
      case "weighted_random":
        return weightedRandom();
      default:
        throw new IllegalArgumentException(
            "algorithm must be one of round_robin, least_outstanding_requests, weighted_random; got \"" + name + "\"");
    }
  }
}
