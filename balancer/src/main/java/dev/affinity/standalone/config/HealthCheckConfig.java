package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * A target group's active health check. YAML {@code matcher} is one status ({@code "200"}) or a
 * range ({@code "200-399"}).
 */
public record HealthCheckConfig(
    boolean enabled,
    String path,
    Duration interval,
    Duration timeout,
    int healthyThreshold,
    int unhealthyThreshold,
    int matcherLow,
    int matcherHigh) {
  public static final String DEFAULT_PATH = "/";
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
  public static final int DEFAULT_THRESHOLD = 2;
  public static final int DEFAULT_MATCHER_LOW = 200;
  public static final int DEFAULT_MATCHER_HIGH = 399;

  public HealthCheckConfig {
    requireNonNull(path, "path");
    requireNonNull(interval, "interval");
    requireNonNull(timeout, "timeout");
  }

  public static HealthCheckConfig defaults() {
    return new HealthCheckConfig(true, DEFAULT_PATH, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_THRESHOLD,
        DEFAULT_THRESHOLD, DEFAULT_MATCHER_LOW, DEFAULT_MATCHER_HIGH);
  }

  /** True when this status counts as healthy. */
  public boolean matches(int status) {
    return status >= matcherLow && status <= matcherHigh;
  }
}
