package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.eclipse.jetty.client.ContentResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Clients and targets that misbehave: every answer is a clear status code, nothing reaches a host
 * that is not configured, and the balancer keeps serving.
 */
class HostileTrafficTest extends BalancerTestBase {
  private final List<ServerSocket> faultyTargets = new ArrayList<>();

  @AfterEach
  void closeFaultyTargets() throws Exception {
    for (ServerSocket s : faultyTargets) {
      s.close();
    }
  }

  /** A raw TCP "target" that does whatever {@code behaviour} does with each connection. */
  private URI faultyTarget(Consumer<Socket> behaviour) throws Exception {
    ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    faultyTargets.add(server);
    Thread acceptor = new Thread(() -> {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          Thread t = new Thread(() -> behaviour.accept(s));
          t.setDaemon(true);
          t.start();
        } catch (Exception e) {
          return;
        }
      }
    });
    acceptor.setDaemon(true);
    acceptor.start();
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  private void startWithSingleTarget(TargetPath path, URI target) throws Exception {
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup group = TargetGroup.builder("faulty")
        .healthCheck(new HealthCheckSettings(false, "/", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .target("faulty", target, 1).build();
    balancer = AffinityServer.builder(Router.builder(cookies).group(group).build(), counters).clock(clock).build();
    balancer.balancer().setUpstreamTimeout(Duration.ofMillis(700));
    path.applyTo(balancer.balancer());
    balancer.start();
    http = new org.eclipse.jetty.client.HttpClient();
    http.setHttpCookieStore(new org.eclipse.jetty.http.HttpCookieStore.Empty());
    http.start();
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @OverBothPaths
  void targetThatNeverAnswersGives504(TargetPath path) throws Exception {
    startWithSingleTarget(path, faultyTarget(s -> sleepQuietly(30_000)));
    ContentResponse r = http.GET(balancer.uri().resolve("/slow"));
    assertThat(r.getStatus()).isEqualTo(504);
    assertThat(r.getContentAsString()).startsWith("504 Gateway Timeout").doesNotContain("Exception");
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isEqualTo(1);
  }

  @OverBothPaths
  void aSlowAnswerThatKeepsMovingIsNotCut(TargetPath path) throws Exception {
    // 8 chunks 300 ms apart: 2.4 s in all, more than three times the 700 ms timeout, never silent that long.
    startWithSingleTarget(path, faultyTarget(s -> {
      try (s) {
        s.getInputStream().read(new byte[4096]);
        var out = s.getOutputStream();
        out.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: text/plain\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        for (int i = 0; i < 8; i++) {
          out.flush();
          sleepQuietly(300);
          out.write('0' + i);
        }
        out.flush();
        s.getInputStream().read(new byte[1]);
      } catch (Exception ignored) {
        // the balancer hung up
      }
    }));
    ContentResponse r = http.newRequest(balancer.uri().resolve("/trickle")).timeout(20, java.util.concurrent.TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("01234567");
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isZero();
  }

  @OverBothPaths
  void targetThatAnswersGarbageGives502(TargetPath path) throws Exception {
    startWithSingleTarget(path, faultyTarget(s -> {
      try (s) {
        s.getInputStream().read(new byte[4096]);
        s.getOutputStream().write("SMTP READY\r\n\r\n\0\0garbage".getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      } catch (Exception ignored) {
        // the balancer hung up
      }
    }));
    ContentResponse r = http.GET(balancer.uri().resolve("/"));
    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(r.getContentAsString()).startsWith("502 Bad Gateway");
  }

  @OverBothPaths
  void targetThatResetsMidBodyCutsTheResponseAndTheBalancerCarriesOn(TargetPath path) throws Exception {
    startWithSingleTarget(path, faultyTarget(s -> {
      try {
        s.getInputStream().read(new byte[4096]);
        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial".getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        s.setSoLinger(true, 0);
        s.close();
      } catch (Exception ignored) {
        // nothing to do
      }
    }));
    int threadsBefore = Thread.activeCount();
    for (int i = 0; i < 20; i++) {
      String raw = raw("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
      // The status line went out before the reset: the client sees a short body, never a 200 with the full length.
      assertThat(raw.length()).isLessThan(100_000);
    }
    assertThat(Thread.activeCount()).isLessThan(threadsBefore + 20);
    assertThat(balancer.server().isRunning()).isTrue();
  }

  @Test
  void oversizedCookieHeaderGets431AndSmugglingAttemptsGet400() throws Exception {
    // One path: Jetty's parser answers these before the balancer chooses a path (no target sees a request).
    startDuration("a", "b");
    String huge = "GET / HTTP/1.1\r\nHost: x\r\nCookie: AFFINITY=" + "A".repeat(40 * 1024) + "\r\nConnection: close\r\n\r\n";
    assertThat(raw(huge)).startsWith("HTTP/1.1 431");
    String clAndTe = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    assertThat(raw(clAndTe)).startsWith("HTTP/1.1 400");
    String duplicateCl = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\nConnection: close\r\n\r\nabcd";
    assertThat(raw(duplicateCl)).startsWith("HTTP/1.1 400");
    for (Backends.Backend b : backends.all()) {
      assertThat(b.lastHeaders.keySet()).doesNotContain("smuggled");
    }
    assertThat(backends.get("a").requests.get() + backends.get("b").requests.get()).isZero();
  }

  @OverBothPaths
  void thousandBogusShardsAndInjectionAttemptsAreTreatedAsAbsent(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    StringBuilder cookie = new StringBuilder("AFFINITY-0=999.x");
    for (int i = 1; i < 1000; i++) {
      cookie.append("; AFFINITY-").append(i).append("=x");
    }
    String shards = "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\nConnection: close\r\n\r\n";
    String response = raw(shards);
    assertThat(response).startsWith("HTTP/1.1 200").contains("Set-Cookie: AFFINITY=");
    String injection = "GET / HTTP/1.1\r\nHost: x\r\nCookie: AFFINITY=\"abc\\r\\nX-Injected: 1\"; AFFINITYROUTE=%0d%0aSet-Cookie:%20evil\r\nConnection: close\r\n\r\n";
    String injected = raw(injection);
    assertThat(injected).startsWith("HTTP/1.1 200").doesNotContain("X-Injected").doesNotContain("evil");
  }


  @Test
  void slowHeaderClientsAreCutOffAndDoNotStarveOthers() throws Exception {
    // One path: about the server's connections before a request is complete, when no path is chosen yet.
    backends = Backends.start("a");
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .target("a", backends.uri("a"), 1).build();
    Router router = Router.builder(cookies).group(web).build();
    balancer = AffinityServer.builder(router, counters).clock(clock).limits(Limits.builder().threads(16).idleTimeout(Duration.ofMillis(800)).build()).build().start();
    http = new org.eclipse.jetty.client.HttpClient();
    http.start();
    List<Socket> slow = new ArrayList<>();
    try {
      // More trickling clients than the balancer has threads: each sends a partial request line and stalls.
      for (int i = 0; i < 64; i++) {
        Socket s = new Socket("127.0.0.1", balancer.port());
        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        slow.add(s);
      }
      long started = System.nanoTime();
      for (int i = 0; i < 10; i++) {
        assertThat(http.GET(balancer.uri().resolve("/")).getStatus()).isEqualTo(200);
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
      // After the idle timeout every stalled connection has been closed by the balancer.
      for (Socket s : slow) {
        s.setSoTimeout(5_000);
        int read;
        try {
          read = s.getInputStream().read(new byte[1024]);
          while (read > 0) {
            read = s.getInputStream().read(new byte[1024]);
          }
        } catch (java.net.SocketException reset) {
          read = -1;
        }
        assertThat(read).as("stalled connection closed").isEqualTo(-1);
      }
      assertThat(backends.get("a").requests.get()).isEqualTo(10);
    } finally {
      for (Socket s : slow) {
        s.close();
      }
    }
  }
}
