package dev.affinity.standalone;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.TargetProtocol;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.standalone.config.AccessLogConfig;
import dev.affinity.standalone.config.AdminConfig;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.HealthCheckConfig;
import dev.affinity.standalone.config.Listen;
import dev.affinity.standalone.config.RuleConfig;
import dev.affinity.standalone.config.TargetConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import dev.affinity.standalone.config.WarmupConfig;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.slf4j.LoggerFactory;

/**
 * The warm-up before the listeners open ({@code warmup:} in the file, issue 23). A JVM starts with its hot path
 * interpreted; started into full load on one core, the balancer's request threads leave its JIT compiler
 * threads a sliver of that core, and it served a fifth of its warm throughput for tens of seconds. Here the
 * same code runs first on no client's time: a <em>copy</em> of the balancer (built from the same file by
 * the same {@link BalancerFactory}: routing, rules, cookie decode and issue, header rewrite, the relay) on an
 * ephemeral loopback port, with every target group's targets replaced by a stub target on another loopback
 * port, takes keep-alive requests from a few loopback clients, most of them sticky (with the cookie their first
 * answer set), one in {@value #NEW_CLIENT_EVERY} a new client. Compiled code belongs to the JVM, not to a server,
 * so what the copy got compiled serves the real balancer.
 *
 * <p>The copy shares nothing with the real balancer but the classes: its own router, targets, codec counters,
 * request metrics and status page, no access log, no admin port, no health checks, no DNS discovery, no
 * registration API; a warm-up request cannot reach a real target (the copy knows only the stub) and never
 * shows in the real balancer's metrics, status or access log.
 *
 * <p>It ends at the first of: {@code requests} answered; {@code timeout}; the JIT compiler idle (after at
 * least {@value #MIN_REQUESTS_BEFORE_IDLE} requests, under {@value #IDLE_COMPILE_MILLIS} ms of compilation in the
 * last {@link #IDLE_WINDOW}, when the JVM reports compilation time): the usual end, since what this traffic needs
 * is compiled then. A warm-up that fails (the copy does not start, {@value #MAX_CONSECUTIVE_FAILURES} requests in
 * a row fail) is reported and the start goes on: it only ever costs time, bounded by {@code timeout}.
 */
final class Warmup {
  /**
   * Concurrent keep-alive connections: enough that the selector finds several ready at once and writes gather
   * several buffers, as under real load; with 4, the real load's first seconds deoptimized what the warm-up compiled.
   */
  static final int CLIENTS = 16;
  static final int NEW_CLIENT_EVERY = 16;
  /** Enough for the hot methods' invocation counters to pass C2's thresholds (5 000 invocations without loops). */
  static final int MIN_REQUESTS_BEFORE_IDLE = 5_000;
  static final Duration IDLE_WINDOW = Duration.ofSeconds(1);
  static final long IDLE_COMPILE_MILLIS = 10;
  static final int MAX_CONSECUTIVE_FAILURES = 50;
  private static final Duration CHECK_EVERY = Duration.ofMillis(250);
  /** Targets per group in the copy: enough for the balancing algorithm to choose, as with real targets. */
  private static final int MAX_STUB_TARGETS = 3;
  private static final String[] PATHS = {"/", "/app/orders?page=2", "/static/app.js", "/api/v1/items/42"};

  /** The launcher's: once per JVM (see {@link #once()}). */
  private static final Warmup ONCE = new Warmup(true, true, System::nanoTime);

  private final boolean oncePerJvm;
  private final boolean stubAnswers;
  private final LongSupplier nanoTime;
  private final AtomicBoolean ran = new AtomicBoolean();

  Warmup(boolean oncePerJvm, boolean stubAnswers, LongSupplier nanoTime) {
    this.oncePerJvm = oncePerJvm;
    this.stubAnswers = stubAnswers;
    this.nanoTime = requireNonNull(nanoTime, "nanoTime");
  }

  /**
   * The launcher's warm-up: it runs the first time a balancer of this JVM starts, and a second balancer in the
   * same JVM (the tests, an embedder running two) skips it, since the code it would compile is compiled.
   */
  static Warmup once() {
    return ONCE;
  }

