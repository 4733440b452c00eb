package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * An active health check as ALB configures one: a path probed every interval, a timeout, and how
 * many results in a row flip a target between healthy and unhealthy. {@code passiveEjection} is how
 * long a target that refused a connection is kept out when no active check will bring it back sooner.
 */
public record HealthCheckSettings(
    boolean enabled,
    String path,
    Duration interval,
    Duration timeout,
    int healthyThreshold,
    int unhealthyThreshold,
    int matcherLow,
    int matcherHigh,
    Duration passiveEjection) {

  public HealthCheckSettings {
    requireNonNull(path, "path");
    requireNonNull(interval, "interval");
    requireNonNull(timeout, "timeout");
    requireNonNull(passiveEjection, "passiveEjection");
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("health check path must start with /, got \"" + path + "\"");
    }
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("health check interval must be positive, got " + interval);
    }
    if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(interval) > 0) {
      throw new IllegalArgumentException("health check timeout must be positive and at most the interval " + interval + ", got " + timeout);
    }
    if (healthyThreshold < 1 || healthyThreshold > 10) {
      throw new IllegalArgumentException("healthyThreshold must be between 1 and 10, got " + healthyThreshold);
    }
    if (unhealthyThreshold < 1 || unhealthyThreshold > 10) {
      throw new IllegalArgumentException("unhealthyThreshold must be between 1 and 10, got " + unhealthyThreshold);
    }
    if (matcherLow < 100 || matcherHigh > 599 || matcherLow > matcherHigh) {
      throw new IllegalArgumentException("health check matcher must be a status range within 100-599, got " + matcherLow + "-" + matcherHigh);
    }
    if (passiveEjection.isNegative()) {
      throw new IllegalArgumentException("passiveEjection must not be negative, got " + passiveEjection);
    }
  }

  /** GET / every 10 s, 5 s timeout, 2 in a row either way, 200-399 is healthy, 10 s passive ejection. */
  public static HealthCheckSettings defaults() {
    return new HealthCheckSettings(true, "/", Duration.ofSeconds(10), Duration.ofSeconds(5), 2, 2, 200, 399, Duration.ofSeconds(10));
  }

  public boolean matches(int status) {
    return status >= matcherLow && status <= matcherHigh;
  }
}
