package dev.affinity.jetty;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;

/**
 * Echo messages per second through the balancer's {@link WebSocketProxy} and straight to the echo
 * target, on 127.0.0.1, in one JVM (so both numbers share the machine with the load generator).
 * Run by {@code bench/websocket-load.sh}; not a test.
 *
 * <p>Arguments: {@code connections messageBytes window seconds} (defaults 16 1024 16 10).
 */
public final class WebSocketLoad {
  private WebSocketLoad() {
  }

  public static void main(String[] args) throws Exception {
    int connections = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    int messageBytes = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
    int window = args.length > 2 ? Integer.parseInt(args[2]) : 16;
    int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
    try (WebSocketBackends backends = WebSocketBackends.start("t1")) {
      Keyring keyring = Keyring.builder().addKey("k1", Base64.getEncoder().encodeToString(new byte[32])).build();
      CodecCounters counters = CodecMetrics.counting();
      AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).metrics(counters).build(),
          CookiePolicy.defaults());
      TargetGroup group = TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
          .target("t1", backends.uri("t1"), 1).build();
      AffinityServer balancer = AffinityServer.builder(Router.builder(cookies).group(group).build(), counters).build().start();
      HttpClient http = new HttpClient();
      http.setHttpCookieStore(new HttpCookieStore.Empty());
      WebSocketCoreClient client = new WebSocketCoreClient(http, new WebSocketComponents());
      client.start();
      try {
        URI direct = URI.create("ws://127.0.0.1:" + backends.uri("t1").getPort() + "/load");
        URI proxied = URI.create("ws://127.0.0.1:" + balancer.port() + "/load");
        System.out.printf(Locale.ROOT, "websocket echo: %d connections, %d-byte binary messages, %d in flight each, %d s per run%n",
            connections, messageBytes, window, seconds);
        // Warm both paths up, then measure.
        run(client, direct, connections, messageBytes, window, Math.max(1, seconds / 3));
        run(client, proxied, connections, messageBytes, window, Math.max(1, seconds / 3));
        double d = run(client, direct, connections, messageBytes, window, seconds);
        double p = run(client, proxied, connections, messageBytes, window, seconds);
        System.out.printf(Locale.ROOT, "direct:   %,.0f messages/s%n", d);
        System.out.printf(Locale.ROOT, "balancer: %,.0f messages/s (%.0f %% of direct)%n", p, 100 * p / d);
      } finally {
        client.stop();
        balancer.stop();
      }
    }
  }

  /** Echo round trips per second over {@code connections} connections, {@code window} messages in flight on each. */
  private static double run(WebSocketCoreClient client, URI uri, int connections, int messageBytes, int window, int seconds) throws Exception {
    LongAdder echoed = new LongAdder();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Pump> pumps = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      Pump pump = new Pump(messageBytes, window, echoed, running);
      client.connect(pump, uri).get(10, TimeUnit.SECONDS);
      pumps.add(pump);
    }
    long start = System.nanoTime();
    for (Pump pump : pumps) {
      pump.start();
    }
    TimeUnit.SECONDS.sleep(seconds);
    long count = echoed.sum();
    double rate = count / ((System.nanoTime() - start) / 1e9);
    running.set(false);
    for (Pump pump : pumps) {
      pump.stop();
    }
    return rate;
  }

  /** Keeps {@code window} messages in flight on one connection. */
  private static final class Pump implements FrameHandler {
    private final byte[] payload;
    private final Semaphore credits;
    private final LongAdder echoed;
    private final AtomicBoolean running;
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile CoreSession session;
    private Thread sender;

    Pump(int messageBytes, int window, LongAdder echoed, AtomicBoolean running) {
      this.payload = new byte[messageBytes];
      this.credits = new Semaphore(window);
      this.echoed = echoed;
      this.running = running;
    }

    void start() {
      sender = new Thread(() -> {
        try {
          while (running.get()) {
            if (credits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
              session.sendFrame(new Frame(OpCode.BINARY, true, ByteBuffer.wrap(payload)), Callback.NOOP, false);
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "ws-load");
      sender.start();
    }

    void stop() throws InterruptedException {
      sender.join();
      session.close(CloseStatus.NORMAL, "done", Callback.NOOP);
      closed.await(5, TimeUnit.SECONDS);
    }

    @Override
    public void onOpen(CoreSession coreSession, Callback callback) {
      session = coreSession;
      callback.succeeded();
      coreSession.demand();
    }

    @Override
    public void onFrame(Frame frame, Callback callback) {
      if (frame.getOpCode() == OpCode.BINARY) {
        echoed.increment();
        credits.release();
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
      closed.countDown();
      callback.succeeded();
    }
  }
}
