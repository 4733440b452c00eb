package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/** Limits for proxied WebSocket connections. */
public record WebSocketConfig(int maxMessageBytes, Duration idleTimeout) {
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);

  public WebSocketConfig {
    requireNonNull(idleTimeout, "idleTimeout");
  }

  public static WebSocketConfig defaults() {
    return new WebSocketConfig(DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_IDLE_TIMEOUT);
  }
}
