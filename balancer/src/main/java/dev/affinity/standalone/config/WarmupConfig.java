package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * {@code warmup: { enabled, requests, timeout }}: before its listeners open, the launcher sends requests
 * through a copy of the balancer to a stub target on the loopback interface, so that the JIT compiles the
 * hot path on its own time rather than on the first clients' (see the launcher's {@code Warmup}).
 *
 * @param enabled whether the warm-up runs at all
 * @param requests at most this many warm-up requests (it usually ends sooner: once the JIT compiler is idle)
 * @param timeout at most this long: the start is never delayed by more
 */
public record WarmupConfig(boolean enabled, int requests, Duration timeout) {
  /**
   * A cap, not a target: the warm-up ends as soon as the JIT has compiled what this traffic needs, which
   * measured at 10 000 to 40 000 requests on one core.
   */
  public static final int DEFAULT_REQUESTS = 100_000;
  /** What a start may cost at most; the takeover's successor spends it while the old process still serves. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  public static final int MAX_REQUESTS = 10_000_000;
  public static final Duration MAX_TIMEOUT = Duration.ofMinutes(5);

  public WarmupConfig {
    requireNonNull(timeout, "timeout");
    if (requests < 1 || requests > MAX_REQUESTS) {
      throw new IllegalArgumentException("requests must be between 1 and " + MAX_REQUESTS + ", got " + requests);
    }
    if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(MAX_TIMEOUT) > 0) {
      throw new IllegalArgumentException("timeout must be above 0 and at most " + MAX_TIMEOUT + ", got " + timeout);
    }
  }

  /** On, with a cap of {@value #DEFAULT_REQUESTS} requests and {@link #DEFAULT_TIMEOUT}. */
  public static WarmupConfig defaults() {
    return new WarmupConfig(true, DEFAULT_REQUESTS, DEFAULT_TIMEOUT);
  }

  /** No warm-up: the listeners open as soon as the balancer is built. */
  public static WarmupConfig off() {
    return new WarmupConfig(false, DEFAULT_REQUESTS, DEFAULT_TIMEOUT);
  }
}
