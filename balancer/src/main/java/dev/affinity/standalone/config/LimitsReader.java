package dev.affinity.standalone.config;

import dev.affinity.jetty.Limits;
import java.time.Duration;

/**
 * {@code limits: { idleTimeout, requestHeaderTimeout, maxConnections, maxRequestHeaderBytes,
 * maxRequestBodyBytes, threads, h2MaxConcurrentStreams }}; each absent key keeps its default
 * ({@link Limits#defaults()}).
 */
final class LimitsReader {
  static final Schema SCHEMA = Schema.keys("idleTimeout", "requestHeaderTimeout", "maxConnections", "maxRequestHeaderBytes",
      "maxRequestBodyBytes", "threads", "h2MaxConcurrentStreams");
  /** Jetty's thread pool grows to this at most here: more threads than this is a misconfiguration, not a limit. */
  static final int MAX_THREADS = 10_000;

  private LimitsReader() {}

  static Limits read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    Limits.Builder limits = Limits.builder();
    if (s.has("idleTimeout")) {
      limits.idleTimeout(s.get("idleTimeout").duration(Duration.ofMillis(100), Duration.ofDays(1),
          "must be between 100 milliseconds (PT0.1S) and 1 day (P1D)"));
    }
    if (s.has("requestHeaderTimeout")) {
      limits.requestHeaderTimeout(s.get("requestHeaderTimeout").duration(Duration.ofMillis(100), Duration.ofHours(1),
          "must be between 100 milliseconds (PT0.1S) and 1 hour (PT1H)"));
    }
    if (s.has("maxConnections")) {
      limits.maxConnections(s.get("maxConnections").integer(1, 1_000_000));
    }
    if (s.has("maxRequestHeaderBytes")) {
      limits.maxRequestHeaderBytes(s.get("maxRequestHeaderBytes").integer(1024, 1024 * 1024));
    }
    if (s.has("maxRequestBodyBytes")) {
      limits.maxRequestBodyBytes(s.get("maxRequestBodyBytes").longInteger(0, Long.MAX_VALUE - 1));
    }
    if (s.has("threads")) {
      limits.threads(s.get("threads").integer(8, MAX_THREADS));
    }
    if (s.has("h2MaxConcurrentStreams")) {
      limits.h2MaxConcurrentStreams(s.get("h2MaxConcurrentStreams").integer(1, 10_000));
    }
    return limits.build();
  }
}
