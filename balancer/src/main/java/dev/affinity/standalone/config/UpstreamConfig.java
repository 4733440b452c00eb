package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How the balancer talks to targets.
 *
 * @param timeout how long a target may stay silent on a request before the client gets 504
 * @param connectTimeout how long connecting to a target may take before it counts as refused
 * @param directRelay whether bodyless idempotent requests to http targets take the direct relay
 */
public record UpstreamConfig(Duration timeout, Duration connectTimeout, boolean directRelay) {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

  public UpstreamConfig {
    requireNonNull(timeout, "timeout");
    requireNonNull(connectTimeout, "connectTimeout");
  }

  public static UpstreamConfig defaults() {
    return new UpstreamConfig(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, true);
  }
}
