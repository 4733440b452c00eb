package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import dev.affinity.jetty.UserAgent;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.BalancerConfigLoader;
import dev.affinity.standalone.config.TargetConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's warm-up ({@code warmup:}): it runs before the listeners open, through a copy of the balancer to a
 * stub target, and leaves no trace in the real balancer (targets, metrics, access log); a failing one does not stop
 * the start, and {@code enabled: false} turns it off. Real servers on ephemeral ports throughout.
 */
class WarmupTest {
  @TempDir
  Path dir;
  private Backends backends;
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void setUp() throws Exception {
    backends = Backends.start("web-1", "web-2");
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (running != null) {
      running.close();
    }
    http.stop();
    backends.close();
    AccessLogAppenders.flush();
  }

  private String yaml(int port, String warmup) {
    return "listen: { host: 127.0.0.1, port: " + port + " }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { path: /health, interval: PT1M, timeout: PT2S }\n"
        + "    targets:\n"
        + "      - { id: web-1, uri: \"" + backends.uri("web-1") + "\" }\n"
        + "      - { id: web-2, uri: \"" + backends.uri("web-2") + "\" }\n"
        + "accessLog: { format: combined, to: access.log }\n"
        + (warmup == null ? "" : "warmup: " + warmup + "\n");
  }

