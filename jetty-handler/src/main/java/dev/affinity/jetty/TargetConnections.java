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
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.server.Connector;

/**
 * The idle kept-alive connections to each target, most recently used first.
 *
 * <p>Last in, first out: under load the same few warm connections go round and the others age out
 * at the tail. An idle connection still listens, so one the target closes leaves the pool at once;
 * one idle for longer than {@code maxIdle} is closed rather than reused anyway, because a target may
 * close it just as a request goes out. The default (4 s) is below the shortest keep-alive timeout
 * common in the field (Node.js: 5 s), the classic source of a load balancer's stray 502s. A target
 * that closes one at that very moment is covered by a resend on a new connection (see
 * {@link AffinityBalancer}).
 *
 * <p>Time comes from an injected ticker (nanoseconds, like {@code System::nanoTime}); the owner calls
 * {@link #sweep()} periodically.
 */
final class TargetConnections implements Closeable {
  static final Duration DEFAULT_MAX_IDLE = Duration.ofSeconds(4);

  private final Map<URI, ConcurrentLinkedDeque<TargetConnection>> idle = new ConcurrentHashMap<>();
  // Every connection opened and not yet closed, idle or busy: closed when the balancer stops.
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

  /** A kept-alive connection to {@code origin} that has not been idle too long, or {@code null}. */
  TargetConnection acquire(URI origin) {
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
    return null;
  }

  /**
   * Connects to {@code origin} on {@code selector}, one of {@code connector}'s, without blocking
   * ({@link TargetConnection#open}); {@code opening} hears the new connection or the failure.
   */
  void open(URI origin, int connectTimeoutMillis, ManagedSelector selector, Connector connector, TargetConnection.Opening opening) {
    TargetConnection.open(origin, connectTimeoutMillis, selector, connector, this, new TargetConnection.Opening() {
      @Override
      public void opened(TargetConnection connection) {
        open.add(connection);
        if (closed) {
          connection.close();
          TargetConnection.failOnPool(connector, opening, new IOException("the balancer is stopping"));
          return;
        }
        opening.opened(connection);
      }

      @Override
      public void failed(Throwable failure) {
        opening.failed(failure);
      }
    });
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

  /** A connection closed (by either side): it leaves the pool. */
  void closed(TargetConnection connection) {
    open.remove(connection);
    ConcurrentLinkedDeque<TargetConnection> connections = idle.get(connection.origin);
    if (connections != null) {
      connections.removeFirstOccurrence(connection);
    }
  }

  /** Closes every idle connection that outlived {@code maxIdle}, for every target (also removed ones). */
  void sweep() {
    long now = nanoTicker.getAsLong();
    for (ConcurrentLinkedDeque<TargetConnection> connections : idle.values()) {
      closeExpiredAtTail(connections, now);
    }
  }

  /** Connections open, idle or busy; for tests. */
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
    // Busy ones too: their exchanges end (the server is stopping).
    for (TargetConnection c : open) {
      c.close();
    }
    open.clear();
  }
}
