package dev.affinity.standalone.config;

import dev.affinity.jetty.WebSocketProxy;
import java.time.Duration;

/** {@code websocket: { maxMessageBytes, idleTimeout }}. */
final class WebSocketReader {
  static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
  static final Schema SCHEMA = Schema.keys("maxMessageBytes", "idleTimeout");

  private WebSocketReader() {}

  static WebSocketConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    int maxMessageBytes = s.has("maxMessageBytes")
        ? s.get("maxMessageBytes").integer(WebSocketProxy.MIN_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)
        : WebSocketConfig.DEFAULT_MAX_MESSAGE_BYTES;
    Duration idleTimeout = s.has("idleTimeout")
        ? s.get("idleTimeout").duration(Duration.ofSeconds(1), Duration.ofDays(1), "must be between 1 second (PT1S) and 1 day (P1D)")
        : WebSocketConfig.DEFAULT_IDLE_TIMEOUT;
    return new WebSocketConfig(maxMessageBytes, idleTimeout);
  }
}
