package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The direct relay's pool, with a hand-moved ticker, real loopback sockets, and connections on the
 * selector of a real Jetty server connector.
 */
class TargetConnectionsTest {
  private static final Duration MAX_IDLE = Duration.ofSeconds(4);
  private static final long MAX_IDLE_NANOS = MAX_IDLE.toNanos();
  private static final int CONNECT_TIMEOUT = 1000;

  private final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  private final List<Socket> accepted = new CopyOnWriteArrayList<>();
  private ServerSocket target;
  private ServerSocket otherServer;
  private URI origin;
  private URI otherOrigin;
  private TargetConnections pool;
  private Server jetty;
  private ServerConnector server;
  private ManagedSelector selector;

  @BeforeEach
  void listen() throws Exception {
    jetty = new Server();
    server = new ServerConnector(jetty, 1, 1);
    server.setHost("127.0.0.1");
    jetty.addConnector(server);
    jetty.start();
    selector = server.getSelectorManager().getBeans(ManagedSelector.class).iterator().next();
    target = listener();
    otherServer = listener();
    origin = URI.create("http://127.0.0.1:" + target.getLocalPort());
    otherOrigin = URI.create("http://127.0.0.1:" + otherServer.getLocalPort());
    pool = new TargetConnections(ticker::get, MAX_IDLE);
  }

  @AfterEach
  void close() throws Exception {
    pool.close();
    target.close();
    otherServer.close();
    jetty.stop();
    for (Socket s : accepted) {
      s.close();
    }
  }

