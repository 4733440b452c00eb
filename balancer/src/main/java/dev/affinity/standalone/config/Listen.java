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
 * @param http2 whether the listener also speaks HTTP/2 (h2c on a plain listener, h2 over ALPN on a TLS one),
 *     default {@code true}
 */
public record Listen(String host, int port, TlsConfig tls, Integer redirectToHttps, boolean proxyProtocol, boolean http2) {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;

  public static final boolean DEFAULT_HTTP2 = true;

  public Listen {
    requireNonNull(host, "host");
    if (tls != null && redirectToHttps != null) {
      throw new IllegalArgumentException("a listener either serves TLS or redirects to HTTPS, not both");
    }
  }

  /** A listener that serves (plain, or TLS when {@code tls} is set), without PROXY protocol, HTTP/2 on. */
  public Listen(String host, int port, TlsConfig tls) {
    this(host, port, tls, null, false, DEFAULT_HTTP2);
  }

  /** Without PROXY protocol, HTTP/2 on. */
  public Listen(String host, int port, TlsConfig tls, Integer redirectToHttps) {
    this(host, port, tls, redirectToHttps, false, DEFAULT_HTTP2);
  }

  /** A listener that serves, with or without PROXY protocol, HTTP/2 on. */
  public Listen(String host, int port, TlsConfig tls, boolean proxyProtocol) {
    this(host, port, tls, null, proxyProtocol, DEFAULT_HTTP2);
  }

  public static Listen defaults() {
    return new Listen(DEFAULT_HOST, DEFAULT_PORT, null);
  }

  /** {@code host:port} as configured: the name a listener's own rules are kept under (as jetty-handler's {@code ListenerSpec.name()}). */
  public String name() {
    return host + ":" + port;
  }
}
