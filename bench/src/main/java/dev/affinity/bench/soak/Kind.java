package dev.affinity.bench.soak;

/** What one client of the soak does; each kind's latencies and errors are kept apart. */
enum Kind {
  /** A GET from a client with a cookie jar (pinned after its first answer). */
  STICKY_GET(true, false),
  /** A GET from a client never seen before (no cookie). */
  NEW_GET(true, false),
  /** A POST with a 1-16 KB body from a pinned client: not idempotent, so its errors are counted apart. */
  POST(false, false),
  /** A WebSocket upgrade (a GET) from a pinned client. */
  WS_UPGRADE(true, false),
  /** One echo round trip on an open WebSocket. */
  WS_ECHO(false, false),
  /** A GET whose affinity cookie is junk (random bytes, wrong lengths). */
  JUNK_COOKIE(false, true),
  /** A GET whose affinity cookie is a real token with one character changed. */
  FORGED_COOKIE(false, true),
  /** A GET with 1000 {@code AFFINITY-n} shard cookies. */
  SHARDS_1000(false, true),
  /** A GET with a 40 KB header, past {@code limits.maxRequestHeaderBytes}: 431 expected. */
  OVERSIZED_HEADER(false, true),
  /** One of 32 GETs written on one connection in a single write, read back in order. */
  PIPELINED(false, true),
  /** A request head trickled a byte at a time: the balancer must close it within its head timeout. */
  SLOWLORIS(false, true);

  final boolean idempotent;
  final boolean hostile;

  Kind(boolean idempotent, boolean hostile) {
    this.idempotent = idempotent;
    this.hostile = hostile;
  }

  String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
