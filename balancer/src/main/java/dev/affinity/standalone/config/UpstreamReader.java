package dev.affinity.standalone.config;

import java.time.Duration;

/** {@code upstream: { timeout, connectTimeout, directRelay }}. */
final class UpstreamReader {
  private static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
  static final Schema SCHEMA = Schema.keys("timeout", "connectTimeout", "directRelay");

  private UpstreamReader() {}

  static UpstreamConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    Duration timeout = s.has("timeout") ? timeout(s.get("timeout")) : UpstreamConfig.DEFAULT_TIMEOUT;
    Duration connectTimeout = s.has("connectTimeout") ? connectTimeout(s.get("connectTimeout")) : UpstreamConfig.DEFAULT_CONNECT_TIMEOUT;
    boolean directRelay = !s.has("directRelay") || s.get("directRelay").bool();
    return new UpstreamConfig(timeout, connectTimeout, directRelay);
  }

  /** The same bounds at the top level and in a target group's {@code upstream:}. */
  static Duration timeout(YamlNode node) {
    return node.duration(MIN_TIMEOUT, Duration.ofDays(1), "must be between 100 milliseconds (PT0.1S) and 1 day (P1D)");
  }

  static Duration connectTimeout(YamlNode node) {
    return node.duration(MIN_TIMEOUT, Duration.ofMinutes(5), "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M)");
  }
}
