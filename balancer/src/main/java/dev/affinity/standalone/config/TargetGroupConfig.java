package dev.affinity.standalone.config;

import dev.affinity.balancer.PassiveHealth;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.tls.TargetTls;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import static java.util.Objects.requireNonNull;

/**
 * One target group.
 *
 * @param algorithm {@code round_robin} (default), {@code least_outstanding_requests} or {@code weighted_random}
 * @param slowStart default {@link Duration#ZERO} (off)
 * @param deregistrationDelay default 300 s
 * @param boundedLoadFactor {@code null} when bounded load is off, else above 1.0
 * @param targets may be empty (targets can be registered at run time)
 * @param protocolVersion how the balancer speaks to the targets, default {@link TargetProtocol#HTTP1}
 * @param passiveHealth when the targets' answers eject them, default {@link PassiveHealth#defaults()}
 * @param upstreamTimeout the group's own {@code upstream.timeout}, or {@code null} for the top-level one
 * @param upstreamConnectTimeout the group's own {@code upstream.connectTimeout}, or {@code null} for the top-level one
 * @param discovery where DNS discovery finds more targets for the group, or {@code null} when it has none
 * @param sharedSessions whether the targets share their sessions (a Redis-backed store): a target that comes
 *     back as another instance then keeps its pinned clients
 */
public record TargetGroupConfig(
    String name,
    String algorithm,
    StickinessConfig stickiness,
    HealthCheckConfig healthCheck,
    Duration slowStart,
    Duration deregistrationDelay,
    Double boundedLoadFactor,
    List<TargetConfig> targets,
    TargetProtocol protocolVersion,
    PassiveHealth passiveHealth,
    Duration upstreamTimeout,
    Duration upstreamConnectTimeout,
    DiscoveryConfig discovery,
    boolean sharedSessions,
    TargetTls tls) {
  public static final String ROUND_ROBIN = "round_robin";
  public static final String LEAST_OUTSTANDING_REQUESTS = "least_outstanding_requests";
  public static final String WEIGHTED_RANDOM = "weighted_random";
  /** The algorithm names, default first. */
  public static final List<String> ALGORITHMS = List.of(ROUND_ROBIN, LEAST_OUTSTANDING_REQUESTS, WEIGHTED_RANDOM);
  public static final Duration DEFAULT_SLOW_START = Duration.ZERO;
  public static final Duration DEFAULT_DEREGISTRATION_DELAY = Duration.ofSeconds(300);

  private static final Set<String> ALGORITHM_SET = Set.copyOf(ALGORITHMS);

  public TargetGroupConfig {
    requireNonNull(name, "name");
    requireNonNull(algorithm, "algorithm");
    if (!ALGORITHM_SET.contains(algorithm)) {
      throw new IllegalArgumentException("algorithm must be one of " + String.join(", ", ALGORITHMS) + ", got \"" + algorithm + "\"");
    }
    requireNonNull(stickiness, "stickiness");
    requireNonNull(healthCheck, "healthCheck");
    requireNonNull(slowStart, "slowStart");
    requireNonNull(deregistrationDelay, "deregistrationDelay");
    targets = List.copyOf(requireNonNull(targets, "targets"));
    requireNonNull(protocolVersion, "protocolVersion");
    requireNonNull(passiveHealth, "passiveHealth");
  }

  /** Without TLS settings of its own to its targets. */
  public TargetGroupConfig(String name, String algorithm, StickinessConfig stickiness, HealthCheckConfig healthCheck,
      Duration slowStart, Duration deregistrationDelay, Double boundedLoadFactor, List<TargetConfig> targets,
      TargetProtocol protocolVersion, PassiveHealth passiveHealth, Duration upstreamTimeout, Duration upstreamConnectTimeout,
      DiscoveryConfig discovery, boolean sharedSessions) {
    this(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor, targets, protocolVersion,
        passiveHealth, upstreamTimeout, upstreamConnectTimeout, discovery, sharedSessions, null);
  }

  /** Without shared sessions. */
  public TargetGroupConfig(String name, String algorithm, StickinessConfig stickiness, HealthCheckConfig healthCheck,
      Duration slowStart, Duration deregistrationDelay, Double boundedLoadFactor, List<TargetConfig> targets,
      TargetProtocol protocolVersion, PassiveHealth passiveHealth, Duration upstreamTimeout, Duration upstreamConnectTimeout,
      DiscoveryConfig discovery) {
    this(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor, targets, protocolVersion,
        passiveHealth, upstreamTimeout, upstreamConnectTimeout, discovery, false);
  }

  /** Without DNS discovery. */
  public TargetGroupConfig(String name, String algorithm, StickinessConfig stickiness, HealthCheckConfig healthCheck,
      Duration slowStart, Duration deregistrationDelay, Double boundedLoadFactor, List<TargetConfig> targets,
      TargetProtocol protocolVersion, PassiveHealth passiveHealth, Duration upstreamTimeout, Duration upstreamConnectTimeout) {
    this(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor, targets, protocolVersion,
        passiveHealth, upstreamTimeout, upstreamConnectTimeout, null);
  }

  /** With passive health at its defaults and the top-level upstream timeouts. */
  public TargetGroupConfig(String name, String algorithm, StickinessConfig stickiness, HealthCheckConfig healthCheck,
      Duration slowStart, Duration deregistrationDelay, Double boundedLoadFactor, List<TargetConfig> targets,
      TargetProtocol protocolVersion) {
    this(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor, targets, protocolVersion,
        PassiveHealth.defaults(), null, null);
  }

  /** With {@code protocolVersion} at its default, HTTP1. */
  public TargetGroupConfig(String name, String algorithm, StickinessConfig stickiness, HealthCheckConfig healthCheck,
      Duration slowStart, Duration deregistrationDelay, Double boundedLoadFactor, List<TargetConfig> targets) {
    this(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor, targets, TargetProtocol.HTTP1);
  }

  /** The same group with {@code newTargets} (runtime targets beside the configured ones). */
  public TargetGroupConfig withTargets(List<TargetConfig> newTargets) {
    return new TargetGroupConfig(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay, boundedLoadFactor,
        newTargets, protocolVersion, passiveHealth, upstreamTimeout, upstreamConnectTimeout, discovery, sharedSessions, tls);
  }
}
