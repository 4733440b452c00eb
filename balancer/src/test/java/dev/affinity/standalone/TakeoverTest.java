package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.Http1Connection;
import java.io.IOException;
import java.net.HttpCookie;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.RetryableRequestException;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --takeover}: a balancer JVM (A) serves a port under load — HTTP/1.1 clients on kept-alive connections,
 * clients opening a connection per request, an HTTP/2 client, a WebSocket, all pinned by cookie to real Jetty
 * targets in this JVM; a second balancer JVM (B) is started with {@code --takeover A's pid file} on the same port
 * ({@code SO_REUSEPORT}). B finishes its first round, accepts and sends A {@code SIGUSR1}; A stops accepting,
 * answers {@code Connection: close} / {@code GOAWAY}, closes the WebSocket with 1001, and exits 0. Every answer
 * comes from the client's first target (no re-pin), none fails, and after A's exit B serves every client.
 *
 * <p>With {@code net.ipv4.tcp_migrate_req=1} (set here as root, restored after) connections waiting in A's accept
 * queue when it closes move to B: nothing fails. With 0 (the kernel's default) they are reset: shown with connections
 * held in the queue of a balancer at its connection limit. Each scenario prints its figures.
 */
class TakeoverTest {
  private static final Path MIGRATE_REQ = Takeover.TCP_MIGRATE_REQ;
  private static final int KEPT_ALIVE_CLIENTS = Integer.getInteger("affinity.takeover.keptAliveClients", 6);
  /** Clients opening a connection per request: the ones an accept queue holds at the moment it closes. */
  private static final int NEW_CONNECTION_CLIENTS = Integer.getInteger("affinity.takeover.newConnectionClients", 3);
  private static final List<String> TARGETS = List.of("t1", "t2", "t3");
  /** How a connection reset in the old process's accept queue looks to its client: connected, then reset before any answer. */
  /**
   * Between a client's requests: the clients leave the CPUs (two on the build machine) to the starting JVM, which
   * back to back they would starve for ten seconds and more.
   */
  /**
   * {@code limits.maxConnections} for the measurement of a balancer at its connection limit, which stops accepting
   * and leaves new connections in its accept queue (where a closing listener resets them unless they migrate);
   * 0: the default limit.
   */
  private static final int MAX_CONNECTIONS = Integer.getInteger("affinity.takeover.maxConnections", 0);
  private static final long PAUSE_MILLIS = Long.getLong("affinity.takeover.pauseMillis", 5);
  private static final String RESET_FRESH = "reset before the answer, fresh connection";

  @TempDir
  Path dir;
  private final Map<String, Target> targets = new LinkedHashMap<>();
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private final HttpClient plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void setUp() throws Exception {
    for (String id : TARGETS) {
      targets.put(id, new Target(id));
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
    for (Target t : targets.values()) {
      t.server.stop();
    }
  }

  @Test
  void takeoverUnderLoadWithTcpMigrateReqFailsNothingAndRePinsNobody() throws Exception {
    if (!Files.isWritable(MIGRATE_REQ)) {
      // Not root, or a kernel without the setting: the takeover all the same, and only resets of connections
      // caught in the old accept queue may fail (unless the machine already migrates them).
      Result result = takeover();
      System.out.printf("TakeoverTest[tcp_migrate_req not settable]: %s%n", result);
      boolean migrates = Files.isReadable(MIGRATE_REQ) && Files.readString(MIGRATE_REQ).strip().equals("1");
      assertThat(result.failures()).as("failed requests: %s", result).isEqualTo(migrates ? 0 : result.freshResets());
      return;
    }
    Result result = withMigrateReq("1", this::takeover);
    assertThat(result.failures()).as("failed requests: %s", result).isZero();
  }

  /**
   * A measurement (RELIABILITY.md), not part of the build: the load above with the kernel's default, where a
   * connection caught in the old accept queue at the close would be reset. Run with
   * {@code -Daffinity.takeover.measureWithoutMigrateReq=true}.
   */
  @Test
  @EnabledIfSystemProperty(named = "affinity.takeover.measureWithoutMigrateReq", matches = "true")
  void takeoverUnderLoadWithoutTcpMigrateReqOnlyResetsFreshConnectionsInTheOldAcceptQueue() throws Exception {
    Result result = withMigrateReq("0", this::takeover);
    // Whatever else fails is not the accept queue's doing.
    assertThat(result.failures()).as("failures other than resets of fresh connections: %s", result).isEqualTo(result.freshResets());
  }

  /** Runs {@code scenario} with the sysctl at {@code value}, as root, and puts it back. */
  private <T> T withMigrateReq(String value, java.util.concurrent.Callable<T> scenario) throws Exception {
    assumeTrue(Files.isWritable(MIGRATE_REQ), MIGRATE_REQ + " is not writable here (not root, or a kernel before 5.14)");
    String before = Files.readString(MIGRATE_REQ).strip();
    Files.writeString(MIGRATE_REQ, value);
    try {
      T result = scenario.call();
      System.out.printf("TakeoverTest[tcp_migrate_req=%s]: %s%n", value, result);
      return result;
    } finally {
      Files.writeString(MIGRATE_REQ, before);
    }
  }

  /**
   * The connections the kernel has completed into the old process's accept queue when it closes its listener:
   * with a balancer at its connection limit ({@code limits.maxConnections: 1}, one client connection held) ten
   * clients connect and send a request, and wait in the queue; then a successor takes over. With
   * {@code tcp_migrate_req=1} the kernel moves all ten to the successor, which answers them; with 0 it resets
   * all ten. (Under the load above the old process accepts as fast as connections come, and no run has caught
   * one in its queue at the close.)
   */
  @Test
  void connectionsWaitingInTheOldAcceptQueueMoveToTheSuccessorOnlyWithTcpMigrateReq() throws Exception {
    Queued with = withMigrateReq("1", this::queuedBehindAFullBalancer);
    assertThat(with.answered()).as("with tcp_migrate_req=1").isEqualTo(QUEUED);
    Queued without = withMigrateReq("0", this::queuedBehindAFullBalancer);
    assertThat(without.reset()).as("with tcp_migrate_req=0").isEqualTo(QUEUED);
  }

  private static final int QUEUED = 10;

  /** Of the connections waiting in the old accept queue: answered by the successor, reset. */
  record Queued(int answered, int reset) {
  }

  private Queued queuedBehindAFullBalancer() throws Exception {
    int port = freePort();
    Path file = writeYaml(port, "limits: { maxConnections: 1 }\n");
    Path pidFile = dir.resolve("balancer.pid");
    LauncherProcess a = LauncherProcess.start("--pid-file", pidFile.toString(), file.toString());
    cleanup.add(a);
    Http1Connection held = new Http1Connection(port);
    cleanup.add(held);
    held.send("/");
    assertThat(held.read().status()).isEqualTo(200);
    // A is full: these are connected by the kernel and wait, requests sent, in A's accept queue.
    List<Http1Connection> queued = new ArrayList<>();
    for (int i = 0; i < QUEUED; i++) {
      Http1Connection c = new Http1Connection(port);
      cleanup.add(c);
      c.send("/", "Connection: close\r\n");
      queued.add(c);
    }
    LauncherProcess b = LauncherProcess.start("--pid-file", pidFile.toString(), "--takeover", pidFile.toString(), file.toString());
    cleanup.add(b);
    int answered = 0;
    int reset = 0;
    for (Http1Connection c : queued) {
      try {
        Http1Connection.Answer answer = c.read();
        assertThat(answer.status()).isEqualTo(200);
        answered++;
      } catch (IOException e) {
        assertThat(e).hasMessageContaining("reset");
        reset++;
      }
    }
    assertThat(a.exitStatus()).as("A's output:%n%s", a.output).isZero();
    b.signal("USR1");
    assertThat(b.exitStatus()).as("B's output:%n%s", b.output).isZero();
    return new Queued(answered, reset);
  }

  /** What the clients saw over one takeover. */
  record Result(long requests, long duringTakeover, long failures, long freshResets, long rePins, long h2Requests, long h2Retries,
      Map<String, Long> failureKinds, long startAMillis, long startBMillis, long aExitMillis) {
  }

  private static int freePort() throws IOException {
    try (ServerSocket free = new ServerSocket(0)) {
      return free.getLocalPort();
    }
  }

  private Path writeYaml(int port) throws IOException {
    return writeYaml(port, MAX_CONNECTIONS > 0 ? "limits: { maxConnections: " + MAX_CONNECTIONS + " }\n" : "");
  }

  private Path writeYaml(int port, String more) throws IOException {
    // An unready delay that a takeover's stop skips: the address stays served, by the successor.
    String yaml = "listen: { host: 127.0.0.1, port: " + port + " }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "shutdown: { grace: PT15S, unreadyDelay: PT10S }\n"
        + more
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { path: /health, interval: PT2S, timeout: PT1S }\n"
        + "    targets:\n"
        + targets.values().stream().map(t -> "      - { id: " + t.id + ", uri: \"" + t.uri() + "\" }\n").collect(Collectors.joining());
    return Files.writeString(dir.resolve("balancer.yaml"), yaml);
  }

  /**
   * {@code kill -TTIN}: the balancer starts its successor itself (its own command line, {@code --takeover} its pid),
   * which takes over as above; the pid file names the successor before the first process exits (what a systemd
   * unit's {@code PIDFile=} needs to follow it), and the successor serves the clients on their targets.
   */
  @Test
  void sigttinStartsASuccessorThatTakesOverAndThePidFileFollowsIt() throws Exception {
    int port = freePort();
    Path file = writeYaml(port);
    Path pidFile = dir.resolve("balancer.pid");
    LauncherProcess a = LauncherProcess.start("--pid-file", pidFile.toString(), file.toString());
    cleanup.add(a);
    Client client = pin(port);

    // A JFR recording samples threads by suspending them with SIGUSR2 (HotSpot's): it must not start a
    // successor, as it did while SIGUSR2 was the successor signal (hundreds of times a minute).
    Process jfr = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(a.pid()), "JFR.start", "settings=profile", "duration=2s")
        .redirectErrorStream(true).start();
    assertThat(jfr.waitFor(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    String jfrOutput = new String(jfr.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(jfrOutput).as("jcmd JFR.start").contains("Started recording");
    Thread.sleep(2500);
    assertThat(a.output.toString()).as("a JFR recording is not a takeover").doesNotContain("successor");
    assertThat(Files.readString(pidFile).strip()).isEqualTo(Long.toString(a.pid()));

    a.signal("TTIN");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LauncherProcess.WAIT_SECONDS);
    while (!Files.exists(pidFile) || Files.readString(pidFile).strip().equals(Long.toString(a.pid()))) {
      assertThat(System.nanoTime()).as("the successor's pid in the pid file; output:%n%s", a.output).isLessThan(deadline);
      Thread.sleep(10);
    }
    ProcessHandle successor = ProcessHandle.of(Long.parseLong(Files.readString(pidFile).strip())).orElseThrow();
    cleanup.add(() -> successor.destroyForcibly());
    assertThat(a.process.waitFor(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(a.process.exitValue()).as("the first process's output:%n%s", a.output).isZero();
    assertThat(successor.isAlive()).isTrue();
    try (Http1Connection connection = new Http1Connection(port)) {
      connection.send("/", "Cookie: " + client.cookie + "\r\n");
      assertThat(connection.read().body()).as("the successor serves the client on its target").isEqualTo(client.target);
    }

    // SIGUSR1 rather than SIGTERM: the same drain without the file's ten-second unready delay.
    assertThat(new ProcessBuilder("kill", "-USR1", Long.toString(successor.pid())).inheritIO().start().waitFor()).isZero();
    successor.onExit().get(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS);
    // Its output came through the first process's (inherited), which this test reads.
    assertThat(a.output.toString()).contains("SIGTTIN: started a successor (pid " + successor.pid() + ")")
        .contains("took over from pid " + a.pid() + " (SIGUSR1)").contains("listeners close in PT0S");
    assertThat(pidFile).as("the successor removed its pid file").doesNotExist();
  }

  private Result takeover() throws Exception {
    int port = freePort();
    Path file = writeYaml(port);
    Path pidFile = dir.resolve("balancer.pid");
    long t0 = System.nanoTime();
    LauncherProcess a = LauncherProcess.start("--pid-file", pidFile.toString(), file.toString());
    long startA = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    cleanup.add(a);
    assertThat(Files.readString(pidFile).strip()).isEqualTo(Long.toString(a.pid()));

    // Each client pinned first, through A.
    List<Client> clients = new ArrayList<>();
    for (int i = 0; i < KEPT_ALIVE_CLIENTS + NEW_CONNECTION_CLIENTS + 1; i++) {
      clients.add(pin(port));
    }
    assertThat(clients.stream().map(c -> c.target).distinct().count()).as("the clients are spread over the targets").isGreaterThan(1);
    Load load = new Load(port);
    for (int i = 0; i < KEPT_ALIVE_CLIENTS; i++) {
      load.start(clients.get(i), true);
    }
    for (int i = KEPT_ALIVE_CLIENTS; i < KEPT_ALIVE_CLIENTS + NEW_CONNECTION_CLIENTS; i++) {
      load.start(clients.get(i), false);
    }
    Client h2 = clients.get(clients.size() - 1);
    load.startHttp2(h2);
    WebSocketClient webSocket = new WebSocketClient(port, clients.get(0));
    cleanup.add(webSocket);
    assertThat(webSocket.who()).as("the WebSocket reaches its client's target").isEqualTo(clients.get(0).target);
    load.awaitRequests(200);

    // B, on the same port, in A's place.
    long requestsBefore = load.requests.get();
    long t1 = System.nanoTime();
    LauncherProcess b = LauncherProcess.start("--pid-file", pidFile.toString(), "--takeover", pidFile.toString(), file.toString());
    cleanup.add(b);
    long startB = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1);
    assertThat(b.port).isEqualTo(port);
    assertThat(b.output.toString()).contains("took over from pid " + a.pid() + " (SIGUSR1)");
    // B warmed up (warmup: on by default) before it shared the port, while A served the load alone.
    assertThat(b.output.toString()).containsSubsequence("affinity: warmed up in ", "affinity: taking over from pid " + a.pid());
    assertThat(Files.readString(pidFile).strip()).as("the pid file names B before A exits").isEqualTo(Long.toString(b.pid()));
    long t2 = System.nanoTime();
    assertThat(a.exitStatus()).as("A's output:%n%s", a.output).isZero();
    long aExit = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t2);
    assertThat(a.output.toString()).as("A's stop skips the unready delay").contains("listeners close in PT0S").contains("drained; stopping");
    long duringTakeover = load.requests.get() - requestsBefore;

    // The WebSocket was closed by A with 1001 ("going away"); the client comes back, through B, to its target.
    assertThat(webSocket.closeCode.get(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo(1001);
    WebSocketClient again = new WebSocketClient(port, clients.get(0));
    cleanup.add(again);
    assertThat(again.who()).as("the reconnected WebSocket is on the same target").isEqualTo(clients.get(0).target);

    // B serves everyone: each client gets answers after A has gone.
    load.markAfterTakeover();
    load.awaitEveryClientAfterTakeover();
    load.stop();
    long rePins = rePins(port);
    assertThat(rePins).as("re-pins counted by B").isZero();
    assertThat(load.wrongTarget.get()).as("answers from another target than the client's").isZero();
    assertThat(load.h2Requests.get()).isPositive();

    // SIGUSR1, what a successor would send: the same drain as SIGTERM without the unready delay.
    b.signal("USR1");
    assertThat(b.exitStatus()).as("B's output:%n%s", b.output).isZero();
    assertThat(b.output.toString()).contains("listeners close in PT0S");
    assertThat(pidFile).as("B removed the pid file it wrote").doesNotExist();
    long fresh = load.kinds.getOrDefault(RESET_FRESH, new AtomicLong()).get();
    return new Result(load.requests.get(), duringTakeover, load.failures.get(), fresh, rePins, load.h2Requests.get(), load.h2Retries.get(),
        load.kinds.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get())), startA, startB, aExit);
  }

  /** A client with its cookies, pinned to {@code target} by its first request. */
  record Client(String cookie, String target) {
  }

  private Client pin(int port) throws Exception {
    HttpResponse<String> first = plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(first.statusCode()).isEqualTo(200);
    List<String> cookies = new ArrayList<>();
    for (String header : first.headers().allValues("set-cookie")) {
      for (HttpCookie c : HttpCookie.parse("Set-Cookie: " + header)) {
        cookies.add(c.getName() + "=" + c.getValue());
      }
    }
    assertThat(cookies).as("the balancer pins with a cookie").isNotEmpty();
    return new Client(String.join("; ", cookies), first.body());
  }

  /** The sum of {@code affinity_target_repins} on the balancer serving {@code port}'s admin endpoint. */
  private long rePins(int port) throws Exception {
    Http1Connection.Answer metrics = ShutdownLauncherTest.get(port, "/affinity/metrics");
    assertThat(metrics.status()).isEqualTo(200);
    List<String> lines = metrics.body().lines().filter(l -> l.startsWith("affinity_target_repins")).toList();
    assertThat(lines).as("the re-pin counters").isNotEmpty();
    return lines.stream().mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  /** Clients sending GETs back to back until stopped, each checking that its target answers. */
  private static final class Load {
    final int port;
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicLong requests = new AtomicLong();
    final AtomicLong h2Requests = new AtomicLong();
    final AtomicLong h2Retries = new AtomicLong();
    final AtomicLong failures = new AtomicLong();
    final AtomicLong wrongTarget = new AtomicLong();
    final Map<String, AtomicLong> kinds = new ConcurrentHashMap<>();
    final List<Thread> threads = new ArrayList<>();
    /** Per client: answers since {@link #markAfterTakeover}. */
    final List<AtomicInteger> afterTakeover = new ArrayList<>();
    volatile boolean after;

    Load(int port) {
      this.port = port;
    }

    void start(Client client, boolean keepAlive) {
      AtomicInteger answeredAfter = new AtomicInteger();
      afterTakeover.add(answeredAfter);
      Thread t = new Thread(() -> {
        Http1Connection connection = null;
        boolean reused = false;
        while (running.get()) {
          try {
            if (connection == null) {
              connection = new Http1Connection(port);
              reused = false;
            }
            connection.send("/", "Cookie: " + client.cookie + "\r\n" + (keepAlive ? "" : "Connection: close\r\n"));
            Http1Connection.Answer answer = connection.read();
            requests.incrementAndGet();
            if (answer.status() != 200) {
              fail("status " + answer.status());
            } else if (!answer.body().equals(client.target)) {
              wrongTarget.incrementAndGet();
              fail("answered by " + answer.body() + " instead of " + client.target);
            } else if (after) {
              answeredAfter.incrementAndGet();
            }
            reused = true;
            if (!keepAlive || answer.closes()) {
              connection.close();
              connection = null;
            }
            if (PAUSE_MILLIS > 0) {
              Thread.sleep(PAUSE_MILLIS);
            }
          } catch (InterruptedException e) {
            break;
          } catch (IOException e) {
            requests.incrementAndGet();
            boolean reset = String.valueOf(e.getMessage()).contains("reset");
            fail(connection == null ? "connect failed: " + e.getClass().getSimpleName()
                : reused ? "closed before the answer, reused connection"
                : reset ? RESET_FRESH : "closed before the answer, fresh connection");
            close(connection);
            connection = null;
          }
        }
        close(connection);
      }, "load-" + (keepAlive ? "kept-alive" : "new-connection"));
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }

    /** One HTTP/2 client (h2c, prior knowledge): on GOAWAY it opens its next connection, which B takes. */
    void startHttp2(Client client) throws Exception {
      org.eclipse.jetty.client.HttpClient http2 = new org.eclipse.jetty.client.HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
      http2.setHttpCookieStore(new HttpCookieStore.Empty());
      http2.start();
      AtomicInteger answeredAfter = new AtomicInteger();
      afterTakeover.add(answeredAfter);
      Thread t = new Thread(() -> {
        while (running.get()) {
          try {
            ContentResponse response;
            try {
              response = send(http2, client);
            } catch (ExecutionException e) {
              if (!notProcessed(e)) {
                throw e;
              }
              // Refused by the GOAWAY (RFC 9113 section 6.8: not processed), or never sent on a session that had
              // just received it: a browser sends such a request again on a new connection, and so does this client.
              h2Retries.incrementAndGet();
              response = send(http2, client);
            }
            requests.incrementAndGet();
            h2Requests.incrementAndGet();
            if (response.getStatus() != 200) {
              fail("h2 status " + response.getStatus());
            } else if (!response.getContentAsString().equals(client.target)) {
              wrongTarget.incrementAndGet();
              fail("h2 answered by " + response.getContentAsString());
            } else if (after) {
              answeredAfter.incrementAndGet();
            }
            if (PAUSE_MILLIS > 0) {
              Thread.sleep(PAUSE_MILLIS);
            }
          } catch (InterruptedException e) {
            break;
          } catch (Exception e) {
            requests.incrementAndGet();
            fail("h2 " + e.getClass().getSimpleName() + ": " + e.getMessage());
          }
        }
        try {
          http2.stop();
        } catch (Exception e) {
          // the test is over
        }
      }, "load-h2");
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }

    private ContentResponse send(org.eclipse.jetty.client.HttpClient http2, Client client) throws Exception {
      return http2.newRequest("http://127.0.0.1:" + port + "/").headers(h -> h.put(HttpHeader.COOKIE, client.cookie))
          .timeout(20, TimeUnit.SECONDS).send();
    }

    /** Jetty's HTTP/2 client's two ways of saying that a request never reached the server's application. */
    private static boolean notProcessed(ExecutionException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof RetryableRequestException || t instanceof IllegalStateException && "session closed".equals(t.getMessage())) {
          return true;
        }
      }
      return false;
    }

    private void fail(String kind) {
      failures.incrementAndGet();
      kinds.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    }

    void awaitRequests(long count) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LauncherProcess.WAIT_SECONDS);
      while (requests.get() < count) {
        assertThat(System.nanoTime()).as("%s requests answered in time", count).isLessThan(deadline);
        Thread.sleep(10);
      }
    }

    void markAfterTakeover() {
      after = true;
    }

    void awaitEveryClientAfterTakeover() throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LauncherProcess.WAIT_SECONDS);
      while (afterTakeover.stream().anyMatch(n -> n.get() < 20)) {
        assertThat(System.nanoTime()).as("every client served by B: %s", afterTakeover).isLessThan(deadline);
        Thread.sleep(10);
      }
    }

    void stop() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(LauncherProcess.WAIT_SECONDS));
      }
    }

    private static void close(Http1Connection connection) {
      if (connection != null) {
        try {
          connection.close();
        } catch (IOException e) {
          // closing anyway
        }
      }
    }
  }

  /** A WebSocket through the balancer with a client's cookies; {@code who} asks the target its id. */
  private static final class WebSocketClient implements WebSocket.Listener, AutoCloseable {
    final LinkedBlockingQueue<String> texts = new LinkedBlockingQueue<>();
    final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
    final WebSocket socket;

    WebSocketClient(int port, Client client) throws Exception {
      socket = HttpClient.newHttpClient().newWebSocketBuilder().header("Cookie", client.cookie)
          .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), this).get(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS);
    }

    String who() throws Exception {
      socket.sendText("who", true).get(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS);
      return texts.poll(LauncherProcess.WAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      texts.add(data.toString());
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closeCode.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closeCode.completeExceptionally(error);
    }

    @Override
    public void close() {
      socket.abort();
    }
  }

  /** A target: answers its id, {@code /health} 200, and a WebSocket on {@code /ws} that answers {@code who} with its id. */
  private static final class Target {
    final String id;
    final Server server;
    final ServerConnector connector;

    Target(String id) throws Exception {
      this.id = id;
      server = new Server(new QueuedThreadPool(32, 4));
      connector = new ServerConnector(server);
      connector.setHost("127.0.0.1");
      server.addConnector(connector);
      WebSocketUpgradeHandler webSockets = new WebSocketUpgradeHandler();
      webSockets.addMapping("/ws", (request, response, callback) -> new Who());
      webSockets.setHandler(new Handler.Abstract() {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
          Content.Sink.write(response, true, Request.getPathInContext(request).equals("/health") ? "ok" : id, callback);
          return true;
        }
      });
      server.setHandler(webSockets);
      server.start();
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + connector.getLocalPort());
    }

    private final class Who implements FrameHandler {
      private CoreSession session;

      @Override
      public void onOpen(CoreSession coreSession, Callback callback) {
        session = coreSession;
        callback.succeeded();
        session.demand();
      }

      @Override
      public void onFrame(Frame frame, Callback callback) {
        if (frame.getOpCode() == OpCode.TEXT && frame.getPayloadAsUTF8().equals("who")) {
          session.sendFrame(new Frame(OpCode.TEXT, id), Callback.from(() -> {
            callback.succeeded();
            session.demand();
          }, callback::failed), false);
          return;
        }
        callback.succeeded();
        if (frame.getOpCode() != OpCode.CLOSE) {
          session.demand();
        }
      }

      @Override
      public void onError(Throwable cause, Callback callback) {
        callback.succeeded();
      }

      @Override
      public void onClosed(CloseStatus closeStatus, Callback callback) {
        callback.succeeded();
      }
    }
  }
}