  /** A warm-up that runs every time; {@code stubAnswers} false: a stub that closes every connection (a failing warm-up). */
  static Warmup every(boolean stubAnswers) {
    return new Warmup(false, stubAnswers, System::nanoTime);
  }

  /** How a warm-up went. {@code failure} is null unless it gave up; {@code endedBy} says why it ended. */
  record Outcome(long requests, Duration took, String endedBy, String failure) {}

  /**
   * Runs the warm-up {@code config.warmup()} describes and reports it on {@code out} (or, when it failed, on
   * {@code err}); never throws: whatever goes wrong, the start goes on. Returns null when it did not run.
   */
  Outcome run(BalancerConfig config, Clock clock, PrintStream out, PrintStream err) {
    WarmupConfig settings = config.warmup();
    if (!settings.enabled() || (oncePerJvm && !ran.compareAndSet(false, true))) {
      return null;
    }
    Outcome outcome;
    try {
      outcome = warm(config, clock, settings);
    } catch (Exception | LinkageError e) {
      outcome = new Outcome(0, Duration.ZERO, "an error", e.toString());
    }
    if (outcome.failure() != null) {
      err.println("affinity: warning: the warm-up failed after " + outcome.requests() + " requests (" + outcome.failure()
          + "); starting without it");
    } else {
      out.println(String.format(Locale.ROOT, "affinity: warmed up in %.1f s: %,d requests through a copy of the balancer to a stub"
          + " target; ended by %s", outcome.took().toMillis() / 1000.0, outcome.requests(), outcome.endedBy()));
    }
    out.flush();
    err.flush();
    return outcome;
  }

  private Outcome warm(BalancerConfig config, Clock clock, WarmupConfig settings) throws Exception {
    long start = nanoTime.getAsLong();
    long deadline = start + settings.timeout().toNanos();
    try (StubTarget stub = new StubTarget(stubAnswers)) {
      AffinityServer copy = new BalancerFactory(clock, CodecMetrics.counting()).server(copy(config, stub.uri()));
      try {
        copy.start();
        Load load = new Load(copy.port(), settings.requests());
        try {
          load.start();
          CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
          boolean jitTimed = jit != null && jit.isCompilationTimeMonitoringSupported();
          int window = (int) (IDLE_WINDOW.toMillis() / CHECK_EVERY.toMillis());
          long[] compiled = new long[window + 1];
          for (int check = 0; ; check++) {
            Thread.sleep(CHECK_EVERY.toMillis());
            long now = nanoTime.getAsLong();
            long answered = load.answered.get();
            String failure = load.failure.get();
            if (failure != null) {
              return new Outcome(answered, Duration.ofNanos(now - start), "a failure", failure);
            }
            if (answered >= settings.requests()) {
              return new Outcome(answered, Duration.ofNanos(now - start), "the request count (" + settings.requests() + ")", null);
            }
            if (now - deadline >= 0) {
              return new Outcome(answered, Duration.ofNanos(now - start), "the timeout (" + settings.timeout() + ")", null);
            }
            if (jitTimed) {
              compiled[check % compiled.length] = jit.getTotalCompilationTime();
              long windowAgo = compiled[(check + 1) % compiled.length];
              if (answered >= MIN_REQUESTS_BEFORE_IDLE && check >= window
                  && compiled[check % compiled.length] - windowAgo < IDLE_COMPILE_MILLIS) {
                return new Outcome(answered, Duration.ofNanos(now - start), "the JIT compiler going idle", null);
              }
            }
          }
        } finally {
          load.stop();
        }
      } finally {
        stopQuietly(copy);
      }
    }
  }

  /**
   * Stops the copy without its drain's log lines ("affinity: stopping: ... answers 503"), which would read as the
   * balancer itself stopping. Nothing else drains meanwhile: the real server has not started yet, and a
   * {@code SIGTERM} that comes now is acted on once it has.
   */
  private static void stopQuietly(AffinityServer copy) throws Exception {
    // By name: jetty-handler's Drain is package-private.
    if (!(LoggerFactory.getLogger("dev.affinity.jetty.Drain") instanceof ch.qos.logback.classic.Logger drainLog)) {
      copy.stop();
      return;
    }
    ch.qos.logback.classic.Level level = drainLog.getLevel();
    drainLog.setLevel(ch.qos.logback.classic.Level.WARN);
    try {
      copy.stop();
    } finally {
      drainLog.setLevel(level);
    }
  }

