package dev.affinity.balancer;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A JVM-wide count of the changes that can alter which targets take new clients: health flips,
 * draining, weights and health settings. A group keeps its list of eligible targets until this
 * count moves, so that placing a new client does not scan 1 000 targets to find the same list again.
 * Global rather than per group because a target does not know its group; an unrelated change only
 * costs a group one rescan.
 */
final class TopologyChanges {
  private static final AtomicLong COUNT = new AtomicLong();

  private TopologyChanges() {}

  static long current() {
    return COUNT.get();
  }

  static void changed() {
    COUNT.incrementAndGet();
  }
}
