package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * An active health check as ALB configures one: a path probed every interval, a timeout, and how
 * many results in a row flip a target between healthy and unhealthy. {@code passiveEjection} is how
 * long a target that refused a connection is kept out when no active check will bring it back sooner.
 *
 * <p>For a {@link TargetProtocol#GRPC} group the probe is a {@code grpc.health.v1.Health/Check} call
 * asking about {@code grpcService} ({@code ""}, the default, is the server as a whole); {@code path} and
 * the matcher then do not apply (the call's path is fixed and its answer is a gRPC status).
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
    Duration passiveEjection,
    String grpcService) {
  /** Longest {@code grpcService} name taken (gRPC service names are short dotted identifiers). */
  public static final int MAX_GRPC_SERVICE_LENGTH = 256;

  public HealthCheckSettings {
    requireNonNull(grpcService, "grpcService");
    if (grpcService.length() > MAX_GRPC_SERVICE_LENGTH || !grpcService.chars().allMatch(HealthCheckSettings::isServiceChar)) {
      throw new IllegalArgumentException("grpcService must be a gRPC service name of at most " + MAX_GRPC_SERVICE_LENGTH
          + " letters, digits, '.', '_' or '-' (\"\" for the whole server), got \"" + grpcService + "\"");
    }
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

  /** Without a gRPC service name: {@code ""}, the server as a whole. */
  public HealthCheckSettings(boolean enabled, String path, Duration interval, Duration timeout, int healthyThreshold,
      int unhealthyThreshold, int matcherLow, int matcherHigh, Duration passiveEjection) {
    this(enabled, path, interval, timeout, healthyThreshold, unhealthyThreshold, matcherLow, matcherHigh, passiveEjection, "");
  }

  /** The same settings, asking a gRPC server about {@code service} ({@code ""}: the server as a whole). */
  public HealthCheckSettings withGrpcService(String service) {
    return new HealthCheckSettings(enabled, path, interval, timeout, healthyThreshold, unhealthyThreshold, matcherLow, matcherHigh,
        passiveEjection, service);
  }

  private static boolean isServiceChar(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  }

  /** GET / every 10 s, 5 s timeout, 2 in a row either way, 200-399 is healthy, 10 s passive ejection. */
  public static HealthCheckSettings defaults() {
    return new HealthCheckSettings(true, "/", Duration.ofSeconds(10), Duration.ofSeconds(5), 2, 2, 200, 399, Duration.ofSeconds(10));
  }

  public boolean matches(int status) {
    return status >= matcherLow && status <= matcherHigh;
  }
}