  /**
   * The copy of {@code config} the warm-up runs: the same groups (algorithm, stickiness, cookies, keys, rules,
   * forwarding, upstream settings) with stub targets at {@code stub} spoken to over HTTP/1.1 and never health
   * checked, one plain listener on an ephemeral loopback port, no admin port, no access log, no discovery.
   */
  static BalancerConfig copy(BalancerConfig config, URI stub) {
    List<TargetGroupConfig> groups = new ArrayList<>();
    for (TargetGroupConfig group : config.targetGroups()) {
      List<TargetConfig> targets = new ArrayList<>();
      int count = Math.max(1, Math.min(group.targets().size(), MAX_STUB_TARGETS));
      for (int i = 1; i <= count; i++) {
        targets.add(new TargetConfig("warmup-" + i, stub, TargetConfig.DEFAULT_WEIGHT));
      }
      HealthCheckConfig health = group.healthCheck();
      HealthCheckConfig noChecks = new HealthCheckConfig(false, health.path(), health.interval(), health.timeout(),
          health.healthyThreshold(), health.unhealthyThreshold(), health.matcherLow(), health.matcherHigh());
      // HTTP/1.1 whatever the group speaks: the stub does not speak HTTP/2 (routing and cookies are the same code).
      groups.add(new TargetGroupConfig(group.name(), group.algorithm(), group.stickiness(), noChecks, group.slowStart(),
          group.deregistrationDelay(), group.boundedLoadFactor(), targets, TargetProtocol.HTTP1, group.passiveHealth(),
          group.upstreamTimeout(), group.upstreamConnectTimeout(), null, group.sharedSessions()));
    }
    Listen listen = new Listen("127.0.0.1", 0, null, null, false, config.listen().http2());
    Map<String, List<RuleConfig>> listenerRules = config.listenerRules().containsKey(config.listen().name())
        ? Map.of(listen.name(), config.listenerRules().get(config.listen().name()))
        : Map.of();
    return new BalancerConfig(List.of(listen), config.keys(), config.cookies(), groups, config.forward(), config.groupStickiness(),
        AdminConfig.defaults(), config.websocket(), config.upstream(), config.trustedProxies(), config.limits(), AccessLogConfig.off(),
        new GracefulShutdown(Duration.ofSeconds(1), Duration.ZERO), config.rules(), config.defaultAction(), listenerRules,
        WarmupConfig.off());
  }

  /** The warm-up's clients: {@value #CLIENTS} keep-alive connections, each on its own thread, until told to stop. */
  private static final class Load {
    final AtomicLong answered = new AtomicLong();
    final AtomicReference<String> failure = new AtomicReference<>();
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();
    private final int port;
    private final long limit;

    Load(int port, long limit) {
      this.port = port;
      this.limit = limit;
    }

    void start() {
      for (int i = 0; i < CLIENTS; i++) {
        Thread thread = new Thread(this::client, "affinity-warmup-client-" + i);
        thread.setDaemon(true);
        threads.add(thread);
        thread.start();
      }
    }

    void stop() throws InterruptedException {
      stopping.set(true);
      synchronized (sockets) {
        for (Socket socket : sockets) {
          closeQuietly(socket);
        }
      }
      // Their sockets are closed: each ends at once. Bounded all the same, the start must not wait on them.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      for (Thread thread : threads) {
        thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      }
    }

