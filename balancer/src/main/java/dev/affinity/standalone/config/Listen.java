package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/**
 * One listener: {@code listen:} (the one-listener shorthand) or an entry of {@code listeners:}.
 *
 * @param host interface to bind, default {@value #DEFAULT_HOST}
 * @param port default {@value #DEFAULT_PORT}; 0 picks an ephemeral port
 * @param tls {@code null} for plain HTTP
 * @param redirectToHttps the HTTPS port every request is redirected to, or {@code null} for a listener that serves
 * @param proxyProtocol whether the listener takes PROXY protocol v1/v2 (required from {@code trustedProxies},
 *     refused from everyone else); default false
 */
public record Listen(String host, int port, TlsConfig tls, Integer redirectToHttps, boolean proxyProtocol) {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;

  public Listen {
    requireNonNull(host, "host");
    if (tls != null && redirectToHttps != null) {
      throw new IllegalArgumentException("a listener either serves TLS or redirects to HTTPS, not both");
    }
  }

  /** A listener that serves (plain, or TLS when {@code tls} is set), without PROXY protocol. */
  public Listen(String host, int port, TlsConfig tls) {
    this(host, port, tls, null, false);
  }

  /** Without PROXY protocol. */
  public Listen(String host, int port, TlsConfig tls, Integer redirectToHttps) {
    this(host, port, tls, redirectToHttps, false);
  }

  /** A listener that serves, with or without PROXY protocol. */
  public Listen(String host, int port, TlsConfig tls, boolean proxyProtocol) {
    this(host, port, tls, null, proxyProtocol);
  }

  public static Listen defaults() {
    return new Listen(DEFAULT_HOST, DEFAULT_PORT, null);
  }
}
