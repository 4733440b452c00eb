package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Objects;

/**
 * Waits for what a test is not told of directly: a counter, a gauge or a pool that another thread
 * (a selector, a drain, a target's far end) changes after the step the test took. Polls every few
 * milliseconds and fails, naming what it waited for, when the time runs out. The limits are generous
 * because only a failing test waits them out.
 */
final class Eventually {
  /** How long {@link #await(Condition)} and {@link #await(String, Condition)} wait. */
  static final Duration LIMIT = Duration.ofSeconds(20);

  private static final long POLL_MILLIS = 5;

  /** A check that may throw (a probe over a socket, a status read). */
  @FunctionalInterface
  interface Condition {
    boolean holds() throws Exception;
  }

  /** A value read again on every poll. */
  @FunctionalInterface
  interface Value<T> {
    T get() throws Exception;
  }

  private Eventually() {}

  static void await(Condition condition) throws Exception {
    await("the condition", LIMIT, condition);
  }

  static void await(String what, Condition condition) throws Exception {
    await(what, LIMIT, condition);
  }

  /** Waits until {@code condition} holds; returns how long that took. */
  static Duration await(String what, Duration limit, Condition condition) throws Exception {
    long start = System.nanoTime();
    long deadline = start + limit.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within " + limit + ": " + what);
      }
      Thread.sleep(POLL_MILLIS);
    }
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Waits until {@code value} equals {@code expected}; if it never does, fails with the last value read. */
  static <T> void awaitEquals(String what, Value<T> value, T expected) throws Exception {
    awaitMatch(what, value, () -> expected);
  }

  /** As {@link #awaitEquals(String, Value, Object)}, for an expectation that changes too (a count of arrivals). */
  static <T> void awaitMatch(String what, Value<T> value, Value<T> expected) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    T last = value.get();
    while (!Objects.equals(last, expected.get()) && System.nanoTime() - deadline < 0) {
      Thread.sleep(POLL_MILLIS);
      last = value.get();
    }
    assertThat(last).as(what).isEqualTo(expected.get());
  }
}
