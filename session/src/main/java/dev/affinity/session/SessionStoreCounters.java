package dev.affinity.session;

import java.util.concurrent.atomic.LongAdder;

/** What a {@link SessionStore} counts; read them for metrics and tests. */
public final class SessionStoreCounters {
  final LongAdder warnings = new LongAdder();
  final LongAdder retries = new LongAdder();
  final LongAdder conflicts = new LongAdder();
  final LongAdder nearCacheHits = new LongAdder();
  final LongAdder nearCacheMisses = new LongAdder();
  final LongAdder droppedWrites = new LongAdder();

  /** Store unreachable or failing: a load served from the near-cache, a write kept for retry, a failed load. */
  public long warnings() {
    return warnings.sum();
  }

  /** Background retries of writes that failed while the store was unreachable. */
  public long retries() {
    return retries.sum();
  }

  /** Saves refused because another request moved the version. */
  public long conflicts() {
    return conflicts.sum();
  }

  public long nearCacheHits() {
    return nearCacheHits.sum();
  }

  public long nearCacheMisses() {
    return nearCacheMisses.sum();
  }

  /** Writes given up after the bounded retries (each is also logged at error level). */
  public long droppedWrites() {
    return droppedWrites.sum();
  }

  public void warning() {
    warnings.increment();
  }

  public void retry() {
    retries.increment();
  }

  public void conflict() {
    conflicts.increment();
  }

  public void droppedWrite() {
    droppedWrites.increment();
  }

  void hit() {
    nearCacheHits.increment();
  }

  void miss() {
    nearCacheMisses.increment();
  }

  @Override
  public String toString() {
    return "SessionStoreCounters{warnings=" + warnings() + ", retries=" + retries() + ", conflicts=" + conflicts()
        + ", nearCacheHits=" + nearCacheHits() + ", nearCacheMisses=" + nearCacheMisses() + ", droppedWrites="
        + droppedWrites() + "}";
  }
}
