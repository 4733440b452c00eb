package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/**
 * The admin endpoints (status page, JSON, metrics, target admin).
 *
 * @param path default {@value #DEFAULT_PATH}; starts with {@code /} and is not {@code /}
 * @param loopbackOnly default true: only clients on a loopback address may use them
 * @param port {@code null} to serve them on the balancer's own listener
 */
public record AdminConfig(String path, boolean loopbackOnly, Integer port) {
  public static final String DEFAULT_PATH = "/affinity";

  public AdminConfig {
    requireNonNull(path, "path");
  }

  public static AdminConfig defaults() {
    return new AdminConfig(DEFAULT_PATH, true, null);
  }
}
