package dev.affinity.bench.soak;

import static java.util.Objects.requireNonNull;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.CoreClientUpgradeRequest;
import org.eclipse.jetty.websocket.core.client.UpgradeListener;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;

/**
 * The soak's clients: an open-model mix at a fixed rate (each request is scheduled on a timer and its
 * latency counts from that time, so a stall shows as latency instead of as fewer requests), long-lived
 * WebSocket sessions and slowloris connections. Every client with a cookie jar notes which target
 * answered it; a change of target is a re-pin the client saw, explained when the target it left was
 * killed since its last answer from there.
 */
final class Traffic implements AutoCloseable {
  static final String COOKIE = "AFFINITY";
  /** Longer than the balancer's upstream timeout (10 s), so that a target that never answers shows as the balancer's 504. */
  private static final long TIMEOUT_SECONDS = 15;
  private static final int PIPELINE_DEPTH = 16;
  private static final String TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  /** The share of each scheduled kind, out of 100 slots; shuffled once so that kinds interleave. */
  private static final Map<Kind, Integer> MIX = new LinkedHashMap<>();

  static {
    MIX.put(Kind.STICKY_GET, 64);
    MIX.put(Kind.NEW_GET, 10);
    MIX.put(Kind.POST, 10);
    MIX.put(Kind.JUNK_COOKIE, 5);
    MIX.put(Kind.FORGED_COOKIE, 4);
    MIX.put(Kind.SHARDS_1000, 3);
    MIX.put(Kind.OVERSIZED_HEADER, 2);
    MIX.put(Kind.PIPELINED, 2);
  }

  private final URI balancer;
  private final SoakTargets targets;
  private final Recorder recorder;
  private final Params params;
  private final Kind[] schedule;
  private final HttpClient http;
  private final WebSocketCoreClient webSockets;
  private final ScheduledExecutorService timer;
  private final ExecutorService rawClients;
  private final ExecutorService slowReaders;
  private final ConcurrentLinkedQueue<Client> idle = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Due> waiting = new ConcurrentLinkedQueue<>();
  private final List<Client> clients = new ArrayList<>();
  private final List<WsSession> sessions = new ArrayList<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong observedRePins = new AtomicLong();
  private final AtomicLong toldPinned = new AtomicLong();
  private final AtomicLong toldUnpinned = new AtomicLong();
  private final AtomicLong unexplainedRePins = new AtomicLong();
  private final AtomicLong wsCutByKill = new AtomicLong();
  private final AtomicLong forgedAccepted = new AtomicLong();
  private final List<String> unexplained = Collections.synchronizedList(new ArrayList<>());
  private volatile boolean running;
  private long startNanos;
  private long issued;
  private ScheduledFuture<?> ticker;

