package dev.affinity.standalone.config;

import java.time.Duration;

/** {@code warmup: { enabled, requests, timeout }}; each absent key keeps its default ({@link WarmupConfig#defaults()}). */
final class WarmupReader {
  static final Schema SCHEMA = Schema.keys("enabled", "requests", "timeout");
  private static final Duration MIN_TIMEOUT = Duration.ofMillis(100);

  private WarmupReader() {}

  static WarmupConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    boolean enabled = !s.has("enabled") || s.get("enabled").bool();
    int requests = s.has("requests")
        ? s.get("requests").integer(1, WarmupConfig.MAX_REQUESTS)
        : WarmupConfig.DEFAULT_REQUESTS;
    Duration timeout = s.has("timeout")
        ? s.get("timeout").duration(MIN_TIMEOUT, WarmupConfig.MAX_TIMEOUT, "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M)")
        : WarmupConfig.DEFAULT_TIMEOUT;
    return new WarmupConfig(enabled, requests, timeout);
  }
}
