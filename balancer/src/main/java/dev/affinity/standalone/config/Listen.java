package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/**
 * Where the balancer listens.
 *
 * @param host interface to bind, default {@value #DEFAULT_HOST}
 * @param port default {@value #DEFAULT_PORT}; 0 picks an ephemeral port
 * @param tls {@code null} for plain HTTP
 * @param http2 whether the listener also speaks HTTP/2 (h2c on a plain listener), default {@code true}
 */
public record Listen(String host, int port, TlsConfig tls, boolean http2) {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;

  public static final boolean DEFAULT_HTTP2 = true;

  public Listen {
    requireNonNull(host, "host");
  }

  /** With HTTP/2 at its default, on. */
  public Listen(String host, int port, TlsConfig tls) {
    this(host, port, tls, DEFAULT_HTTP2);
  }

  public static Listen defaults() {
    return new Listen(DEFAULT_HOST, DEFAULT_PORT, null);
  }
}
