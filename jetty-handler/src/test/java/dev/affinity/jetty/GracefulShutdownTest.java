package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.TrustedProxies;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.api.Stream;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.frames.GoAwayFrame;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.CoreClientUpgradeRequest;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A stop under load, over real sockets: readiness turns 503 while the listeners still serve, then the
 * listeners close, kept-alive HTTP/1 clients get {@code Connection: close}, HTTP/2 clients GOAWAY,
 * WebSockets 1001, requests in flight finish, and a request still running when the grace runs out is
 * cut. The unready delay and the grace are timed on a {@link ManualScheduler}; everything else is
 * awaited as it happens.
 */
class GracefulShutdownTest extends BalancerTestBase {
  private static final long WAIT_SECONDS = 20;

  private final ManualScheduler timer = new ManualScheduler();
  private final List<HeldTarget> heldTargets = new ArrayList<>();
  private final List<Closeable> closeables = new ArrayList<>();
  private Thread stopper;
  private final CompletableFuture<Void> stopped = new CompletableFuture<>();

  @AfterEach
  void release() throws Exception {
    // Whatever a test left waiting: time runs out, held answers go, the stop ends.
    for (HeldTarget t : heldTargets) {
      t.release();
    }
    if (stopper != null) {
      timer.advance(Duration.ofHours(2));
      stopper.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    }
    for (Closeable c : closeables) {
      c.close();
    }
    for (HeldTarget t : heldTargets) {
      t.stop();
    }
  }

  /**
   * Ten clients on kept-alive connections send GETs one after another while four slow requests are
   * held in flight at the targets. A stop: readiness answers 503 on a fresh connection while the
   * clients are still served as before; after the unready delay the listener refuses new connections,
   * every client gets {@code Connection: close} on its next answer; the held requests finish when the
   * targets let them go, and the stop completes having cut nothing. No request sent on an accepted
   * connection fails.
   */
  @Test
  void underLoadEveryRequestOnAnAcceptedConnectionIsAnswered() throws Exception {
    startBalancer(new GracefulShutdown(Duration.ofSeconds(30), Duration.ofSeconds(5)), b -> { }, "a", "b");
    // Read while bound: a closed connector says -2.
    int port = balancer.port();
    List<Http1Connection> held = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Http1Connection c = connect(port);
      c.send("/held");
      held.add(c);
    }
    Eventually.await(() -> arrivedHeld() == 4);
    LoadClients load = LoadClients.start(10, port);
    Eventually.await(() -> load.answered.get() >= 200);

    stopInBackground();
    // Readiness first, on a new connection: the listener still accepts.
    Eventually.await(() -> probe(port, "/affinity/ready").status() == 503);
    assertThat(probe(port, "/affinity/live").status()).isEqualTo(200);
    assertThat(balancer.isReady()).isFalse();
    int before = load.answered.get();
    Eventually.await(() -> load.answered.get() >= before + 200);
    assertThat(load.closesSeen.get()).as("no Connection: close during the unready delay").isZero();

    timer.advance(Duration.ofSeconds(5));
    Eventually.await(() -> Http1Connection.refused(port));
    Eventually.await(() -> load.finished.get() == 10);
    System.out.println("graceful stop under load, reconnects: " + load.reconnects);
    // Each client ended on a refused connection, having been told Connection: close on an answer, or (when
    // Jetty had begun that answer before the listener closed) seen its connection closed right after it.
    assertThat(load.refused.get()).as("clients that met the closed listener (errors: %s)", load.errors).isEqualTo(10);
    assertThat(load.closesSeen.get()).as("clients told Connection: close").isPositive();
    assertThat(stopped).isNotDone();

