package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/**
 * Where the balancer listens.
 *
 * @param host interface to bind, default {@value #DEFAULT_HOST}
 * @param port default {@value #DEFAULT_PORT}; 0 picks an ephemeral port
 * @param tls {@code null} for plain HTTP
 * @param proxyProtocol whether the listener takes PROXY protocol v1/v2 (required from {@code trustedProxies},
 *     refused from everyone else); default false
 */
public record Listen(String host, int port, TlsConfig tls, boolean proxyProtocol) {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;

  public Listen {
    requireNonNull(host, "host");
  }

  /** Without PROXY protocol. */
  public Listen(String host, int port, TlsConfig tls) {
    this(host, port, tls, false);
  }

  public static Listen defaults() {
    return new Listen(DEFAULT_HOST, DEFAULT_PORT, null);
  }
}