  record Params(double rate, int clients, int webSockets, double wsMessagesPerSecond, Duration wsSessionLength,
      int slowloris, Duration headTimeout, long seed) {
    Params {
      if (!(rate > 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException("rate must be > 0 requests per second, got " + rate);
      }
      if (clients < 1) {
        throw new IllegalArgumentException("clients must be at least 1, got " + clients);
      }
      requireNonNull(wsSessionLength, "wsSessionLength");
      requireNonNull(headTimeout, "headTimeout");
    }
  }

  private record Due(Kind kind, long intendedNanos) {
  }

  Traffic(URI balancer, SoakTargets targets, Recorder recorder, Params params) throws Exception {
    this.balancer = requireNonNull(balancer, "balancer");
    this.targets = requireNonNull(targets, "targets");
    this.recorder = requireNonNull(recorder, "recorder");
    this.params = requireNonNull(params, "params");
    List<Kind> slots = new ArrayList<>();
    MIX.forEach((kind, n) -> {
      for (int i = 0; i < n; i++) {
        slots.add(kind);
      }
    });
    Collections.shuffle(slots, new Random(params.seed()));
    this.schedule = slots.toArray(new Kind[0]);
    QueuedThreadPool executor = new QueuedThreadPool(48, 4);
    executor.setName("soak-client");
    http = new HttpClient();
    http.setExecutor(executor);
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    // A bounded pool keeps the balancer's descriptor count from following the clients' concurrency;
    // requests beyond it wait in the client, and their latency still counts from the scheduled time.
    http.setMaxConnectionsPerDestination(32);
    // Shorter than the balancer's 30 s idle timeout, so that the client, not the server, closes idle
    // connections: otherwise a request sent as the server closes fails for reasons of its own.
    http.setIdleTimeout(20_000);
    http.setConnectTimeout(5_000);
    http.setUserAgentField(null);
    http.start();
    webSockets = new WebSocketCoreClient(http, new WebSocketComponents());
    webSockets.start();
    timer = Executors.newScheduledThreadPool(2, daemon("soak-timer"));
    rawClients = Executors.newFixedThreadPool(4, daemon("soak-raw"));
    slowReaders = Executors.newFixedThreadPool(Math.max(1, params.slowloris()), daemon("soak-slowloris"));
    for (int i = 0; i < params.clients(); i++) {
      Client c = new Client(i);
      clients.add(c);
      idle.add(c);
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  void start() {
    running = true;
    startNanos = System.nanoTime();
    ticker = timer.scheduleAtFixedRate(this::tick, 0, 5, TimeUnit.MILLISECONDS);
    for (int i = 0; i < params.webSockets(); i++) {
      WsSession s = new WsSession(new Client(-1 - i));
      sessions.add(s);
      // Spread the sessions' starts (and so their ends) over one session length.
      long delay = params.wsSessionLength().toMillis() * i / Math.max(1, params.webSockets());
      timer.schedule(() -> s.connect(System.nanoTime()), delay, TimeUnit.MILLISECONDS);
    }
    for (int i = 0; i < params.slowloris(); i++) {
      slowReaders.execute(this::slowlorisLoop);
    }
  }

  /** Issues every request due since the last tick, each with the time it was due. */
  private void tick() {
    if (!running) {
      return;
    }
    try {
      long now = System.nanoTime();
      long due = (long) ((now - startNanos) / 1e9 * params.rate());
      for (; issued < due; issued++) {
        long intended = startNanos + (long) (issued * 1e9 / params.rate());
        dispatch(new Due(schedule[(int) (issued % schedule.length)], intended));
      }
    } catch (RuntimeException e) {
      // A scheduled task that throws is never run again: note it and go on.
      recorder.error(Kind.STICKY_GET, 0, "scheduler: " + e, false);
    }
  }

  private void dispatch(Due due) {
    switch (due.kind()) {
      case STICKY_GET, POST -> {
        Client c = idle.poll();
        if (c == null) {
          waiting.add(due);
        } else {
          send(c, due);
        }
      }
      case NEW_GET -> newClient(due);
      case JUNK_COOKIE, FORGED_COOKIE -> badCookie(due);
      case SHARDS_1000, OVERSIZED_HEADER, PIPELINED -> rawClients.execute(() -> raw(due));
      default -> throw new IllegalStateException("not a scheduled kind: " + due.kind());
    }
  }

  private void release(Client c) {
    Due next = waiting.poll();
    if (next != null) {
      send(c, next);
      return;
    }
    idle.add(c);
    // A request may have been queued between the poll and the add.
    Due late = waiting.poll();
    if (late != null) {
      Client again = idle.poll();
      if (again != null) {
        send(again, late);
      } else {
        waiting.add(late);
      }
    }
  }

  private void send(Client c, Due due) {
    boolean post = due.kind() == Kind.POST;
    Snapshot epochs = snapshot();
    Request request = http.newRequest(balancer.resolve(post ? "/orders" : "/items/" + c.id))
        .method(post ? HttpMethod.POST : HttpMethod.GET)
        .timeout(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    String cookie = c.cookieHeader();
    if (cookie != null) {
      request.headers(h -> h.put(HttpHeader.COOKIE, cookie));
    }
    int bodyBytes = post ? 1024 + ThreadLocalRandom.current().nextInt(15 * 1024) : 0;
    if (post) {
      byte[] body = new byte[bodyBytes];
      ThreadLocalRandom.current().nextBytes(body);
      request.body(new BytesRequestContent("application/octet-stream", body));
    }
    inFlight.incrementAndGet();
    request.send(new BufferingResponseListener(64 * 1024) {
      @Override
      public void onComplete(Result result) {
        long latency = System.nanoTime() - due.intendedNanos();
        inFlight.decrementAndGet();
        try {
          if (result.isFailed()) {
            recorder.error(due.kind(), latency, reason(result.getFailure()), false);
            return;
          }
          Response response = result.getResponse();
          int status = response.getStatus();
          if (status != 200) {
            recorder.error(due.kind(), latency, "status " + status, status >= 500);
            return;
          }
          String backend = response.getHeaders().get("X-Backend");
          if (post && !getContentAsString().endsWith(" " + bodyBytes)) {
            recorder.error(due.kind(), latency, "the target did not read the whole body", false);
            return;
          }
          c.answered(backend, response.getHeaders().get(SoakTargets.SEEN_PREVIOUS),
              response.getHeaders().getValuesList(HttpHeader.SET_COOKIE), epochs);
          recorder.ok(due.kind(), latency);
        } finally {
          release(c);
        }
      }
    });
  }

  private void newClient(Due due) {
    Snapshot atSend = snapshot();
    inFlight.incrementAndGet();
    http.newRequest(balancer.resolve("/welcome")).timeout(TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .send(new BufferingResponseListener() {
          @Override
          public void onComplete(Result result) {
            long latency = System.nanoTime() - due.intendedNanos();
            inFlight.decrementAndGet();
            if (result.isFailed()) {
              recorder.error(Kind.NEW_GET, latency, reason(result.getFailure()), false);
            } else if (result.getResponse().getStatus() != 200) {
              int status = result.getResponse().getStatus();
              recorder.error(Kind.NEW_GET, latency, "status " + status, status >= 500);
            } else if (!hasAffinityCookie(result.getResponse().getHeaders().getValuesList(HttpHeader.SET_COOKIE))) {
              recorder.error(Kind.NEW_GET, latency, "a new client was not pinned (no Set-Cookie)", false);
            } else {
              toldUnpinned(Kind.NEW_GET, result.getResponse().getHeaders().get(SoakTargets.SEEN_PREVIOUS), atSend);
              recorder.ok(Kind.NEW_GET, latency);
            }
          }
        });
  }

  /** Junk or forged cookies: answered 200 as a new client, pinned afresh (a forged token never opens). */
  private void badCookie(Due due) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    String value;
    if (due.kind() == Kind.FORGED_COOKIE) {
      String token = clients.get(random.nextInt(clients.size())).token();
      if (token == null || token.length() < 8) {
        token = randomToken(random, 60);
      }
      // Change one character well inside the token: the last one may only carry spare bits.
      int at = 2 + random.nextInt(token.length() - 4);
      char was = token.charAt(at);
      char now;
      do {
        now = TOKEN_CHARS.charAt(random.nextInt(TOKEN_CHARS.length()));
      } while (now == was);
      value = token.substring(0, at) + now + token.substring(at + 1);
    } else {
      value = switch (random.nextInt(4)) {
        case 0 -> "";
        case 1 -> randomToken(random, 1 + random.nextInt(300));
        case 2 -> "%00%ff\\\"" + randomToken(random, 20);
        default -> "2.";
      };
    }
    String cookie = COOKIE + "=" + value;
    Snapshot atSend = snapshot();
    inFlight.incrementAndGet();
    http.newRequest(balancer.resolve("/items/bad")).timeout(TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .headers(h -> h.put(HttpHeader.COOKIE, cookie))
        .send(new BufferingResponseListener() {
          @Override
          public void onComplete(Result result) {
            long latency = System.nanoTime() - due.intendedNanos();
            inFlight.decrementAndGet();
            if (result.isFailed()) {
              recorder.error(due.kind(), latency, reason(result.getFailure()), false);
              return;
            }
            int status = result.getResponse().getStatus();
            if (status == 400) {
              // Jetty refuses some junk (bytes a cookie may not hold) itself: a clear answer.
              recorder.ok(due.kind(), latency);
            } else if (status != 200) {
              recorder.error(due.kind(), latency, "status " + status, status >= 500);
            } else if (!hasAffinityCookie(result.getResponse().getHeaders().getValuesList(HttpHeader.SET_COOKIE))) {
              if (due.kind() == Kind.FORGED_COOKIE) {
                forgedAccepted.incrementAndGet();
              }
              recorder.error(due.kind(), latency, "answered as a pinned client: the cookie was not refused", false);
            } else {
              toldUnpinned(due.kind(), result.getResponse().getHeaders().get(SoakTargets.SEEN_PREVIOUS), atSend);
              recorder.ok(due.kind(), latency);
            }
          }
        });
  }

  private static String randomToken(ThreadLocalRandom random, int length) {
    StringBuilder b = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      b.append(TOKEN_CHARS.charAt(random.nextInt(TOKEN_CHARS.length())));
    }
    return b.toString();
  }

  /** The hostile clients that need a raw socket: 1000 shards, an oversized head, a pipelining flood. */
  private void raw(Due due) {
    Kind kind = due.kind();
    Snapshot atSend = snapshot();
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(balancer.getHost(), balancer.getPort()), 5_000);
      socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
      OutputStream out = socket.getOutputStream();
      InputStream in = new BufferedInputStream(socket.getInputStream());
      switch (kind) {
        case SHARDS_1000 -> {
          StringBuilder cookie = new StringBuilder(COOKIE + "-0=1000.");
          ThreadLocalRandom random = ThreadLocalRandom.current();
          for (int i = 1; i < 1000; i++) {
            cookie.append("; ").append(COOKIE).append('-').append(i).append('=').append(randomToken(random, 8));
          }
          out.write(head("GET /items/shards", "Cookie: " + cookie));
          RawHttp.Answer a = RawHttp.read(in, false);
          toldUnpinned(kind, a.seenPrevious(), atSend);
          expect(kind, due, a.status(), 200);
        }
        case OVERSIZED_HEADER -> {
          out.write(head("GET /items/big", "X-Big: " + "x".repeat(40 * 1024)));
          RawHttp.Answer a = RawHttp.read(in, false);
          expect(kind, due, a.status(), 431);
        }
        case PIPELINED -> {
          StringBuilder flood = new StringBuilder();
          for (int i = 0; i < PIPELINE_DEPTH; i++) {
            flood.append("GET /items/pipe-").append(i).append(" HTTP/1.1\r\nHost: soak\r\n\r\n");
          }
          out.write(flood.toString().getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
          for (int i = 0; i < PIPELINE_DEPTH; i++) {
            RawHttp.Answer a = RawHttp.read(in, false);
            toldUnpinned(kind, a.seenPrevious(), atSend);
            expect(kind, due, a.status(), 200);
          }
        }
        default -> throw new IllegalStateException("not a raw kind: " + kind);
      }
    } catch (IOException | RuntimeException e) {
      recorder.error(kind, System.nanoTime() - due.intendedNanos(), reason(e), false);
    }
  }

  private static byte[] head(String requestLine, String header) {
    return (requestLine + " HTTP/1.1\r\nHost: soak\r\n" + header + "\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
  }

  private void expect(Kind kind, Due due, int status, int expected) {
    long latency = System.nanoTime() - due.intendedNanos();
    if (status == expected) {
      recorder.ok(kind, latency);
    } else {
      recorder.error(kind, latency, "status " + status + " (expected " + expected + ")", status >= 500);
    }
  }

  /**
   * Slowloris: a request head trickled a byte every 250 ms, forever. The balancer must end it (408 or
   * a close) within its head timeout; the time it held the connection is this kind's "latency".
   */
  private void slowlorisLoop() {
    long limitNanos = params.headTimeout().toNanos() + TimeUnit.SECONDS.toNanos(3);
    while (running) {
      long opened = System.nanoTime();
      ScheduledFuture<?> trickle = null;
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(balancer.getHost(), balancer.getPort()), 5_000);
        socket.setSoTimeout((int) TimeUnit.NANOSECONDS.toMillis(limitNanos * 3));
        OutputStream out = socket.getOutputStream();
        out.write("GET /items/slow HTTP/1.1\r\nHost: soak\r\nX-Slow: ".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        trickle = timer.scheduleAtFixedRate(() -> {
          try {
            out.write('a');
            out.flush();
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);  // ends this trickle: the connection is gone
          }
        }, 250, 250, TimeUnit.MILLISECONDS);
        int status = -1;
        try {
          status = RawHttp.read(new BufferedInputStream(socket.getInputStream()), false).status();
        } catch (EOFException | java.net.SocketException closed) {
          // closed without an answer: as good as a 408
        }
        long held = System.nanoTime() - opened;
        if (status >= 500) {
          recorder.error(Kind.SLOWLORIS, held, "status " + status, true);
        } else if (status != -1 && status != 408 && status != 400) {
          recorder.error(Kind.SLOWLORIS, held, "status " + status + " (expected 408 or a close)", false);
        } else if (held > limitNanos) {
          recorder.error(Kind.SLOWLORIS, held, "held longer than the head timeout + 3 s", false);
        } else {
          recorder.ok(Kind.SLOWLORIS, held);
        }
      } catch (IOException | RuntimeException e) {
        if (running) {
          recorder.error(Kind.SLOWLORIS, System.nanoTime() - opened, reason(e), false);
        }
      } finally {
        if (trickle != null) {
          trickle.cancel(false);
        }
      }
    }
  }

  /** Each target's kill count and whether it is up, when a request leaves. */
  private record Snapshot(int[] kills, boolean[] up) {
  }

  private Snapshot snapshot() {
    List<SoakTargets.Target> all = targets.all();
    int[] kills = new int[all.size()];
    boolean[] up = new boolean[all.size()];
    for (int i = 0; i < kills.length; i++) {
      kills[i] = all.get(i).kills.get();
      up[i] = all.get(i).isUp();
    }
    return new Snapshot(kills, up);
  }

  private void unexplained(String what) {
    unexplainedRePins.incrementAndGet();
    synchronized (unexplained) {
      if (unexplained.size() < 20) {
        unexplained.add(what);
      }
    }
  }

  /**
   * A request without a pin was told it was moved ({@code previous}: the balancer retried it on another
   * target): explained when that target was down when the request left or was killed while it ran.
   */
  private void toldUnpinned(Kind kind, String previous, Snapshot atSend) {
    if (previous == null) {
      return;
    }
    toldUnpinned.incrementAndGet();
    if (upAndNotKilledSince(previous, atSend)) {
      unexplained(kind.label() + ": moved from " + previous + ", which was up and not killed while the request ran");
    }
  }

  /**
   * Whether nothing explains a move away from {@code targetId}: it is unknown, or it was up when the
   * request left and no kill of it has started since.
   */
  private boolean upAndNotKilledSince(String targetId, Snapshot atSend) {
    SoakTargets.Target t = targets.byId(targetId);
    int index = t == null ? -1 : targets.all().indexOf(t);
    return index < 0 || (atSend.up()[index] && t.killsStarted.get() == atSend.kills()[index]);
  }

  private static boolean hasAffinityCookie(List<String> setCookies) {
    for (String s : setCookies) {
      if (s.startsWith(COOKIE + "=") || s.startsWith(COOKIE + "-")) {
        return true;
      }
    }
    return false;
  }

  static String reason(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage();
    return root.getClass().getSimpleName() + (message == null ? "" : ": " + RawHttp.abbreviate(message.replaceAll("\\s+", " ")));
  }

  /** Pinned clients (GET, POST, WebSocket) whose answer came from another target than their last one. */
  long observedRePins() {
    return observedRePins.get();
  }

  /** Answers to pinned clients that carried the balancer's previous-target header. */
  long toldPinned() {
    return toldPinned.get();
  }

  /** Answers to requests without a pin that carried it: retried on another target after a refused connection. */
  long toldUnpinned() {
    return toldUnpinned.get();
  }

  long unexplainedRePins() {
    return unexplainedRePins.get();
  }

  List<String> unexplainedExamples() {
    synchronized (unexplained) {
      return new ArrayList<>(unexplained);
    }
  }

  long webSocketsCutByKill() {
    return wsCutByKill.get();
  }

  long forgedAccepted() {
    return forgedAccepted.get();
  }

  /** Requests due but not yet sent because every pinned client was busy: a backlog that grows is a stall. */
  int backlog() {
    return waiting.size();
  }

  /** Schedules nothing more: no new request, WebSocket session or slowloris connection. */
  void stopScheduling() {
    running = false;
    if (ticker != null) {
      ticker.cancel(false);
    }
    for (WsSession s : sessions) {
      s.stop();
    }
  }

  /** Waits until every request sent has its answer and the raw clients are done, at most {@code limit}. */
  void awaitQuiet(Duration limit) throws InterruptedException {
    rawClients.shutdown();
    long deadline = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < deadline && (inFlight.get() > 0 || !waiting.isEmpty())) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
    rawClients.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
  }

  @Override
  public void close() throws Exception {
    running = false;
    if (ticker != null) {
      ticker.cancel(false);
    }
    for (WsSession s : sessions) {
      s.stop();
    }
    timer.shutdownNow();
    rawClients.shutdownNow();
    slowReaders.shutdownNow();
    webSockets.stop();
    http.stop();
  }

  /** A client with a cookie jar (the affinity cookie only) and the target that answered it last. */
  final class Client {
    final int id;
    private final Map<String, String> jar = new ConcurrentHashMap<>();
    private volatile String backend;
    private volatile int backendEpoch;

    Client(int id) {
      this.id = id;
    }

    String cookieHeader() {
      if (jar.isEmpty()) {
        return null;
      }
      StringBuilder b = new StringBuilder();
      jar.forEach((name, value) -> b.append(b.length() == 0 ? "" : "; ").append(name).append('=').append(value));
      return b.toString();
    }

    String token() {
      return jar.get(COOKIE);
    }

    void setCookies(List<String> setCookies) {
      for (String s : setCookies) {
        int semi = s.indexOf(';');
        String pair = semi < 0 ? s : s.substring(0, semi);
        int eq = pair.indexOf('=');
        if (eq <= 0) {
          continue;
        }
        String name = pair.substring(0, eq).trim();
        String value = pair.substring(eq + 1).trim();
        if (s.toLowerCase(java.util.Locale.ROOT).contains("max-age=0") || value.isEmpty()) {
          jar.remove(name);
        } else {
          jar.put(name, value);
        }
      }
    }

    /**
     * An answer from {@code now}: a re-pin when it is not the target of the last answer, explained when
     * that target was killed since (its kill count passed the one seen when that answer's request left).
     */
    void answered(String now, String told, List<String> setCookies, Snapshot atSend) {
      setCookies(setCookies);
      if (now == null) {
        return;
      }
      String before = backend;
      if (told != null) {
        (before == null ? toldUnpinned : toldPinned).incrementAndGet();
      }
      if (before == null) {
        if (told != null) {
          // A client's first answer: it was moved only by a retry after a refused connection.
          if (upAndNotKilledSince(told, atSend)) {
            unexplained("client " + id + ": its first answer moved from " + told + ", which was up and not killed meanwhile");
          }
        }
      } else if (!before.equals(now)) {
        observedRePins.incrementAndGet();
        SoakTargets.Target left = targets.byId(before);
        if (left == null || left.killsStarted.get() == backendEpoch) {
          unexplained("client " + id + ": " + before + " -> " + now + " without a kill of " + before);
        } else if (!before.equals(told)) {
          unexplained("client " + id + ": " + before + " -> " + now + " but the target was told the previous one was " + told);
        }
      } else if (told != null) {
        unexplained("client " + id + ": stayed on " + now + " but the target was told it came from " + told);
      }
      SoakTargets.Target t = targets.byId(now);
      int index = t == null ? -1 : targets.all().indexOf(t);
      backend = now;
      backendEpoch = index < 0 ? 0 : atSend.kills()[index];
    }
  }

  /**
   * One WebSocket client at a time per session: upgrades with its cookie, asks which target it reached
   * ({@code who}: a re-pin when the target changed), echoes a message every 1/rate seconds, closes
   * normally after the session length and connects again. A session the balancer cuts because its
   * target was killed is counted apart; any other cut, or an echo that never comes back, is an error.
   */
  private final class WsSession implements FrameHandler {
    private final Client client;
    private final Map<Long, Long> outstanding = new ConcurrentHashMap<>();
    private volatile CoreSession session;
    private volatile ScheduledFuture<?> pump;
    private volatile Snapshot epochsAtUpgrade;
    private volatile boolean closing;
    private volatile boolean stopped;
    private long sequence;
    private long openedNanos;

    WsSession(Client client) {
      this.client = client;
    }

    void connect(long intendedNanos) {
      if (stopped || !running) {
        return;
      }
      closing = false;
      epochsAtUpgrade = snapshot();
      CoreClientUpgradeRequest upgrade = CoreClientUpgradeRequest.from(webSockets,
          URI.create("ws://" + balancer.getHost() + ":" + balancer.getPort() + "/ws"), this);
      String cookie = client.cookieHeader();
      if (cookie != null) {
        upgrade.headers(h -> h.put(HttpHeader.COOKIE, cookie));
      }
      upgrade.timeout(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      upgrade.addListener(new UpgradeListener() {
        @Override
        public void onHandshakeResponse(Request request, Response response) {
          client.setCookies(response.getHeaders().getValuesList(HttpHeader.SET_COOKIE));
        }
      });
      try {
        webSockets.connect(upgrade).whenComplete((s, failure) -> {
          long latency = System.nanoTime() - intendedNanos;
          if (failure != null) {
            recorder.error(Kind.WS_UPGRADE, latency, reason(failure), failure.getMessage() != null
                && failure.getMessage().contains(" 50"));
            retryLater();
          } else {
            recorder.ok(Kind.WS_UPGRADE, latency);
          }
        });
      } catch (IOException | RuntimeException e) {
        recorder.error(Kind.WS_UPGRADE, System.nanoTime() - intendedNanos, reason(e), false);
        retryLater();
      }
    }

    private void retryLater() {
      if (running && !stopped) {
        long at = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
        timer.schedule(() -> connect(at), 200, TimeUnit.MILLISECONDS);
      }
    }

    @Override
    public void onOpen(CoreSession coreSession, Callback callback) {
      session = coreSession;
      openedNanos = System.nanoTime();
      outstanding.clear();
      callback.succeeded();
      coreSession.demand();
      coreSession.sendFrame(new Frame(OpCode.TEXT, "who"), Callback.NOOP, false);
      long periodNanos = (long) (1e9 / params.wsMessagesPerSecond());
      long first = System.nanoTime() + periodNanos;
      long[] n = {0};
      pump = timer.scheduleAtFixedRate(() -> {
        CoreSession s = session;
        if (s == null || closing) {
          return;
        }
        long intended = first + n[0]++ * periodNanos;
        if (System.nanoTime() - openedNanos > params.wsSessionLength().toNanos()) {
          closeNormally(s);
          return;
        }
        long seq = sequence++;
        outstanding.put(seq, intended);
        s.sendFrame(new Frame(OpCode.TEXT, "echo " + seq), Callback.NOOP, false);
        checkStale();
      }, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }

    private void checkStale() {
      long now = System.nanoTime();
      outstanding.entrySet().removeIf(e -> {
        if (now - e.getValue() > TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS)) {
          recorder.error(Kind.WS_ECHO, now - e.getValue(), "no echo within " + TIMEOUT_SECONDS + " s", false);
          return true;
        }
        return false;
      });
    }

    private void closeNormally(CoreSession s) {
      closing = true;
      s.close(CloseStatus.NORMAL, "session over", Callback.NOOP);
    }

    @Override
    public void onFrame(Frame frame, Callback callback) {
      if (frame.getOpCode() == OpCode.TEXT) {
        String text = frame.getPayloadAsUTF8();
        if (text.startsWith("who ")) {
          String[] who = text.split(" ");
          client.answered(who[1], who[2].equals("-") ? null : who[2], List.of(), epochsAtUpgrade);
        } else if (text.startsWith("echo ")) {
          Long intended = outstanding.remove(Long.parseLong(text.substring(5)));
          if (intended != null) {
            recorder.ok(Kind.WS_ECHO, System.nanoTime() - intended);
          }
        }
      }
      callback.succeeded();
      CoreSession s = session;
      if (s != null) {
        s.demand();
      }
    }

    @Override
    public void onError(Throwable cause, Callback callback) {
      callback.succeeded();
    }

    @Override
    public void onClosed(CloseStatus closeStatus, Callback callback) {
      callback.succeeded();
      ScheduledFuture<?> p = pump;
      if (p != null) {
        p.cancel(false);
      }
      session = null;
      int lost = outstanding.size();
      outstanding.clear();
      boolean normal = closing && closeStatus.getCode() == CloseStatus.NORMAL;
      if (!normal && !stopped && running) {
        String backend = client.backend;
        SoakTargets.Target t = backend == null ? null : targets.byId(backend);
        if (t != null && t.killsStarted.get() != client.backendEpoch) {
          wsCutByKill.incrementAndGet();
        } else {
          recorder.error(Kind.WS_ECHO, 0, "session closed " + closeStatus.getCode() + " " + closeStatus.getReason()
              + " with " + lost + " echoes outstanding", closeStatus.getCode() == CloseStatus.SERVER_ERROR);
        }
      }
      if (!stopped && running) {
        long at = System.nanoTime();
        timer.execute(() -> connect(at));
      }
    }

    void stop() {
      stopped = true;
      ScheduledFuture<?> p = pump;
      if (p != null) {
        p.cancel(false);
      }
      CoreSession s = session;
      if (s != null) {
        s.close(CloseStatus.NORMAL, "soak over", Callback.NOOP);
      }
    }
  }
}
