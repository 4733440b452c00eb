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
  HTTP2,
  /**
   * gRPC servers: HTTP/2 as {@link #HTTP2}, with health checks that call {@code grpc.health.v1.Health/Check}
   * (an HTTP {@code GET} fails on a server that speaks only gRPC), trailers passed on, and the upstream
   * timeout bounding the wait for the answer's headers only, so that a quiet server stream stays open.
   */
  GRPC;

  /** Whether the targets are spoken to over HTTP/2 ({@link #HTTP2} and {@link #GRPC}). */
  public boolean overHttp2() {
    return this != HTTP1;
  }
}
