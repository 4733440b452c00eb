package dev.affinity.observe;

import java.time.Instant;

/**
 * One finished exchange, as the access log and the metrics see it: who asked what, where the
 * balancer sent it and why, what came back and how long each part took. Strings are {@code null}
 * where they do not apply (no target for a request answered by the balancer itself, no TLS on a plain
 * listener); durations are {@code -1} where the part did not happen.
 *
 * @param time when the request's first byte arrived
 * @param client the client's address and port, as trusted proxies described it when the peer is one
 * @param listener the local address and port the request came in on
 * @param uri the path and query, as received
 * @param protocol {@code HTTP/1.1}, {@code HTTP/2.0}...
 * @param host the Host header (or HTTP/2 {@code :authority})
 * @param routing how the target was chosen: {@code sticky_hit}, {@code route_cookie}, {@code new_client},
 *     {@code repin}, {@code unpinned}, {@code no_target}; {@code null} for requests no target was asked for
 * @param previousTarget the target the client was pinned to before this exchange moved it
 * @param invalidCookie why the client's affinity cookie was treated as absent ({@code tampered},
 *     {@code expired}, {@code unknown_key}...), or {@code null}: tells an invalid cookie from a new client
 * @param attempts tries at targets (more than 1 after a resend or failover), 0 when none was tried
 * @param status the status the client got
 * @param targetStatus the status the (last) target answered, or -1 when none answered
 * @param bytesIn request body bytes read from the client
 * @param bytesOut response body bytes written to the client
 * @param requestNanos from the first byte of the request until it was sent to a target (or answered by the balancer)
 * @param targetNanos from sending to the target until its answer's headers arrived
 * @param responseNanos from the target's answer headers until the last byte went to the client
 * @param tlsProtocol {@code TLSv1.3}..., or {@code null} without TLS
 * @param tlsCipher the cipher suite, or {@code null} without TLS
 * @param rule the name of the listener rule that matched the request ({@link dev.affinity.rules.Rule#name()}),
 *     or {@code null} when none did (no rules, the default action, a path refused before matching)
 */
public record ExchangeRecord(
    Instant time,
    String client,
    String listener,
    String method,
    String uri,
    String protocol,
    String host,
    String userAgent,
    String referer,
    String group,
    String target,
    String routing,
    String previousTarget,
    String invalidCookie,
    int attempts,
    int status,
    int targetStatus,
    long bytesIn,
    long bytesOut,
    long requestNanos,
    long targetNanos,
    long responseNanos,
    String tlsProtocol,
    String tlsCipher,
    String requestId,
    String traceparent,
    String rule) {

  /** A record without a rule: for observers and tests written before listener rules. */
  public ExchangeRecord(Instant time, String client, String listener, String method, String uri, String protocol, String host,
      String userAgent, String referer, String group, String target, String routing, String previousTarget,
      String invalidCookie, int attempts, int status, int targetStatus, long bytesIn, long bytesOut, long requestNanos,
      long targetNanos, long responseNanos, String tlsProtocol, String tlsCipher, String requestId, String traceparent) {
    this(time, client, listener, method, uri, protocol, host, userAgent, referer, group, target, routing, previousTarget,
        invalidCookie, attempts, status, targetStatus, bytesIn, bytesOut, requestNanos, targetNanos, responseNanos, tlsProtocol,
        tlsCipher, requestId, traceparent, null);
  }

  /** From the first request byte to the last response byte. */
  public long totalNanos() {
    return Math.max(0, requestNanos) + Math.max(0, targetNanos) + Math.max(0, responseNanos);
  }
}
