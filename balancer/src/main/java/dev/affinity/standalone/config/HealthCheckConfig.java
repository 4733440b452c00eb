package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * A target group's active health check. YAML {@code matcher} is one status ({@code "200"}) or a
 * range ({@code "200-399"}). {@code grpcService} is the service a {@code GRPC} group's
 * {@code grpc.health.v1} check asks about ({@code ""}: the server as a whole); such a group takes
 * neither {@code path} nor {@code matcher}.
 */
public record HealthCheckConfig(
    boolean enabled,
    String path,
    Duration interval,
    Duration timeout,
    int healthyThreshold,
    int unhealthyThreshold,
    int matcherLow,
    int matcherHigh,
    String grpcService) {
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
    requireNonNull(grpcService, "grpcService");
  }

  /** Without a gRPC service name. */
  public HealthCheckConfig(boolean enabled, String path, Duration interval, Duration timeout, int healthyThreshold,
      int unhealthyThreshold, int matcherLow, int matcherHigh) {
    this(enabled, path, interval, timeout, healthyThreshold, unhealthyThreshold, matcherLow, matcherHigh, "");
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
