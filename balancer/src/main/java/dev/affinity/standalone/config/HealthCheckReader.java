package dev.affinity.standalone.config;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.TargetProtocol;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code healthCheck: { enabled, path, interval, timeout, healthyThreshold, unhealthyThreshold, matcher, grpcService }}.
 * {@code path} and {@code matcher} are HTTP's, refused in a {@code GRPC} group (its check is a fixed gRPC call
 * answered with a gRPC status); {@code grpcService} is gRPC's, refused in any other group.
 */
final class HealthCheckReader {
  private static final Pattern PATH = Pattern.compile("/[A-Za-z0-9\\-._~!$&'()*+,;=:@/%?]{0,2047}");
  private static final Pattern MATCHER = Pattern.compile("([0-9]{3})(?:\\s*-\\s*([0-9]{3}))?");
  private static final Pattern GRPC_SERVICE = Pattern.compile("[A-Za-z0-9._-]{0," + HealthCheckSettings.MAX_GRPC_SERVICE_LENGTH + "}");
  private static final Duration MIN_INTERVAL = Duration.ofMillis(100);
  private static final Duration MAX_INTERVAL = Duration.ofMinutes(5);
  static final Schema SCHEMA = Schema.keys("enabled", "path", "interval", "timeout", "healthyThreshold",
      "unhealthyThreshold", "matcher", "grpcService");

  private HealthCheckReader() {}

  static HealthCheckConfig read(YamlNode node, TargetProtocol protocol) {
    YamlNode.Mapping s = node.map(SCHEMA);
    HealthCheckConfig d = HealthCheckConfig.defaults();
    boolean grpc = protocol == TargetProtocol.GRPC;
    for (String httpOnly : new String[] {"path", "matcher"}) {
      if (grpc && s.has(httpOnly)) {
        throw s.get(httpOnly).error("does not apply to a GRPC group: its health check is the call "
            + "grpc.health.v1.Health/Check, healthy when it answers SERVING; name the service with grpcService (\"\" or absent: the whole server)");
      }
    }
    String grpcService = "";
    if (s.has("grpcService")) {
      YamlNode g = s.get("grpcService");
      if (!grpc) {
        throw g.error("applies only to a group with protocolVersion: GRPC (this one is " + protocol + ")");
      }
      grpcService = g.string();
      if (!GRPC_SERVICE.matcher(grpcService).matches()) {
        throw g.error("must be a gRPC service name such as my.package.Cart (letters, digits, '.', '_', '-', up to "
            + HealthCheckSettings.MAX_GRPC_SERVICE_LENGTH + "), or \"\" for the whole server, got " + YamlNode.quote(grpcService));
      }
    }
    boolean enabled = !s.has("enabled") || s.get("enabled").bool();
    String path = d.path();
    if (s.has("path")) {
      YamlNode p = s.get("path");
      path = p.string();
      if (!PATH.matcher(path).matches()) {
        throw p.error("must start with / and hold only URI path and query characters, got " + YamlNode.quote(path));
      }
    }
    Duration interval = s.has("interval")
        ? s.get("interval").duration(MIN_INTERVAL, MAX_INTERVAL, "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M)")
        : d.interval();
    Duration timeout = s.has("timeout")
        ? s.get("timeout").duration(Duration.ofMillis(1), MAX_INTERVAL, "must be between 1 millisecond (PT0.001S) and 5 minutes (PT5M)")
        : d.timeout();
    if (timeout.compareTo(interval) >= 0) {
      if (s.has("timeout")) {
        throw s.get("timeout").error("must be shorter than the interval (" + interval
            + (s.has("interval") ? "" : ", the default") + "), got " + timeout);
      }
      throw s.get("interval").error("must be longer than the timeout (" + timeout
          + ", the default; set a shorter timeout too), got " + interval);
    }
    int healthy = s.has("healthyThreshold") ? s.get("healthyThreshold").integer(1, 10) : d.healthyThreshold();
    int unhealthy = s.has("unhealthyThreshold") ? s.get("unhealthyThreshold").integer(1, 10) : d.unhealthyThreshold();
    int low = d.matcherLow();
    int high = d.matcherHigh();
    if (s.has("matcher")) {
      YamlNode m = s.get("matcher");
      String value = m.string().trim();
      Matcher matcher = MATCHER.matcher(value);
      String rule = "must be one HTTP status (\"200\") or a range (\"200-399\") within 100-599, got " + YamlNode.quote(value);
      if (!matcher.matches()) {
        throw m.error(rule);
      }
      low = Integer.parseInt(matcher.group(1));
      high = matcher.group(2) == null ? low : Integer.parseInt(matcher.group(2));
      if (low < 100 || high > 599 || low > high) {
        throw m.error(rule);
      }
    }
    return new HealthCheckConfig(enabled, path, interval, timeout, healthy, unhealthy, low, high, grpcService);
  }
}