  private BalancerLauncher.Running launch(Path file, Warmup warmup) throws Exception {
    return BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), new ManualScheduler(), null, Clock.systemUTC(), warmup);
  }

  private String output() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private long targetRequests() {
    return running.server().balancer().router().groups().get(0).targets().stream().mapToLong(Target::requests).sum();
  }

  @Test
  void runsBeforeTheListenerOpensAndLeavesNoTraceInTheRealBalancer() throws Exception {
    int port = freePort();
    // A request count it cannot reach, so that it lasts its timeout: long enough to knock on the port meanwhile.
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(port, "{ requests: 10_000_000, timeout: PT2S }"));
    CompletableFuture<BalancerLauncher.Running> started = CompletableFuture.supplyAsync(() -> {
      try {
        return launch(file, Warmup.every(true));
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    int refused = 0;
    while (!started.isDone()) {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
        // The listener opens after the warm-up's last line, a moment before run() returns.
        assertThat(output()).as("a connection was accepted while the launcher was still warming up").contains("affinity: warmed up in ");
      } catch (ConnectException e) {
        refused++;
      }
      Thread.sleep(50);
    }
    running = started.get(20, TimeUnit.SECONDS);
    assertThat(running.exitCode()).isZero();
    assertThat(refused).as("connections refused during the warm-up").isGreaterThan(5);
    assertThat(output()).containsSubsequence("affinity: warmed up in ", "ended by the timeout (PT2S)", "affinity: balancing on ");

    // Thousands of warm-up requests, and none reached a real target or the real balancer's metrics or access log.
    assertThat(targetRequests()).isZero();
    String metrics = http.GET(running.server().adminUri().resolve(running.server().admin().path() + "/metrics")).getContentAsString();
    assertThat(metrics).doesNotContain("affinity_listener_requests_total{").doesNotContain("affinity_responses_total{");

    UserAgent client = new UserAgent(http, running.server().uri());
    assertThat(client.get("/after").getStatus()).isEqualTo(200);
    assertThat(targetRequests()).isEqualTo(1);
    running.close();
    running = null;
    AccessLogAppenders.flush();
    // The two requests of this test (the metrics page is served on the public port, without an admin port), nothing else.
    assertThat(Files.readAllLines(dir.resolve("access.log"))).hasSize(2).anySatisfy(line -> assertThat(line).contains("\"GET /after HTTP/1.1\" 200"))
        .anySatisfy(line -> assertThat(line).contains("\"GET /affinity/metrics HTTP/1.1\" 200"));
  }

  @Test
  void endsAtItsRequestCount() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(0, "{ requests: 300, timeout: PT20S }"));
    running = launch(file, Warmup.every(true));
    assertThat(running.exitCode()).isZero();
    assertThat(output()).contains("ended by the request count (300)");
    assertThat(new UserAgent(http, running.server().uri()).get("/").getStatus()).isEqualTo(200);
  }

  @Test
  void aFailingWarmupIsReportedAndTheBalancerStartsAnyway() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(0, "{ timeout: PT15S }"));
    long before = System.nanoTime();
    // A stub that closes every connection: each warm-up request is answered 502 by the copy.
    running = launch(file, Warmup.every(false));
    assertThat(running.exitCode()).isZero();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("affinity: warning: the warm-up failed after ")
        .contains(Warmup.MAX_CONSECUTIVE_FAILURES + " requests in a row failed, the last answered 50")
        .contains("; starting without it");
    // It gave up at once, not at its timeout.
    assertThat(System.nanoTime() - before).isLessThan(TimeUnit.SECONDS.toNanos(12));
    assertThat(output()).doesNotContain("warmed up").contains("affinity: balancing on ");
    assertThat(new UserAgent(http, running.server().uri()).get("/").getStatus()).isEqualTo(200);
    assertThat(targetRequests()).isEqualTo(1);
  }

  @Test
  void enabledFalseTurnsItOff() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(0, "{ enabled: false, requests: 300 }"));
    running = launch(file, Warmup.every(true));
    assertThat(running.exitCode()).isZero();
    assertThat(output()).doesNotContain("warm").contains("affinity: balancing on ");
  }

  @Test
  void theLaunchersWarmupRunsOncePerJvm() throws Exception {
    BalancerConfig config = BalancerConfigLoader.parse(yaml(0, "{ requests: 200 }"), "w.yaml", dir);
    Warmup once = new Warmup(true, true, System::nanoTime);
    PrintStream stream = new PrintStream(out, true, StandardCharsets.UTF_8);
    assertThat(once.run(config, Clock.systemUTC(), stream, stream)).isNotNull()
        .satisfies(outcome -> assertThat(outcome.requests()).isGreaterThanOrEqualTo(200));
    // The code it compiled is this JVM's: a second balancer here has nothing left to warm.
    assertThat(once.run(config, Clock.systemUTC(), stream, stream)).isNull();
  }

  @Test
  void theCopyKnowsOnlyTheStubAndHasNoAdminPortAccessLogOrDiscovery() {
    String file = yaml(8443, null).replace("accessLog: { format: combined, to: access.log }\n", "")
        .replace("    stickiness:", "    protocolVersion: HTTP2\n    discovery: { dns: web.internal, port: 8080 }\n    stickiness:")
        + "admin: { port: 9091 }\n";
    BalancerConfig config = BalancerConfigLoader.parse(file + "accessLog: { format: json, to: stdout }\n", "w.yaml", dir);
    URI stub = URI.create("http://127.0.0.1:1234");
    BalancerConfig copy = Warmup.copy(config, stub);
    assertThat(copy.listeners()).singleElement().satisfies(listen -> {
      assertThat(listen.host()).isEqualTo("127.0.0.1");
      assertThat(listen.port()).isZero();
      assertThat(listen.tls()).isNull();
    });
    assertThat(copy.admin().port()).isNull();
    assertThat(copy.accessLog().enabled()).isFalse();
    assertThat(copy.warmup().enabled()).isFalse();
    TargetGroupConfig group = copy.targetGroups().get(0);
    assertThat(group.name()).isEqualTo("web");
    assertThat(group.targets()).extracting(TargetConfig::uri).containsExactly(stub, stub);
    assertThat(group.discovery()).isNull();
    assertThat(group.healthCheck().enabled()).isFalse();
    assertThat(group.protocolVersion()).isEqualTo(TargetProtocol.HTTP1);
    // What the hot path depends on is kept.
    assertThat(group.stickiness()).isEqualTo(config.targetGroups().get(0).stickiness());
    assertThat(copy.keys()).isEqualTo(config.keys());
    assertThat(copy.cookies()).isEqualTo(config.cookies());
    assertThat(copy.upstream()).isEqualTo(config.upstream());
    assertThat(List.of(copy.rules(), copy.forward())).isEqualTo(List.of(config.rules(), config.forward()));
  }
}
