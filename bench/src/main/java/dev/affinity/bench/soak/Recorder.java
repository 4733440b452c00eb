package dev.affinity.bench.soak;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Outcomes per kind of client, in windows (one per sampling interval): latencies (measured from the
 * time the request was scheduled, not sent), errors with their reasons, 5xx answers. Thread-safe; a
 * window is swapped out whole at each interval mark.
 */
final class Recorder {
  private final AtomicReference<Window> current = new AtomicReference<>(new Window());
  private final Window total = new Window();

  void ok(Kind kind, long latencyNanos) {
    current.get().ok(kind, latencyNanos);
    total.ok(kind, latencyNanos);
  }

  /** A failed exchange: {@code reason} is one short line (status or exception class and message). */
  void error(Kind kind, long latencyNanos, String reason, boolean serverError) {
    current.get().error(kind, latencyNanos, reason, serverError);
    total.error(kind, latencyNanos, reason, serverError);
  }

  /** Ends the current window and starts the next one. */
  Window roll() {
    return current.getAndSet(new Window());
  }

  Window total() {
    return total;
  }

  static final class Window {
    private final Map<Kind, PerKind> kinds = new EnumMap<>(Kind.class);

    Window() {
      for (Kind k : Kind.values()) {
        kinds.put(k, new PerKind());
      }
    }

    void ok(Kind kind, long latencyNanos) {
      kinds.get(kind).add(latencyNanos);
    }

    void error(Kind kind, long latencyNanos, String reason, boolean serverError) {
      PerKind p = kinds.get(kind);
      p.add(latencyNanos);
      synchronized (p) {
        p.errors++;
        if (serverError) {
          p.serverErrors++;
        }
        p.reasons.merge(reason, 1L, Long::sum);
      }
    }

    PerKind get(Kind kind) {
      return kinds.get(kind);
    }

    long errors(boolean idempotentOnly) {
      long n = 0;
      for (Map.Entry<Kind, PerKind> e : kinds.entrySet()) {
        if (!idempotentOnly || e.getKey().idempotent) {
          n += e.getValue().errors();
        }
      }
      return n;
    }

    long hostileServerErrors() {
      long n = 0;
      for (Map.Entry<Kind, PerKind> e : kinds.entrySet()) {
        if (e.getKey().hostile) {
          n += e.getValue().serverErrors();
        }
      }
      return n;
    }
  }

  /** One kind's count, errors and latency distribution within a window. */
  static final class PerKind {
    private long[] latencies = new long[1024];
    private int size;
    private long errors;
    private long serverErrors;
    private final Map<String, Long> reasons = new LinkedHashMap<>();

    synchronized void add(long latencyNanos) {
      if (size == latencies.length) {
        latencies = Arrays.copyOf(latencies, size * 2);
      }
      latencies[size++] = latencyNanos;
    }

    synchronized long count() {
      return size;
    }

    synchronized long errors() {
      return errors;
    }

    synchronized long serverErrors() {
      return serverErrors;
    }

    synchronized Map<String, Long> reasons() {
      return new LinkedHashMap<>(reasons);
    }

    /** The latency at quantile {@code q} (0..1) in milliseconds, or NaN when nothing was recorded. */
    synchronized double quantileMillis(double q) {
      if (size == 0) {
        return Double.NaN;
      }
      long[] sorted = Arrays.copyOf(latencies, size);
      Arrays.sort(sorted);
      int index = (int) Math.ceil(q * size) - 1;
      return sorted[Math.max(0, Math.min(size - 1, index))] / 1e6;
    }
  }
}
