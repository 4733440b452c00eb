package dev.affinity.observe;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Request metrics an on-call engineer alerts on, gathered from each {@link ExchangeRecord}: a duration
 * histogram per target group and target (few fixed buckets, so a scrape stays small), responses per
 * group by status class, requests per listener. Recording allocates nothing once a group, target and
 * listener have been seen: two map lookups, a bucket search and a few {@link LongAdder} increments.
 * Exporters read it at scrape time ({@link #durations()}, {@link #responses()}, {@link #listeners()}).
 */
public final class RequestMetrics implements ExchangeObserver {
  /** Upper bounds of the duration buckets, in seconds (Prometheus' defaults); an implicit +Inf follows. */
  public static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  private static final long[] BUCKET_NANOS = Arrays.stream(BUCKETS).mapToLong(s -> (long) (s * 1e9)).toArray();
  /** The label of requests no target group took (the admin pages, a 413 before routing, a redirect). */
  public static final String NO_GROUP = "";

  private final Map<String, Map<String, Durations>> durations = new ConcurrentHashMap<>();
  private final Map<String, Responses> responses = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> listeners = new ConcurrentHashMap<>();

  @Override
  public void exchangeCompleted(ExchangeRecord exchange) {
    String group = exchange.group() == null ? NO_GROUP : exchange.group();
    responses.computeIfAbsent(group, g -> new Responses()).record(exchange.status());
    if (exchange.listener() != null) {
      listeners.computeIfAbsent(exchange.listener(), l -> new LongAdder()).increment();
    }
    if (exchange.target() != null) {
      durations.computeIfAbsent(group, g -> new ConcurrentHashMap<>())
          .computeIfAbsent(exchange.target(), t -> new Durations())
          .record(exchange.totalNanos());
    }
  }

  /** One histogram per (group, target), as last recorded. */
  public List<Histogram> durations() {
    List<Histogram> out = new ArrayList<>();
    durations.forEach((group, targets) -> targets.forEach((target, d) -> out.add(d.snapshot(group, target))));
    return out;
  }

  /** Responses per group (NO_GROUP for those no group took), by status class {@code 1xx}..{@code 5xx}. */
  public List<StatusCount> responses() {
    List<StatusCount> out = new ArrayList<>();
    responses.forEach((group, r) -> {
      for (int c = 1; c <= 5; c++) {
        out.add(new StatusCount(group, c + "xx", r.byClass[c].sum()));
      }
    });
    return out;
  }

  /** Requests per listener (its local {@code address:port}). */
  public Map<String, Long> listeners() {
    Map<String, Long> out = new java.util.TreeMap<>();
    listeners.forEach((listener, count) -> out.put(listener, count.sum()));
    return out;
  }

  /**
   * A duration histogram's state: {@code cumulativeCounts[i]} requests took at most
   * {@code BUCKETS[i]} seconds; {@code count} and {@code sumSeconds} over all.
   */
  public record Histogram(String group, String target, long[] cumulativeCounts, long count, double sumSeconds) {}

  public record StatusCount(String group, String statusClass, long count) {}

  private static final class Durations {
    final LongAdder[] buckets = new LongAdder[BUCKETS.length + 1];
    final LongAdder sumNanos = new LongAdder();

    Durations() {
      for (int i = 0; i < buckets.length; i++) {
        buckets[i] = new LongAdder();
      }
    }

    void record(long nanos) {
      int i = Arrays.binarySearch(BUCKET_NANOS, nanos);
      // A value equal to a bound belongs to that bucket (le); otherwise the first bound above it.
      buckets[i >= 0 ? i : -i - 1].increment();
      sumNanos.add(nanos);
    }

    Histogram snapshot(String group, String target) {
      long[] cumulative = new long[BUCKETS.length];
      long running = 0;
      for (int i = 0; i < BUCKETS.length; i++) {
        running += buckets[i].sum();
        cumulative[i] = running;
      }
      long count = running + buckets[BUCKETS.length].sum();
      return new Histogram(group, target, cumulative, count, sumNanos.sum() / 1e9);
    }
  }

  private static final class Responses {
    final LongAdder[] byClass = new LongAdder[6];

    Responses() {
      for (int i = 0; i < byClass.length; i++) {
        byClass[i] = new LongAdder();
      }
    }

    void record(int status) {
      int c = status / 100;
      if (c >= 1 && c <= 5) {
        byClass[c].increment();
      }
    }
  }
}
