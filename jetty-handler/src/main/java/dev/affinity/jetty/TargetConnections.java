package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.LongSupplier;

/**
 * The idle kept-alive connections to each target, most recently used first.
 *
 * <p>Last in, first out: under load the same few warm connections go round and the others age out
 * at the tail. A connection idle for longer than {@code maxIdle} is closed rather than reused, because
 * a blocking connection cannot notice that the target closed it meanwhile; the default (4 s) is below
 * the shortest keep-alive timeout common in the field (Node.js: 5 s), the classic source of a load
 * balancer's stray 502s. A target that does close one earlier is covered by a retry on a new
 * connection (see {@link AffinityBalancer}).
 *
 * <p>Time comes from an injected ticker (nanoseconds, like {@code System::nanoTime}); the owner calls
 * {@link #expireSilent()} and {@link #sweep()} periodically.
 */
final class TargetConnections implements Closeable {
  static final Duration DEFAULT_MAX_IDLE = Duration.ofSeconds(4);

  private final Map<URI, ConcurrentLinkedDeque<TargetConnection>> idle = new ConcurrentHashMap<>();
  // Every connection opened and not yet seen closed, idle or busy: what the watchdog looks at.
  private final Set<TargetConnection> open = ConcurrentHashMap.newKeySet();
  private final LongSupplier nanoTicker;
  private final long maxIdleNanos;
  private volatile boolean closed;

  TargetConnections(LongSupplier nanoTicker, Duration maxIdle) {
    this.nanoTicker = requireNonNull(nanoTicker, "nanoTicker");
    requireNonNull(maxIdle, "maxIdle");
    if (maxIdle.isNegative()) {
      throw new IllegalArgumentException("maxIdle must not be negative, got " + maxIdle);
    }
    this.maxIdleNanos = maxIdle.toNanos();
  }

  /** A kept-alive connection to {@code origin} that has not been idle too long, or a new one. */
  TargetConnection acquire(URI origin, int connectTimeoutMillis) throws IOException {
    ConcurrentLinkedDeque<TargetConnection> connections = idle.get(origin);
    if (connections != null) {
      long now = nanoTicker.getAsLong();
      for (TargetConnection c; (c = connections.pollFirst()) != null; ) {
        if (now - c.idleSince <= maxIdleNanos && c.isOpen()) {
          c.reused = true;
          return c;
        }
        c.close();
      }
    }
    return open(origin, connectTimeoutMillis);
  }

  /** Opens a new connection, whatever is idle (the retry after a kept-alive one turned out closed). */
  TargetConnection open(URI origin, int connectTimeoutMillis) throws IOException {
    TargetConnection connection = TargetConnection.open(origin, nanoTicker, connectTimeoutMillis);
    open.add(connection);
    if (closed) {
      connection.close();
      throw new IOException("the balancer is stopping");
    }
    return connection;
  }

  /** Takes back a connection that finished an exchange cleanly. */
  void release(TargetConnection connection) {
    if (closed) {
      connection.close();
      return;
    }
    long now = nanoTicker.getAsLong();
    connection.idleSince = now;
    ConcurrentLinkedDeque<TargetConnection> connections = idle.get(connection.origin);
    if (connections == null) {
      connections = idle.computeIfAbsent(connection.origin, o -> new ConcurrentLinkedDeque<>());
    }
    connections.offerFirst(connection);
    closeExpiredAtTail(connections, now);
    if (closed) {
      closeAll();
    }
  }

  /** Closes every idle connection that outlived {@code maxIdle}, for every target (also removed ones). */
  void sweep() {
    long now = nanoTicker.getAsLong();
    for (ConcurrentLinkedDeque<TargetConnection> connections : idle.values()) {
      closeExpiredAtTail(connections, now);
    }
  }

  /** Cuts every read that has waited for its target longer than its limit; forgets closed connections. */
  int expireSilent() {
    long now = nanoTicker.getAsLong();
    int expired = 0;
    for (TargetConnection c : open) {
      if (!c.isOpen()) {
        open.remove(c);
      } else if (c.expireIfSilent(now)) {
        expired++;
        open.remove(c);
      }
    }
    return expired;
  }

  /** Connections open (idle or busy) as last seen by {@link #expireSilent()}; for tests. */
  int openCount() {
    return open.size();
  }

  int idleCount() {
    int n = 0;
    for (ConcurrentLinkedDeque<TargetConnection> connections : idle.values()) {
      n += connections.size();
    }
    return n;
  }

  private void closeExpiredAtTail(ConcurrentLinkedDeque<TargetConnection> connections, long now) {
    for (TargetConnection oldest; (oldest = connections.peekLast()) != null && now - oldest.idleSince > maxIdleNanos; ) {
      if (connections.removeLastOccurrence(oldest)) {
        oldest.close();
      }
    }
  }

  /** Takes connections again after {@link #close()} (a balancer stopped and started again). */
  void reopen() {
    closed = false;
  }

  @Override
  public void close() {
    closed = true;
    closeAll();
  }

  private void closeAll() {
    for (ConcurrentLinkedDeque<TargetConnection> connections : idle.values()) {
      for (TargetConnection c; (c = connections.pollFirst()) != null; ) {
        c.close();
      }
    }
    // Busy ones too: their reads fail and their exchanges end (the server is stopping).
    for (TargetConnection c : open) {
      c.close();
    }
    open.clear();
  }
}
