package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The defaults a proxy needs and Jetty's generic ones miss, on a real server: a thread pool sized by
 * CPUs, a health checker whose pool idles at two threads, a buffer pool that keeps a bounded amount of memory,
 * and an accept queue that holds a burst of new connections.
 */
class ProxyDefaultsTest extends BalancerTestBase {
  private final List<SocketChannel> channels = new ArrayList<>();

  @AfterEach
  void closeChannels() throws IOException {
    for (SocketChannel c : channels) {
      c.close();
    }
  }

  private void startServer(boolean acceptAtStart) throws Exception {
    backends = Backends.start("a");
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(),
        CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399,
            Duration.ofSeconds(10)))
        .target("a", backends.uri("a"), 1).build();
    balancer = AffinityServer.builder(Router.builder(cookies).group(web).build(), counters).clock(clock)
        .acceptAtStart(acceptAtStart).build().start();
    startClient();
  }

  @Test
  void theThreadPoolIsEightPerCpuBetweenThirtyTwoAndTwoHundred() throws Exception {
    assertThat(Limits.defaultThreads(1)).isEqualTo(32);
    assertThat(Limits.defaultThreads(4)).isEqualTo(32);
    assertThat(Limits.defaultThreads(8)).isEqualTo(64);
    assertThat(Limits.defaultThreads(16)).isEqualTo(128);
    assertThat(Limits.defaultThreads(25)).isEqualTo(200);
    assertThat(Limits.defaultThreads(96)).isEqualTo(200);
    assertThatThrownBy(() -> Limits.defaultThreads(0)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Limits.defaults().threads()).isEqualTo(Limits.defaultThreads(Runtime.getRuntime().availableProcessors()));

    startServer(true);
    assertThat(((QueuedThreadPool) balancer.server().getThreadPool()).getMaxThreads()).isEqualTo(Limits.DEFAULT_THREADS);
    assertThat(http.GET(balancer.uri()).getStatus()).isEqualTo(200);
  }

  @Test
  void theHealthCheckerIdlesAtTwoThreadsAndTheClientToTargetsSharesTheServersBuffers() throws Exception {
    startServer(true);
    // Off the direct relay (a body): Jetty's client, on the server's buffer pool, whose retained memory is capped.
    assertThat(http.POST(balancer.uri()).body(new org.eclipse.jetty.client.StringRequestContent("x")).send().getStatus())
        .isEqualTo(200);
    HttpClient proxyClient = balancer.balancer().getHttpClient();
    assertThat(proxyClient.getByteBufferPool()).isSameAs(balancer.server().getByteBufferPool());
    QueuedThreadPool clientThreads = (QueuedThreadPool) proxyClient.getExecutor();
    assertThat(clientThreads.getName()).isEqualTo("proxy-client");
    // Non-blocking, so no larger than the server's pool (Jetty's 200 grew to ~50 threads in a burst of new clients).
    assertThat(clientThreads.getMaxThreads()).isEqualTo(Limits.DEFAULT_THREADS);
    assertThat(AffinityBalancer.clientThreads(new QueuedThreadPool(500)).getMaxThreads()).isEqualTo(200);
    assertThat(AffinityBalancer.clientThreads(new QueuedThreadPool(4, 1)).getMaxThreads()).isEqualTo(8);
    // The health checker's probes, a few a second at most: a pool that idles at two threads, not eight.
    QueuedThreadPool health = (QueuedThreadPool) balancer.healthChecker().getBean(HttpClient.class).getExecutor();
    assertThat(health.getName()).isEqualTo("affinity-health");
    assertThat(health.getMinThreads()).isEqualTo(AffinityThreadPool.CLIENT_MIN_THREADS);
    assertThat(health.getMaxThreads()).isEqualTo(200);
    // And it checks: the target it probed at the start is healthy and serves.
    assertThat(http.GET(balancer.uri()).getStatus()).isEqualTo(200);
  }

  @Test
  void releasedBuffersPastTheCapAreFreedInsteadOfKept() throws Exception {
    startServer(true);
    ArrayByteBufferPool pool = (ArrayByteBufferPool) balancer.server().getByteBufferPool();
    long cap = Math.min(AffinityServer.MAX_POOLED_DIRECT_BYTES, Runtime.getRuntime().maxMemory() / 8);
    // Twice the cap in 32 KiB direct buffers at once (a burst of connections), then all released.
    List<RetainableByteBuffer> held = new ArrayList<>();
    for (long bytes = 0; bytes < 2 * cap; bytes += 32 * 1024) {
      held.add(pool.acquire(32 * 1024, true));
    }
    held.forEach(RetainableByteBuffer::release);
    assertThat(pool.getDirectMemory()).as("direct memory the pool keeps").isPositive().isLessThanOrEqualTo(cap);

    // A small heap: an eighth of it, as Jetty's own rule would give.
    ArrayByteBufferPool small = AffinityServer.bufferPool(64L * 1024 * 1024);
    held.clear();
    for (int i = 0; i < 512; i++) {
      held.add(small.acquire(32 * 1024, true));
      held.add(small.acquire(32 * 1024, false));
    }
    held.forEach(RetainableByteBuffer::release);
    assertThat(small.getDirectMemory()).isPositive().isLessThanOrEqualTo(8L * 1024 * 1024);
    assertThat(small.getHeapMemory()).isPositive().isLessThanOrEqualTo(8L * 1024 * 1024);
    // A large one: the caps, not a quarter of the machine's memory.
    ArrayByteBufferPool large = AffinityServer.bufferPool(6L * 1024 * 1024 * 1024);
    held.clear();
    for (int i = 0; i < 2048; i++) {
      held.add(large.acquire(32 * 1024, true));
    }
    held.forEach(RetainableByteBuffer::release);
    assertThat(large.getDirectMemory()).isPositive().isLessThanOrEqualTo(AffinityServer.MAX_POOLED_DIRECT_BYTES);
  }

  @Test
  void aBurstOfNewConnectionsWaitsInTheAcceptQueueInsteadOfBeingDropped() throws Exception {
    // Not accepting yet: every new connection waits in the kernel's queue for the listener. With the
    // JDK's 50, the SYNs past the 51st would be dropped and retried a second, three seconds... later.
    startServer(false);
    ServerConnector connector = (ServerConnector) balancer.server().getConnectors()[0];
    assertThat(connector.getAcceptQueueSize()).isEqualTo(AffinityServer.ACCEPT_QUEUE_SIZE);
    int burst = 300;
    for (int i = 0; i < burst; i++) {
      SocketChannel c = SocketChannel.open();
      channels.add(c);
      c.configureBlocking(false);
      c.connect(new InetSocketAddress("127.0.0.1", balancer.port()));
    }
    // Well under the first SYN retry (1 s): all were queued at once, none dropped.
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(800);
    int connected = 0;
    while (connected < burst && System.nanoTime() < deadline) {
      connected = 0;
      for (SocketChannel c : channels) {
        if (c.isConnected() || c.finishConnect()) {
          connected++;
        }
      }
      Thread.sleep(5);
    }
    assertThat(connected).as("connections the kernel completed while the balancer was not accepting").isEqualTo(burst);
    // And each is then served.
    balancer.accept();
    byte[] request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    int answered = 0;
    for (SocketChannel c : channels) {
      c.configureBlocking(true);
      c.socket().setSoTimeout(10_000);
      c.write(ByteBuffer.wrap(request));
      byte[] head = new byte[12];
      int n = c.socket().getInputStream().readNBytes(head, 0, head.length);
      if (new String(head, 0, n, StandardCharsets.US_ASCII).equals("HTTP/1.1 200")) {
        answered++;
      }
    }
    assertThat(answered).isEqualTo(burst);
  }
}
