package dev.affinity.rules;

import java.net.InetAddress;
import java.util.List;

/**
 * What rules look at in a request. Adapters implement it over their own request type; nothing here is
 * decoded or normalised yet, so that every adapter hands rules the same bytes the client sent and the
 * decoding happens once, in core ({@link RequestPath}).
 */
public interface RuleRequest {
  /** The Host the client asked for, as sent (may carry {@code :port}, any case), or {@code null}. */
  String host();

  /** The method as sent, e.g. {@code GET}. */
  String method();

  /** The path as sent: still percent-encoded, without the query; never {@code null} ({@code "/"} at least). */
  String rawPath();

  /** The query as sent, without {@code '?'}, or {@code null}. */
  String rawQuery();

  /** All values of a header (name case-insensitive); empty when absent. */
  List<String> headers(String name);

  /** The client, already resolved through trusted proxies by the adapter; {@code null} when unknown. */
  InetAddress sourceAddress();
}