  private ServerSocket listener() throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      while (!s.isClosed()) {
        try {
          accepted.add(s.accept());
        } catch (IOException e) {
          return;
        }
      }
    }, "pool-test-acceptor");
    t.setDaemon(true);
    t.start();
    return s;
  }

  /** What the balancer does: an idle connection, or a new one. */
  private TargetConnection take(URI to) throws Exception {
    TargetConnection idle = pool.acquire(to);
    return idle != null ? idle : opened(opening -> pool.open(to, CONNECT_TIMEOUT, selector, server, opening));
  }

  /** Waits for a connect to end; throws what it failed with. */
  private static TargetConnection opened(java.util.function.Consumer<TargetConnection.Opening> connect) throws Exception {
    CompletableFuture<TargetConnection> result = new CompletableFuture<>();
    connect.accept(new TargetConnection.Opening() {
      @Override
      public void opened(TargetConnection connection) {
        result.complete(connection);
      }

      @Override
      public void failed(Throwable failure) {
        result.completeExceptionally(failure);
      }
    });
    try {
      return result.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
  }

  private void advance(long nanos) {
    ticker.addAndGet(nanos);
  }

  private void awaitAccepted(int n) throws Exception {
    Eventually.awaitEquals("connections the target accepted", accepted::size, n);
  }


  @Test
  void releasedConnectionIsReusedWithinMaxIdle() throws Exception {
    TargetConnection first = take(origin);
    assertThat(first.reused).isFalse();
    assertThat(first.origin).isEqualTo(origin);
    pool.release(first);
    assertThat(pool.idleCount()).isEqualTo(1);
    advance(MAX_IDLE_NANOS); // exactly maxIdle: still young enough
    TargetConnection again = take(origin);
    assertThat(again).isSameAs(first);
    assertThat(again.reused).isTrue();
    assertThat(again.isOpen()).isTrue();
    assertThat(pool.idleCount()).isZero();
    awaitAccepted(1);
  }

  @Test
  void connectionIdleLongerThanMaxIdleIsClosedAndANewOneOpened() throws Exception {
    TargetConnection first = take(origin);
    pool.release(first);
    advance(MAX_IDLE_NANOS + 1);
    TargetConnection next = take(origin);
    assertThat(next).isNotSameAs(first);
    assertThat(next.reused).isFalse();
    assertThat(first.isOpen()).isFalse();
    assertThat(next.isOpen()).isTrue();
    awaitAccepted(2);
  }

  @Test
  void connectionClosedWhileIdleIsNotHandedOut() throws Exception {
    TargetConnection first = take(origin);
    pool.release(first);
    first.close();
    assertThat(pool.acquire(origin)).isNull();
    TargetConnection next = take(origin);
    assertThat(next).isNotSameAs(first);
    assertThat(next.reused).isFalse();
  }

  @Test
  void mostRecentlyReleasedComesFirst() throws Exception {
    TargetConnection a = take(origin);
    TargetConnection b = take(origin);
    pool.release(a);
    advance(1_000);
    pool.release(b);
    assertThat(take(origin)).isSameAs(b);
    assertThat(take(origin)).isSameAs(a);
    // The pool is empty now: a third acquire connects anew.
    TargetConnection c = take(origin);
    assertThat(c).isNotSameAs(a).isNotSameAs(b);
    awaitAccepted(3);
  }

  @Test
  void connectionsAreKeptPerOrigin() throws Exception {
    TargetConnection here = take(origin);
    pool.release(here);
    TargetConnection there = take(otherOrigin);
    assertThat(there).isNotSameAs(here);
    assertThat(there.origin).isEqualTo(otherOrigin);
    pool.release(there);
    assertThat(pool.idleCount()).isEqualTo(2);
    assertThat(take(origin)).isSameAs(here);
    assertThat(take(otherOrigin)).isSameAs(there);
  }

  @Test
  void sweepClosesOnlyExpiredIdleConnections() throws Exception {
    TargetConnection old = take(origin);
    TargetConnection young = take(otherOrigin);
    pool.release(old);
    advance(MAX_IDLE_NANOS / 2);
    pool.release(young);
    pool.sweep();
    assertThat(pool.idleCount()).isEqualTo(2);
    advance(MAX_IDLE_NANOS / 2 + 1);
    pool.sweep();
    assertThat(pool.idleCount()).isEqualTo(1);
    assertThat(old.isOpen()).isFalse();
    assertThat(young.isOpen()).isTrue();
    advance(MAX_IDLE_NANOS);
    pool.sweep();
    assertThat(pool.idleCount()).isZero();
    assertThat(young.isOpen()).isFalse();
  }

  @Test
  void releaseClosesExpiredConnectionsAtTheTail() throws Exception {
    TargetConnection a = take(origin);
    TargetConnection b = take(origin);
    pool.release(a);
    advance(MAX_IDLE_NANOS + 1);
    pool.release(b);
    assertThat(pool.idleCount()).isEqualTo(1);
    assertThat(a.isOpen()).isFalse();
    assertThat(b.isOpen()).isTrue();
  }

  @Test
  void closeClosesIdleAndBusyConnectionsAndRefusesNewOnes() throws Exception {
    TargetConnection idle = take(origin);
    TargetConnection busy = take(origin);
    pool.release(idle);
    pool.close();
    assertThat(idle.isOpen()).isFalse();
    assertThat(busy.isOpen()).isFalse();
    assertThat(pool.idleCount()).isZero();
    assertThat(pool.openCount()).isZero();
    TargetConnection late = opened(opening -> TargetConnection.open(origin, CONNECT_TIMEOUT, selector, server, pool, opening));
    pool.release(late);
    assertThat(late.isOpen()).as("released after close: closed, not pooled").isFalse();
    assertThat(pool.idleCount()).isZero();
    assertThatThrownBy(() -> take(origin)).isInstanceOf(IOException.class).hasMessageContaining("stopping");
  }

  @Test
  void refusedConnectFailsWithAConnectException() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    URI dead = URI.create("http://127.0.0.1:" + port);
    assertThatThrownBy(() -> take(dead)).isInstanceOf(java.net.ConnectException.class)
        .satisfies(e -> assertThat(Upstream.isConnectFailure(e)).isTrue());
    assertThat(pool.openCount()).isZero();
  }

  /**
   * A target that takes no more connections (its accept queue full: the kernel drops the handshake) fails
   * the connect when its time is up, as refused (the retry rule moves the request on), and no thread
   * waited for it meanwhile: the connect is the selector's to finish.
   */
  @Test
  void aConnectTheTargetNeverAnswersFailsAfterTheConnectTimeoutAsRefused() throws Exception {
    try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      URI swallowing = URI.create("http://127.0.0.1:" + full.getLocalPort());
      List<Socket> queued = new java.util.ArrayList<>();
      try {
        // Fill the accept queue (nobody accepts): a backlog of 1 holds about two handshakes on Linux.
        for (int i = 0; i < 8 && queued.size() < 8; i++) {
          Socket s = new Socket();
          try {
            s.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), full.getLocalPort()), 200);
            queued.add(s);
          } catch (java.net.SocketTimeoutException e) {
            s.close();
            break; // the queue is full: the next handshake goes unanswered
          }
        }
        long start = System.nanoTime();
        assertThatThrownBy(() -> opened(opening -> pool.open(swallowing, 300, selector, server, opening)))
            .isInstanceOf(java.net.SocketTimeoutException.class)
            .hasMessageContaining("timed out after 300 ms")
            .satisfies(e -> assertThat(Upstream.isConnectFailure(e)).as("classified as refused").isTrue());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(250), Duration.ofSeconds(5));
        assertThat(pool.openCount()).isZero();
      } finally {
        for (Socket s : queued) {
          s.close();
        }
      }
    }
  }

  @Test
  void connectionTheTargetClosesWhileIdleLeavesThePoolAtOnce() throws Exception {
    TargetConnection c = take(origin);
    pool.release(c);
    awaitAccepted(1);
    assertThat(pool.idleCount()).isEqualTo(1);
    // An idle connection still listens on the selector: the target's FIN is noticed without a request.
    accepted.get(0).close();
    Eventually.await("the closed connection out of the pool", () -> pool.idleCount() == 0 && pool.openCount() == 0);
    assertThat(pool.idleCount()).isZero();
    assertThat(pool.openCount()).isZero();
    assertThat(c.isOpen()).isFalse();
    assertThat(pool.acquire(origin)).isNull();
  }
}