    for (HeldTarget t : heldTargets) {
      t.release();
    }
    for (Http1Connection c : held) {
      Http1Connection.Answer answer = c.read();
      assertThat(answer.status()).isEqualTo(200);
      assertThat(answer.body()).startsWith("held by ");
      assertThat(answer.closes()).isTrue();
    }
    stopped.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(balancer.shutdownOutcome()).isEqualTo(GracefulShutdown.Outcome.complete());
    System.out.printf("graceful stop under load: %d answered, %d failed, %d told Connection: close, %d resent after a close"
        + " before any answer byte (then refused), 4 held requests answered after the listener closed%n",
        load.answered.get(), load.errors.size(), load.closesSeen.get(), load.unreadResent.get());
    assertThat(load.errors).as("failed requests on accepted connections").isEmpty();
    assertThat(load.answered.get()).isGreaterThanOrEqualTo(400);
  }

  /**
   * An h2c client gets GOAWAY when the listeners close; its stream in flight is still answered. Another
   * h2c connection with no stream open is closed by the balancer, so the stop does not wait for it.
   */
  @Test
  void anHttp2ClientGetsGoAwayAndItsStreamInFlightIsAnswered() throws Exception {
    startBalancer(new GracefulShutdown(Duration.ofSeconds(30), Duration.ZERO), b -> { }, "a");
    HTTP2Client client = new HTTP2Client();
    client.start();
    closeables.add(() -> stopQuietly(client));
    CompletableFuture<GoAwayFrame> goAway = new CompletableFuture<>();
    Session session = client.connect(new InetSocketAddress("127.0.0.1", balancer.port()), new Session.Listener() {
      @Override
      public void onGoAway(Session s, GoAwayFrame frame) {
        goAway.complete(frame);
      }
    }).get(WAIT_SECONDS, TimeUnit.SECONDS);
    CompletableFuture<Integer> status = new CompletableFuture<>();
    CompletableFuture<String> body = new CompletableFuture<>();
    MetaData.Request get = new MetaData.Request("GET", HttpURI.from(balancer.uri().resolve("/held").toString()), HttpVersion.HTTP_2,
        HttpFields.EMPTY);
    session.newStream(new HeadersFrame(get, null, true), new Stream.Listener() {
      private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

      @Override
      public void onHeaders(Stream stream, HeadersFrame frame) {
        if (frame.getMetaData() instanceof MetaData.Response response) {
          status.complete(response.getStatus());
        }
        stream.demand();
      }

      @Override
      public void onDataAvailable(Stream stream) {
        Stream.Data data = stream.readData();
        if (data == null) {
          stream.demand();
          return;
        }
        byte[] chunk = new byte[data.frame().getByteBuffer().remaining()];
        data.frame().getByteBuffer().get(chunk);
        bytes.write(chunk, 0, chunk.length);
        data.release();
        if (data.frame().isEndStream()) {
          body.complete(bytes.toString(StandardCharsets.UTF_8));
        } else {
          stream.demand();
        }
      }
    });
    Eventually.await(() -> arrivedHeld() == 1);
    CompletableFuture<GoAwayFrame> idleGoAway = new CompletableFuture<>();
    CompletableFuture<Void> idleClosed = new CompletableFuture<>();
    client.connect(new InetSocketAddress("127.0.0.1", balancer.port()), new Session.Listener() {
      @Override
      public void onGoAway(Session s, GoAwayFrame frame) {
        idleGoAway.complete(frame);
      }

      @Override
      public void onClose(Session s, GoAwayFrame frame, org.eclipse.jetty.util.Callback callback) {
        idleClosed.complete(null);
        callback.succeeded();
      }
    }).get(WAIT_SECONDS, TimeUnit.SECONDS);

    stopInBackground();
    assertThat(idleGoAway.get(WAIT_SECONDS, TimeUnit.SECONDS).getError()).isZero();
    idleClosed.get(WAIT_SECONDS, TimeUnit.SECONDS);
    GoAwayFrame frame = goAway.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(frame.getError()).as("GOAWAY NO_ERROR: a graceful one").isZero();
    assertThat(stopped).isNotDone();
    heldTargets.get(0).release();
    assertThat(status.get(WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo(200);
    assertThat(body.get(WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo("held by a");
    stopped.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(balancer.shutdownOutcome()).isEqualTo(GracefulShutdown.Outcome.complete());
  }

  /** A relayed WebSocket is closed with 1001 Going Away on both sides when the listeners close. */
  @Test
  void aWebSocketIsClosedWith1001OnBothSides() throws Exception {
    WebSocketBackends webSocketTargets = WebSocketBackends.start("ws");
    closeables.add(() -> {
      try {
        webSocketTargets.close();
      } catch (Exception e) {
        throw new IOException(e);
      }
    });
    balancer = AffinityServer.builder(rawRouter(Map.of("ws", webSocketTargets.uri("ws"))), counters).clock(clock)
        .shutdown(new GracefulShutdown(Duration.ofSeconds(30), Duration.ZERO)).shutdownTimer(timer).build().start();
    HttpClient webSocketHttp = new HttpClient();
    webSocketHttp.setHttpCookieStore(new HttpCookieStore.Empty());
    WebSocketCoreClient webSockets = new WebSocketCoreClient(webSocketHttp, new WebSocketComponents());
    webSockets.start();
    closeables.add(() -> stopQuietly(webSockets));
    WebSocketProxyTest.Endpoint endpoint = new WebSocketProxyTest.Endpoint();
    webSockets.connect(CoreClientUpgradeRequest.from(webSockets, URI.create("ws://127.0.0.1:" + balancer.port() + "/chat"), endpoint))
        .get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(endpoint.ask("who")).isEqualTo("ws");

    stopInBackground();
    CloseStatus toClient = endpoint.closed.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(toClient.getCode()).isEqualTo(CloseStatus.SHUTDOWN);
    CloseStatus toTarget = webSocketTargets.get("ws").closes.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(toTarget).isNotNull();
    assertThat(toTarget.getCode()).isEqualTo(CloseStatus.SHUTDOWN);
    stopped.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(balancer.shutdownOutcome()).isEqualTo(GracefulShutdown.Outcome.complete());
  }

  /** A request the target still holds when the grace runs out is cut, and the outcome says how much was. */
  @Test
  void aRequestStillRunningWhenTheGraceRunsOutIsCut() throws Exception {
    startBalancer(new GracefulShutdown(Duration.ofSeconds(10), Duration.ZERO), b -> { }, "a");
    int port = balancer.port();
    Http1Connection c = connect(port);
    c.send("/held");
    Eventually.await(() -> arrivedHeld() == 1);

    stopInBackground();
    Eventually.await(() -> Http1Connection.refused(port));
    timer.advance(Duration.ofSeconds(9));
    assertThat(stopped).isNotDone();
    timer.advance(Duration.ofSeconds(1));
    stopped.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(balancer.shutdownOutcome()).satisfies(outcome -> {
      assertThat(outcome.drained()).isFalse();
      // The held request's connection; a probe connection of refused() may still be closing too.
      assertThat(outcome.connectionsCut()).isBetween(1, 2);
    });
    // Cut: the connection closes without an answer (not a 502 that would blame the target).
    assertThatThrownBy(c::read).isInstanceOf(Http1Connection.NoAnswerException.class);
    assertThat(heldTargets.get(0).arrived.get()).isEqualTo(1);
  }

  /**
   * {@code ready} and {@code live} answer a client that the admin's loopback-only rule turns away (a
   * remote client relayed by a trusted proxy), on the public listener; with an admin port, on both
   * ports, and the admin port keeps answering them while the public listener is closed.
   */
  @Test
  void probesAnswerEveryClientOnThePublicListenerAndTheAdminPort() throws Exception {
    HeldTarget a = new HeldTarget("a");
    heldTargets.add(a);
    balancer = AffinityServer.builder(rawRouter(Map.of("a", a.uri())), counters).clock(clock)
        .trustedProxies(TrustedProxies.of("127.0.0.1/32"))
        .shutdown(new GracefulShutdown(Duration.ofSeconds(30), Duration.ZERO)).shutdownTimer(timer).build().start();
    String remote = "X-Forwarded-For: 203.0.113.9\r\n";
    assertThat(probe(balancer.port(), "/affinity/status", remote).status()).as("admin is loopback-only").isEqualTo(404);
    Http1Connection.Answer ready = probe(balancer.port(), "/affinity/ready", remote);
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.body()).isEqualTo("ready\n");
    assertThat(ready.headers().get("cache-control")).isEqualTo("no-store");
    assertThat(probe(balancer.port(), "/affinity/live", remote).body()).isEqualTo("live\n");
    assertThat(rawAnswer(balancer.port(), "POST /affinity/ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .status()).isEqualTo(405);
    balancer.stop();

    balancer = AffinityServer.builder(rawRouter(Map.of("a", a.uri())), counters).clock(clock).adminPort(0)
        .trustedProxies(TrustedProxies.of("127.0.0.1/32"))
        .shutdown(new GracefulShutdown(Duration.ofSeconds(30), Duration.ofSeconds(5))).shutdownTimer(timer).build().start();
    int adminPort = balancer.adminUri().getPort();
    int port = balancer.port();
    for (int either : new int[] {port, adminPort}) {
      assertThat(probe(either, "/affinity/ready", remote).status()).isEqualTo(200);
      assertThat(probe(either, "/affinity/live", remote).status()).isEqualTo(200);
    }
    assertThat(probe(port, "/affinity/status").body()).as("the public port's other admin paths go to the targets")
        .isEqualTo("a");
    Http1Connection c = connect(port);
    c.send("/held");
    Eventually.await(() -> a.arrived.get() == 1);

    stopInBackground();
    Eventually.await(() -> probe(adminPort, "/affinity/ready", remote).status() == 503);
    assertThat(probe(port, "/affinity/ready", remote).status()).isEqualTo(503);
    timer.advance(Duration.ofSeconds(5));
    Eventually.await(() -> Http1Connection.refused(port));
    assertThat(probe(adminPort, "/affinity/ready", remote).status()).as("the admin port outlives the public listener").isEqualTo(503);
    assertThat(probe(adminPort, "/affinity/live", remote).status()).isEqualTo(200);
    a.release();
    assertThat(c.read().status()).isEqualTo(200);
    stopped.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(Http1Connection.refused(adminPort)).isTrue();
  }

  // --- helpers -------------------------------------------------------------------------------------

  private void startBalancer(GracefulShutdown shutdown, java.util.function.Consumer<AffinityServer.Builder> configure, String... ids)
      throws Exception {
    Map<String, URI> uris = new LinkedHashMap<>();
    for (String id : ids) {
      HeldTarget t = new HeldTarget(id);
      heldTargets.add(t);
      uris.put(id, t.uri());
    }
    AffinityServer.Builder builder = AffinityServer.builder(rawRouter(uris), counters).clock(clock).shutdown(shutdown).shutdownTimer(timer);
    configure.accept(builder);
    balancer = builder.build().start();
  }

  /** Stops the balancer on another thread, as the JVM's shutdown hook or SIGTERM would: {@link #stopped} completes after. */
  private void stopInBackground() {
    stopper = new Thread(() -> {
      try {
        balancer.stop();
        stopped.complete(null);
      } catch (Throwable x) {
        stopped.completeExceptionally(x);
      }
    }, "stopper");
    stopper.start();
  }

  private int arrivedHeld() {
    return heldTargets.stream().mapToInt(t -> t.arrived.get()).sum();
  }

  private Http1Connection connect(int port) throws IOException {
    Http1Connection c = new Http1Connection(port);
    closeables.add(c);
    return c;
  }

  static Http1Connection.Answer probe(int port, String path) throws IOException {
    return probe(port, path, "");
  }

  static Http1Connection.Answer probe(int port, String path, String extraHeaders) throws IOException {
    return rawAnswer(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extraHeaders + "Connection: close\r\n\r\n");
  }

  static Http1Connection.Answer rawAnswer(int port, String request) throws IOException {
    try (Http1Connection c = new Http1Connection(port)) {
      c.out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      c.out.flush();
      return c.read();
    }
  }

  /** A condition that may do I/O to find out. */
  private static void stopQuietly(org.eclipse.jetty.util.component.LifeCycle lifeCycle) throws IOException {
    try {
      lifeCycle.stop();
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  /**
   * Clients that each send GETs one after another on one kept-alive connection, as a browser or an
   * upstream proxy does, until the balancer says {@code Connection: close} and then refuses a new
   * connection. A request fails if it gets anything but a 200 from a target, or if its connection
   * breaks once the request has been read; a kept-alive connection that the balancer closes right
   * after a complete answer, before the next request's first answer byte, never read that request
   * (RFC 9112 section 9.3.1: clients resend idempotent requests there, as browsers do), so it is sent
   * again on a new connection, which a closed listener refuses.
   */
  static final class LoadClients {
    final AtomicInteger answered = new AtomicInteger();
    final AtomicInteger closesSeen = new AtomicInteger();
    final AtomicInteger unreadResent = new AtomicInteger();
    final AtomicInteger refused = new AtomicInteger();
    final Queue<String> reconnects = new ConcurrentLinkedQueue<>();
    final AtomicInteger finished = new AtomicInteger();
    final Queue<String> errors = new ConcurrentLinkedQueue<>();

    static LoadClients start(int count, int port) {
      LoadClients load = new LoadClients();
      for (int i = 0; i < count; i++) {
        Thread t = new Thread(() -> load.loop(port), "load-" + i);
        t.setDaemon(true);
        t.start();
      }
      return load;
    }

    private void loop(int port) {
      // Whether this client's last connection was ended by the drain (Connection: close on an answer, or
      // closed while idle before the next request was read): its next connection may then be one the
      // listener accepted as it closed.
      boolean drainedHere = false;
      try {
        Http1Connection c;
        try {
          c = new Http1Connection(port);
        } catch (IOException e) {
          errors.add("first connect: " + e);
          return;
        }
        while (true) {
          Http1Connection.Answer answer;
          try {
            try {
              c.send("/fast");
            } catch (IOException e) {
              // The connection was closed (and reset) before the request went: as closed before an answer.
              throw new Http1Connection.NoAnswerException("the request could not be sent: " + e);
            }
            answer = c.read();
          } catch (Http1Connection.NoAnswerException e) {
            if (!c.reused && drainedHere) {
              // Reconnected after the drain ended the last connection, in the moment the listener was
              // closing: Jetty had accepted the connection, and the drain closed it with no request read
              // (the request was never accepted). The client's resend meets the closed listener.
              refused.incrementAndGet();
              reconnects.add(Thread.currentThread().getName() + " new connection closed unread while the listener closed");
              return;
            }
            if (!c.reused) {
              errors.add("a new connection closed before answering: " + e.getMessage());
              return;
            }
            unreadResent.incrementAndGet();
            drainedHere = true;
            c = reconnect(c, port, "closed before an answer");
            if (c == null) {
              return;
            }
            continue;
          } catch (IOException e) {
            if (!c.reused && drainedHere) {
              // The same race, seen as a reset: the connection accepted as the listener closed is gone unread.
              refused.incrementAndGet();
              reconnects.add(Thread.currentThread().getName() + " new connection reset unread while the listener closed");
              return;
            }
            errors.add(e.toString());
            return;
          }
          if (answer.status() != 200 || !answer.body().matches("[ab]")) {
            errors.add(answer.status() + " " + answer.body().strip());
          } else {
            answered.incrementAndGet();
          }
          if (answer.closes()) {
            drainedHere = true;
            closesSeen.incrementAndGet();
            c = reconnect(c, port, "Connection: close");
            if (c == null) {
              return;
            }
          }
        }
      } finally {
        finished.incrementAndGet();
      }
    }

    /** A new connection, or {@code null} when the listener refuses it (the balancer is draining). */
    private Http1Connection reconnect(Http1Connection old, int port, String why) {
      try {
        old.close();
        Http1Connection c = new Http1Connection(port);
        reconnects.add(Thread.currentThread().getName() + " reconnected after " + why);
        return c;
      } catch (ConnectException e) {
        refused.incrementAndGet();
        return null;
      } catch (IOException e) {
        if (String.valueOf(e.getMessage()).contains("reset")) {
          // Connected into the accept queue of the listener as it closed: the kernel resets what it had queued.
          refused.incrementAndGet();
          reconnects.add(Thread.currentThread().getName() + " reconnect reset as the listener closed");
          return null;
        }
        errors.add("reconnect: " + e);
        return null;
      }
    }
  }
}