    private void client() {
      String cookie = null;
      int sent = 0;
      while (!stopping.get() && answered.get() < limit) {
        Socket socket = null;
        try {
          socket = new Socket();
          synchronized (sockets) {
            if (stopping.get()) {
              return;
            }
            sockets.add(socket);
          }
          socket.setTcpNoDelay(true);
          socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
          socket.setSoTimeout(5_000);
          OutputStream output = socket.getOutputStream();
          InputStream input = new BufferedInputStream(socket.getInputStream());
          while (!stopping.get() && answered.get() < limit) {
            boolean newClient = cookie == null || sent++ % NEW_CLIENT_EVERY == 0;
            output.write(request(sent, newClient ? null : cookie));
            output.flush();
            Answer answer = Answer.read(input);
            answered.incrementAndGet();
            if (answer.status >= 502 && answer.status <= 504) {
              // The copy's own answer when it could not relay to the stub (or found no target): not warming the relay.
              if (consecutiveFailures.incrementAndGet() >= MAX_CONSECUTIVE_FAILURES) {
                failure.compareAndSet(null, MAX_CONSECUTIVE_FAILURES + " requests in a row failed, the last answered " + answer.status);
                return;
              }
            } else {
              consecutiveFailures.set(0);
            }
            if (newClient && !answer.cookies.isEmpty()) {
              cookie = String.join("; ", answer.cookies);
            }
            if (answer.close) {
              break;
            }
          }
        } catch (IOException | RuntimeException e) {
          if (!stopping.get() && consecutiveFailures.incrementAndGet() >= MAX_CONSECUTIVE_FAILURES) {
            failure.compareAndSet(null, MAX_CONSECUTIVE_FAILURES + " requests in a row failed, the last with " + e);
            return;
          }
        } finally {
          if (socket != null) {
            closeQuietly(socket);
            synchronized (sockets) {
              sockets.remove(socket);
            }
          }
        }
      }
    }

