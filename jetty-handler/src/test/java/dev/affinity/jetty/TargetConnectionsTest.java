package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The direct relay's pool and watchdog, with a hand-moved ticker and real loopback sockets. */
class TargetConnectionsTest {
  private static final Duration MAX_IDLE = Duration.ofSeconds(4);
  private static final long MAX_IDLE_NANOS = MAX_IDLE.toNanos();
  private static final int CONNECT_TIMEOUT = 1000;

  private final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  private final List<Socket> accepted = new CopyOnWriteArrayList<>();
  private ServerSocket server;
  private ServerSocket otherServer;
  private URI origin;
  private URI otherOrigin;
  private TargetConnections pool;

  @BeforeEach
  void listen() throws Exception {
    server = listener();
    otherServer = listener();
    origin = URI.create("http://127.0.0.1:" + server.getLocalPort());
    otherOrigin = URI.create("http://127.0.0.1:" + otherServer.getLocalPort());
    pool = new TargetConnections(ticker::get, MAX_IDLE);
  }

  @AfterEach
  void close() throws Exception {
    pool.close();
    server.close();
    otherServer.close();
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

  private void advance(long nanos) {
    ticker.addAndGet(nanos);
  }

  private void awaitAccepted(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (accepted.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    assertThat(accepted).hasSize(n);
  }

  @Test
  void releasedConnectionIsReusedWithinMaxIdle() throws Exception {
    TargetConnection first = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(first.reused).isFalse();
    assertThat(first.origin).isEqualTo(origin);
    pool.release(first);
    assertThat(pool.idleCount()).isEqualTo(1);
    advance(MAX_IDLE_NANOS); // exactly maxIdle: still young enough
    TargetConnection again = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(again).isSameAs(first);
    assertThat(again.reused).isTrue();
    assertThat(again.isOpen()).isTrue();
    assertThat(pool.idleCount()).isZero();
    awaitAccepted(1);
  }

  @Test
  void connectionIdleLongerThanMaxIdleIsClosedAndANewOneOpened() throws Exception {
    TargetConnection first = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(first);
    advance(MAX_IDLE_NANOS + 1);
    TargetConnection next = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(next).isNotSameAs(first);
    assertThat(next.reused).isFalse();
    assertThat(first.isOpen()).isFalse();
    assertThat(next.isOpen()).isTrue();
    awaitAccepted(2);
  }

  @Test
  void connectionClosedWhileIdleIsNotHandedOut() throws Exception {
    TargetConnection first = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(first);
    first.close();
    TargetConnection next = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(next).isNotSameAs(first);
    assertThat(next.reused).isFalse();
  }

  @Test
  void mostRecentlyReleasedComesFirst() throws Exception {
    TargetConnection a = pool.acquire(origin, CONNECT_TIMEOUT);
    TargetConnection b = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(a);
    advance(1_000);
    pool.release(b);
    assertThat(pool.acquire(origin, CONNECT_TIMEOUT)).isSameAs(b);
    assertThat(pool.acquire(origin, CONNECT_TIMEOUT)).isSameAs(a);
    // The pool is empty now: a third acquire connects anew.
    TargetConnection c = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(c).isNotSameAs(a).isNotSameAs(b);
    awaitAccepted(3);
  }

  @Test
  void connectionsAreKeptPerOrigin() throws Exception {
    TargetConnection here = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(here);
    TargetConnection there = pool.acquire(otherOrigin, CONNECT_TIMEOUT);
    assertThat(there).isNotSameAs(here);
    assertThat(there.origin).isEqualTo(otherOrigin);
    pool.release(there);
    assertThat(pool.idleCount()).isEqualTo(2);
    assertThat(pool.acquire(origin, CONNECT_TIMEOUT)).isSameAs(here);
    assertThat(pool.acquire(otherOrigin, CONNECT_TIMEOUT)).isSameAs(there);
  }

  @Test
  void sweepClosesOnlyExpiredIdleConnections() throws Exception {
    TargetConnection old = pool.acquire(origin, CONNECT_TIMEOUT);
    TargetConnection young = pool.acquire(otherOrigin, CONNECT_TIMEOUT);
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
    TargetConnection a = pool.acquire(origin, CONNECT_TIMEOUT);
    TargetConnection b = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(a);
    advance(MAX_IDLE_NANOS + 1);
    pool.release(b);
    assertThat(pool.idleCount()).isEqualTo(1);
    assertThat(a.isOpen()).isFalse();
    assertThat(b.isOpen()).isTrue();
  }

  @Test
  void closeClosesIdleAndBusyConnectionsAndRefusesNewOnes() throws Exception {
    TargetConnection idle = pool.acquire(origin, CONNECT_TIMEOUT);
    TargetConnection busy = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(idle);
    pool.close();
    assertThat(idle.isOpen()).isFalse();
    assertThat(busy.isOpen()).isFalse();
    assertThat(pool.idleCount()).isZero();
    assertThat(pool.openCount()).isZero();
    TargetConnection late = TargetConnection.open(origin, ticker::get, CONNECT_TIMEOUT);
    pool.release(late);
    assertThat(late.isOpen()).as("released after close: closed, not pooled").isFalse();
    assertThat(pool.idleCount()).isZero();
    assertThatThrownBy(() -> pool.acquire(origin, CONNECT_TIMEOUT)).isInstanceOf(IOException.class);
  }

  @Test
  void refusedConnectFailsWithAConnectException() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    URI dead = URI.create("http://127.0.0.1:" + port);
    assertThatThrownBy(() -> pool.acquire(dead, CONNECT_TIMEOUT)).isInstanceOf(java.net.ConnectException.class)
        .satisfies(e -> assertThat(Upstream.isConnectFailure(e)).isTrue());
    assertThat(pool.openCount()).isZero();
  }

  @Test
  void watchdogLeavesConnectionsThatAreNotReadingAlone() throws Exception {
    TargetConnection c = pool.acquire(origin, CONNECT_TIMEOUT);
    assertThat(c.expireIfSilent(Long.MAX_VALUE)).isFalse();
    pool.release(c);
    advance(TimeUnit.HOURS.toNanos(1));
    assertThat(pool.expireSilent()).isZero();
    assertThat(c.isOpen()).isTrue();
  }

  @Test
  void watchdogCutsAReadThatWaitedLongerThanTheSilenceLimit() throws Exception {
    CountDownLatch reading = new CountDownLatch(1);
    long t0 = 5_000_000_000L;
    // The connection's ticker: the reading thread asks it for the time just before it blocks.
    TargetConnection c = TargetConnection.open(origin, () -> {
      reading.countDown();
      return t0;
    }, CONNECT_TIMEOUT);
    long limit = TimeUnit.MILLISECONDS.toNanos(500);
    CompletableFuture<Boolean> read = CompletableFuture.supplyAsync(() -> {
      try {
        return c.readResponse(false, limit, null, (status, headers) -> { });
      } catch (IOException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
    assertThat(reading.await(2, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(50); // the read is blocked by now
    assertThat(c.expireIfSilent(t0 + limit)).as("exactly at the limit").isFalse();
    assertThat(c.isOpen()).isTrue();
    assertThat(c.expireIfSilent(t0 + limit + 1)).isTrue();
    assertThat(c.isOpen()).isFalse();
    assertThatThrownBy(() -> read.get(2, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(SocketTimeoutException.class).hasMessageContaining("sent nothing for more than 500 ms");
  }

  @Test
  void expireSilentCutsOnlyTheSilentReadsAmongThePoolsConnections() throws Exception {
    TargetConnection waiting = pool.acquire(origin, CONNECT_TIMEOUT);
    TargetConnection idle = pool.acquire(origin, CONNECT_TIMEOUT);
    pool.release(idle);
    long limit = TimeUnit.MILLISECONDS.toNanos(100);
    CompletableFuture<Throwable> read = CompletableFuture.supplyAsync(() -> {
      try {
        waiting.readResponse(false, limit, null, (status, headers) -> { });
        return null;
      } catch (IOException e) {
        return e;
      }
    });
    // Until the read has begun and the ticker has moved past the limit, nothing is cut.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    int expired = 0;
    while (expired == 0 && System.nanoTime() < deadline) {
      expired = pool.expireSilent();
      if (expired == 0) {
        advance(limit + 1);
        Thread.sleep(5);
      }
    }
    assertThat(expired).isEqualTo(1);
    assertThat(read.get(2, TimeUnit.SECONDS)).isInstanceOf(SocketTimeoutException.class);
    assertThat(waiting.isOpen()).isFalse();
    assertThat(idle.isOpen()).isTrue();
    assertThat(pool.openCount()).isEqualTo(1);
  }
}
