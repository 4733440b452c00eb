package dev.affinity.cookie;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** {@link CodecMetrics} as in-memory counters, for status pages, metrics exporters and tests. */
public final class CodecCounters implements CodecMetrics {
  private final LongAdder sealed = new LongAdder();
  private final LongAdder openedFresh = new LongAdder();
  private final LongAdder openedCached = new LongAdder();
  private final LongAdder[] rejected = new LongAdder[Rejection.values().length];

  CodecCounters() {
    for (int i = 0; i < rejected.length; i++) {
      rejected[i] = new LongAdder();
    }
  }

  @Override
  public void sealed() {
    sealed.increment();
  }

  @Override
  public void opened(boolean cached) {
    (cached ? openedCached : openedFresh).increment();
  }

  @Override
  public void rejected(Rejection reason) {
    rejected[reason.ordinal()].increment();
  }

  public long sealedCount() {
    return sealed.sum();
  }

  public long openedCount(boolean cached) {
    return (cached ? openedCached : openedFresh).sum();
  }

  public long rejectedCount(Rejection reason) {
    return rejected[reason.ordinal()].sum();
  }

  public long rejectedTotal() {
    long total = 0;
    for (LongAdder adder : rejected) {
      total += adder.sum();
    }
    return total;
  }

  public Map<Rejection, Long> rejections() {
    Map<Rejection, Long> map = new EnumMap<>(Rejection.class);
    for (Rejection reason : Rejection.values()) {
      map.put(reason, rejectedCount(reason));
    }
    return map;
  }
}