    /**
     * Request {@code n} of a connection: a load tool's bare {@code GET} (host and cookie only) or a browser's, with
     * its usual headers and a path of a few shapes, in turn, so that the parser's and the header rewrite's
     * branches are taken as real clients take them.
     */
    private byte[] request(int n, String cookie) {
      StringBuilder request = new StringBuilder(512);
      if (n % 2 == 0) {
        request.append("GET / HTTP/1.1\r\nHost: 127.0.0.1:").append(port).append("\r\n");
      } else {
        request.append("GET ").append(PATHS[n / 2 % PATHS.length]).append(" HTTP/1.1\r\nHost: 127.0.0.1:").append(port)
            .append("\r\nUser-Agent: Mozilla/5.0 (affinity warm-up)\r\nAccept: text/html,application/json;q=0.9,*/*;q=0.8")
            .append("\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.7\r\n");
      }
      if (cookie != null) {
        request.append("Cookie: ").append(cookie).append("\r\n");
      }
      return request.append("\r\n").toString().getBytes(ISO_8859_1);
    }
  }

  /** The parts of an HTTP/1.1 answer the clients need; the body is read and dropped. */
  private record Answer(int status, List<String> cookies, boolean close) {
    static Answer read(InputStream input) throws IOException {
      String statusLine = line(input);
      if (!statusLine.startsWith("HTTP/1.1 ") || statusLine.length() < 12) {
        throw new IOException("not an HTTP/1.1 answer: " + statusLine);
      }
      int status = Integer.parseInt(statusLine.substring(9, 12));
      List<String> cookies = new ArrayList<>(2);
      long length = -1;
      boolean chunked = false;
      boolean close = false;
      for (String line = line(input); !line.isEmpty(); line = line(input)) {
        int colon = line.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = line.substring(colon + 1).trim();
        switch (name) {
          case "content-length" -> length = Long.parseLong(value);
          case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
          case "connection" -> close = value.equalsIgnoreCase("close");
          case "set-cookie" -> {
            int semicolon = value.indexOf(';');
            cookies.add(semicolon < 0 ? value : value.substring(0, semicolon));
          }
          default -> { }
        }
      }
      if (chunked) {
        for (long size = Long.parseLong(chunkSize(line(input)), 16); size > 0; size = Long.parseLong(chunkSize(line(input)), 16)) {
          skip(input, size);
          line(input);
        }
        while (!line(input).isEmpty()) {
          // trailers
        }
      } else if (length > 0) {
        skip(input, length);
      } else if (length < 0 && status >= 200 && status != 204 && status != 304) {
        close = true;  // a body up to the close: not worth reading
      }
      return new Answer(status, cookies, close);
    }

    private static String chunkSize(String line) {
      int semicolon = line.indexOf(';');
      return (semicolon < 0 ? line : line.substring(0, semicolon)).trim();
    }
  }

  /**
   * The target the copy relays to: answers every HTTP/1.1 request on a kept-alive connection with a small
   * {@code 200}, a thread per connection (there are a handful). With {@code answers} false it closes each
   * connection as it comes, which fails every request relayed to it.
   */
  static final class StubTarget implements Closeable {
    /** What an application server answers, headers and all; one in {@value #SESSION_EVERY} sets its own session cookie. */
    private static final byte[] ANSWER = answer("");
    private static final byte[] ANSWER_WITH_SESSION = answer("Set-Cookie: JSESSIONID=w4rmup0000000000; Path=/; HttpOnly\r\n");
    private static final int SESSION_EVERY = 8;
    private final ServerSocket server;
    private final List<Socket> connections = new ArrayList<>();
    private final boolean answers;
    private volatile boolean closed;

    StubTarget(boolean answers) throws IOException {
      this.answers = answers;
      this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
      Thread acceptor = new Thread(this::accept, "affinity-warmup-stub");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    private static byte[] answer(String extra) {
      return ("HTTP/1.1 200 OK\r\nServer: stub\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nContent-Type: text/plain\r\n"
          + "Content-Length: 8\r\nConnection: keep-alive\r\n" + extra + "\r\nwarm-up\n").getBytes(ISO_8859_1);
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    private void accept() {
      while (!closed) {
        try {
          Socket socket = server.accept();
          if (!answers) {
            socket.close();
            continue;
          }
          synchronized (connections) {
            connections.add(socket);
          }
          Thread connection = new Thread(() -> serve(socket), "affinity-warmup-stub-connection");
          connection.setDaemon(true);
          connection.start();
        } catch (IOException e) {
          // closed, or a connection that went away before it was accepted
        }
      }
    }

    private void serve(Socket socket) {
      try (socket) {
        InputStream input = new BufferedInputStream(socket.getInputStream());
        OutputStream output = socket.getOutputStream();
        for (int n = 0; !closed; n++) {
          long length = 0;
          String first = line(input);
          if (first.isEmpty()) {
            continue;
          }
          for (String line = line(input); !line.isEmpty(); line = line(input)) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
              length = Long.parseLong(line.substring(15).trim());
            }
          }
          skip(input, length);
          output.write(n % SESSION_EVERY == SESSION_EVERY - 1 ? ANSWER_WITH_SESSION : ANSWER);
          output.flush();
        }
      } catch (IOException | RuntimeException e) {
        // the copy closed the connection (or stopped)
      } finally {
        synchronized (connections) {
          connections.remove(socket);
        }
      }
    }

    @Override
    public void close() {
      closed = true;
      closeQuietly(server);
      synchronized (connections) {
        for (Socket socket : connections) {
          closeQuietly(socket);
        }
      }
    }
  }

  /** One CRLF-terminated line, ISO-8859-1, without its end; EOF before it is an {@link EOFException}. */
  private static String line(InputStream input) throws IOException {
    StringBuilder line = new StringBuilder(64);
    for (int b = input.read(); b != '\n'; b = input.read()) {
      if (b < 0) {
        throw new EOFException("connection closed");
      }
      if (b != '\r') {
        line.append((char) b);
      }
      if (line.length() > 65_536) {
        throw new IOException("a line over 64 KB");
      }
    }
    return line.toString();
  }

  private static void skip(InputStream input, long bytes) throws IOException {
    for (long left = bytes; left > 0; ) {
      long skipped = input.skip(left);
      if (skipped <= 0) {
        if (input.read() < 0) {
          throw new EOFException("connection closed in a body");
        }
        skipped = 1;
      }
      left -= skipped;
    }
  }

  private static void closeQuietly(Closeable closeable) {
    try {
      closeable.close();
    } catch (IOException e) {
      // nothing to do: it is being thrown away
    }
  }
}
