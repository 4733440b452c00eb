package dev.affinity.balancer;

/**
 * The protocol a target group's targets are spoken to in (ALB's target group "protocol version").
 * The client's protocol does not matter: an HTTP/2 client reaches an {@link #HTTP1} group over
 * HTTP/1.1, an HTTP/1.1 client reaches an {@link #HTTP2} group over HTTP/2.
 */
public enum TargetProtocol {
  /** HTTP/1.1 (the default), over the balancer's kept-alive connections or its HTTP client. */
  HTTP1,
  /**
   * HTTP/2, health checks included: h2c with prior knowledge to {@code http://} targets, h2 over ALPN
   * to {@code https://} ones. Many requests share one connection, multiplexed.
   */
  HTTP2
}
