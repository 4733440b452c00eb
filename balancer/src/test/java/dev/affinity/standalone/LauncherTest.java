package dev.affinity.standalone;

import dev.affinity.jetty.ManualScheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Target;
import dev.affinity.jetty.AffinityBalancer;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.UserAgent;
import java.time.Duration;
import java.util.List;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standalone launcher: a YAML file in, a running balancer out, and reloads applied live. */
class LauncherTest {
  @TempDir
  Path dir;
  private Backends backends;
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final ManualScheduler reloadScheduler = new ManualScheduler();

  @BeforeEach
  void setUp() throws Exception {
    backends = Backends.start("web-1", "web-2", "web-3");
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
  }

  private String yaml(String... targetIds) {
    StringBuilder targets = new StringBuilder();
    for (String id : targetIds) {
      targets.append("      - { id: ").append(id).append(", uri: \"").append(backends.uri(id)).append("\" }\n");
    }
    return "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { path: /health, interval: PT1M, timeout: PT2S }\n"
        + "    deregistrationDelay: PT5M\n"
        + "    targets:\n"
        + targets;
  }

  private BalancerLauncher.Running launch(String... args) throws Exception {
    return BalancerLauncher.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);
  }

  @Test
  void runsTheBalancerAFileDescribes() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1", "web-2", "web-3"));
    running = launch(file.toString());
    assertThat(running.exitCode()).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("balancing on http://127.0.0.1:");
    UserAgent client = new UserAgent(http, running.server().uri());
    String pinned = client.get("/").getContentAsString();
    for (int i = 0; i < 10; i++) {
      assertThat(client.get("/").getContentAsString()).isEqualTo(pinned);
    }
  }

  @Test
  void sharedSessionsReachTheGroupAndAReloadTurnsThemOff() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1").replace("    deregistrationDelay: PT5M\n",
        "    deregistrationDelay: PT5M\n    sharedSessions: true\n"));
    running = launch(file.toString());
    assertThat(running.server().balancer().router().groups().get(0).sharedSessions()).isTrue();
    Files.writeString(file, yaml("web-1"));
    assertThat(running.server().server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(running.server().balancer().router().groups().get(0).sharedSessions()).isFalse();
  }

  @Test
  void upstreamSettingsReachTheBalancer() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1", "web-2")
        + "upstream: { timeout: PT30S, connectTimeout: PT1S, directRelay: false }\n");
    running = launch(file.toString());
    assertThat(running.exitCode()).isZero();
    AffinityBalancer balancer = running.server().balancer();
    assertThat(balancer.isDirectRelay()).isFalse();
    assertThat(balancer.getHttpClient().getIdleTimeout()).isEqualTo(30_000);
    assertThat(balancer.getHttpClient().getConnectTimeout()).isEqualTo(1_000);
    assertThat(new UserAgent(http, running.server().uri()).get("/").getStatus()).isEqualTo(200);
  }

  @Test
  void badFileNamesLineAndKeyAndNothingStarts() throws Exception {
    Path file = Files.writeString(dir.resolve("bad.yaml"),
        yaml("web-1").replace("duration: PT1H", "duration: PT0S"));
    running = launch(file.toString());
    assertThat(running.exitCode()).isEqualTo(2);
    assertThat(running.server()).isNull();
    String message = err.toString(StandardCharsets.UTF_8).trim();
    assertThat(message).startsWith("affinity: ").contains("bad.yaml:6").contains("targetGroups[0].stickiness.duration")
        .contains("PT0S").doesNotContain("Exception").doesNotContain("\n");
  }

  @Test
  void checkValidatesWithoutStarting() throws Exception {
    Path file = Files.writeString(dir.resolve("ok.yaml"), yaml("web-1"));
    running = launch("--check", file.toString());
    assertThat(running.exitCode()).isZero();
    assertThat(running.server()).isNull();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("is valid");
    assertThat(launch().exitCode()).isNotZero();
    assertThat(launch("--check", dir.resolve("missing.yaml").toString()).exitCode()).isEqualTo(2);
  }

  @Test
  void reloadKeepsPinsOfRemainingTargetsAndDrainsRemovedOnes() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1", "web-2"));
    running = launch(file.toString());
    AffinityServer server = running.server();
    UserAgent[] clients = new UserAgent[6];
    String[] pinned = new String[6];
    for (int i = 0; i < clients.length; i++) {
      clients[i] = new UserAgent(http, server.uri());
      pinned[i] = clients[i].get("/").getContentAsString();
    }
    Files.writeString(file, yaml("web-2", "web-3"));
    ConfigReloader reloader = server.server().getBean(ConfigReloader.class);
    assertThat(reloader.reload()).isTrue();
    Target removed = server.balancer().router().target("web-1");
    assertThat(removed.isDraining()).isTrue();
    assertThat(server.balancer().router().target("web-3")).isNotNull();
    for (int i = 0; i < clients.length; i++) {
      ContentResponse r = clients[i].get("/");
      assertThat(r.getContentAsString()).as("client %d keeps its target during the deregistration delay", i).isEqualTo(pinned[i]);
    }
    long rePins = server.balancer().router().groups().get(0).targets().stream().mapToLong(Target::rePins).sum();
    assertThat(rePins).isZero();
    // A broken edit is refused and the running configuration stays.
    Files.writeString(file, "targetGroups: [ oops");
    assertThat(reloader.reload()).isFalse();
    assertThat(server.balancer().router().target("web-3")).isNotNull();
    assertThat(clients[0].get("/").getStatus()).isEqualTo(200);
  }

  @Test
  void aReloadAppliesUpstreamAndWebSocketSettingsToWhatStartsAfterIt() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1"));
    running = launch(file.toString());
    AffinityServer server = running.server();
    AffinityBalancer balancer = server.balancer();
    assertThat(balancer.isDirectRelay()).isTrue();
    Files.writeString(file, yaml("web-1")
        + "upstream: { timeout: PT30S, connectTimeout: PT1S, directRelay: false }\n"
        + "websocket: { maxMessageBytes: 4096, idleTimeout: PT1M }\n");
    assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(balancer.isDirectRelay()).isFalse();
    assertThat(balancer.getHttpClient().getIdleTimeout()).isEqualTo(30_000);
    assertThat(balancer.getHttpClient().getConnectTimeout()).isEqualTo(1_000);
    assertThat(server.webSocketProxy().getMaxMessageBytes()).isEqualTo(4096);
    assertThat(server.webSocketProxy().getIdleTimeout()).isEqualTo(Duration.ofMinutes(1));
    assertThat(new UserAgent(http, server.uri()).get("/").getStatus()).isEqualTo(200);
    // Removing the sections brings the defaults back, as a fresh start would have them.
    Files.writeString(file, yaml("web-1"));
    assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(balancer.isDirectRelay()).isTrue();
    assertThat(balancer.getHttpClient().getIdleTimeout()).isEqualTo(60_000);
    assertThat(server.webSocketProxy().getMaxMessageBytes()).isEqualTo(1024 * 1024);
  }

  @Test
  void limitsReachTheServerAndAReloadChangesOnlyTheBodyLimitLive() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1")
        + "limits: { idleTimeout: PT45S, requestHeaderTimeout: PT5S, maxConnections: 500, maxRequestHeaderBytes: 16384,\n"
        + "          maxRequestBodyBytes: 100, threads: 64, h2MaxConcurrentStreams: 32 }\n");
    running = launch(file.toString());
    AffinityServer server = running.server();
    dev.affinity.jetty.Limits expected = dev.affinity.jetty.Limits.builder().idleTimeout(Duration.ofSeconds(45))
        .requestHeaderTimeout(Duration.ofSeconds(5)).maxConnections(500).maxRequestHeaderBytes(16384)
        .maxRequestBodyBytes(100).threads(64).h2MaxConcurrentStreams(32).build();
    assertThat(server.limits()).isEqualTo(expected);
    // Each on the running server (LimitsTest shows what each does to clients).
    assertThat(((org.eclipse.jetty.util.thread.QueuedThreadPool) server.server().getThreadPool()).getMaxThreads()).isEqualTo(64);
    org.eclipse.jetty.server.ServerConnector connector = (org.eclipse.jetty.server.ServerConnector) server.server().getConnectors()[0];
    assertThat(connector.getIdleTimeout()).isEqualTo(45_000);
    assertThat(connector.getConnectionFactory(org.eclipse.jetty.server.HttpConnectionFactory.class).getHttpConfiguration()
        .getRequestHeaderSize()).isEqualTo(16384);
    assertThat(connector.getConnectionFactory(org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory.class)
        .getMaxConcurrentStreams()).isEqualTo(32);
    assertThat(server.server().getBean(org.eclipse.jetty.server.NetworkConnectionLimit.class).getMaxNetworkConnectionCount())
        .isEqualTo(500);
    assertThat(post(server, 100)).isEqualTo(200);
    assertThat(post(server, 101)).isEqualTo(413);
    String status = http.GET(server.adminUri().resolve(server.admin().path() + "/status.json")).getContentAsString();
    assertThat(status).contains("\"tooLarge413\":1").contains("\"maxRequestBodyBytes\":\"100\"").contains("\"threads\":64");
    // The body limit applies at once; the others wait for a restart, and status.json keeps showing those in force.
    Files.writeString(file, yaml("web-1") + "limits: { maxRequestBodyBytes: 1000, threads: 32 }\n");
    assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(post(server, 1000)).isEqualTo(200);
    assertThat(server.limits().threads()).isEqualTo(64);
    assertThat(server.balancer().getMaxRequestBodyBytes()).isEqualTo(1000);
    status = http.GET(server.adminUri().resolve(server.admin().path() + "/status.json")).getContentAsString();
    assertThat(status).contains("\"maxRequestBodyBytes\":\"1000\"").contains("\"threads\":64");
  }

  @Test
  void theAccessLogWritesALinePerRequestToItsFileInTheChosenFormat() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1", "web-2")
        + "accessLog: { format: json, to: logs/access.log, maxHistory: 3 }\n");
    Files.createDirectories(dir.resolve("logs"));
    running = launch(file.toString());
    UserAgent client = new UserAgent(http, running.server().uri());
    String target = client.get("/one").getContentAsString();
    client.get("/two?x=1");
    assertThat(http.GET(running.server().adminUri().resolve(running.server().admin().path() + "/status.json")).getStatus())
        .isEqualTo(200);
    running.close();
    running = null;
    AccessLogAppenders.flush();
    List<String> lines = Files.readAllLines(dir.resolve("logs/access.log"));
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).startsWith("{\"time\":").contains("\"uri\":\"/one\"").contains("\"routing\":\"new_client\"")
        .contains("\"target\":\"" + target + "\"").contains("\"status\":200");
    assertThat(lines.get(1)).contains("\"uri\":\"/two?x=1\"").contains("\"routing\":\"sticky_hit\"");
    assertThat(lines.get(2)).contains("/status.json").contains("\"group\":null");

    Files.writeString(file, yaml("web-1") + "accessLog: { format: combined, to: logs/combined.log }\n");
    running = launch(file.toString());
    new UserAgent(http, running.server().uri()).get("/three");
    running.close();
    running = null;
    AccessLogAppenders.flush();
    assertThat(Files.readAllLines(dir.resolve("logs/combined.log"))).singleElement().asString()
        .matches("127\\.0\\.0\\.1 - - \\[.*\\] \"GET /three HTTP/1\\.1\" 200 5 \"-\" \".*\" web web-1 new_client - - 1 200 [0-9.]+ [0-9a-f]{32} \"-\"");
  }

  private int post(AffinityServer server, int bytes) throws Exception {
    return http.newRequest(server.uri().resolve("/")).method("POST")
        .body(new org.eclipse.jetty.client.StringRequestContent("x".repeat(bytes))).send().getStatus();
  }

  /** A Jetty HttpClient speaking h2c with prior knowledge. */
  private static HttpClient h2c() throws Exception {
    HttpClient client = new HttpClient(new org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2(
        new org.eclipse.jetty.http2.client.HTTP2Client()));
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.start();
    return client;
  }

  @Test
  void theListenerSpeaksH2cUnlessListenHttp2IsFalse() throws Exception {
    HttpClient h2c = h2c();
    try {
      Path on = Files.writeString(dir.resolve("on.yaml"), yaml("web-1"));
      running = launch(on.toString());
      ContentResponse r = h2c.newRequest(running.server().uri().resolve("/")).timeout(10, java.util.concurrent.TimeUnit.SECONDS).send();
      assertThat(r.getVersion()).isEqualTo(org.eclipse.jetty.http.HttpVersion.HTTP_2);
      assertThat(r.getContentAsString()).isEqualTo("web-1");
      running.close();
      Path off = Files.writeString(dir.resolve("off.yaml"),
          yaml("web-1").replace("listen: { host: 127.0.0.1, port: 0 }", "listen: { host: 127.0.0.1, port: 0, http2: false }"));
      running = launch(off.toString());
      java.net.URI uri = running.server().uri();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> h2c.newRequest(uri.resolve("/")).timeout(5, java.util.concurrent.TimeUnit.SECONDS).send())
          .as("an HTTP/1.1-only listener does not take the HTTP/2 preface").isNotNull();
      assertThat(new UserAgent(http, uri).get("/").getContentAsString()).isEqualTo("web-1");
    } finally {
      h2c.stop();
    }
  }

  /**
   * {@code protocolVersion: GRPC} and {@code healthCheck.grpcService} from the file: the health check is a
   * {@code grpc.health.v1.Health/Check} call over h2c naming the service, here answered by a hand-made
   * h2c-only Jetty target (no gRPC library), SERVING and then NOT_SERVING.
   */
  @Test
  void aGrpcGroupIsCheckedWithTheGrpcHealthCallForItsService() throws Exception {
    java.util.concurrent.atomic.AtomicInteger servingStatus = new java.util.concurrent.atomic.AtomicInteger(1);
    java.util.List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
    org.eclipse.jetty.server.Server target = new org.eclipse.jetty.server.Server();
    org.eclipse.jetty.server.ServerConnector connector = new org.eclipse.jetty.server.ServerConnector(target,
        new org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory(new org.eclipse.jetty.server.HttpConfiguration()));
    connector.setHost("127.0.0.1");
    target.addConnector(connector);
    target.setHandler(new org.eclipse.jetty.server.Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
          org.eclipse.jetty.util.Callback callback) throws Exception {
        byte[] body = org.eclipse.jetty.util.BufferUtil.toArray(org.eclipse.jetty.io.Content.Source.asByteBuffer(request));
        calls.add(request.getMethod() + " " + request.getHttpURI().getPath() + " " + request.getHeaders().get("content-type")
            + " te=" + request.getHeaders().get("te") + " " + java.util.HexFormat.of().formatHex(body));
        response.getHeaders().put("content-type", "application/grpc");
        response.setTrailersSupplier(() -> org.eclipse.jetty.http.HttpFields.build().put("grpc-status", "0"));
        response.write(true, java.nio.ByteBuffer.wrap(new byte[] {0, 0, 0, 0, 2, 8, (byte) servingStatus.get()}), callback);
        return true;
      }
    });
    target.start();
    try {
      String grpc = yaml("web-1").replace(backends.uri("web-1").toString(), "http://127.0.0.1:" + connector.getLocalPort())
          .replace("    healthCheck: { path: /health, interval: PT1M, timeout: PT2S }\n",
              "    protocolVersion: GRPC\n    healthCheck: { grpcService: shop.v1.Cart, interval: PT1M, timeout: PT2S }\n");
      running = launch(Files.writeString(dir.resolve("balancer.yaml"), grpc).toString());
      AffinityServer server = running.server();
      dev.affinity.balancer.Target web1 = server.balancer().router().target("web-1");
      assertThat(server.balancer().router().group("web").protocol()).isEqualTo(dev.affinity.balancer.TargetProtocol.GRPC);
      server.healthChecker().checkAll().get(10, java.util.concurrent.TimeUnit.SECONDS);
      // HealthCheckRequest { service: "shop.v1.Cart" } in one uncompressed frame: 0, length 14, field 1 (0a), 12 bytes.
      assertThat(calls).last().isEqualTo("POST /grpc.health.v1.Health/Check application/grpc te=trailers 000000000e0a0c73686f702e76312e43617274");
      assertThat(web1.health().state()).isEqualTo(dev.affinity.balancer.TargetHealth.State.HEALTHY);
      servingStatus.set(2);
      server.healthChecker().checkAll().get(10, java.util.concurrent.TimeUnit.SECONDS);
      server.healthChecker().checkAll().get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(web1.health().state()).isEqualTo(dev.affinity.balancer.TargetHealth.State.UNHEALTHY);
      assertThat(web1.health().lastReason()).isEqualTo("gRPC health check answered NOT_SERVING");
    } finally {
      target.stop();
    }
  }

  @Test
  void aGroupsProtocolVersionChangeTakesEffectOnReloadAndAListenHttp2ChangeWaitsForARestart() throws Exception {
    Backends h2Backends = Backends.startHttp2("h2-1");
    ch.qos.logback.classic.Logger reloaderLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ConfigReloader.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged = new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    reloaderLog.addAppender(logged);
    HttpClient h2c = h2c();
    try {
      String http1 = yaml("web-1").replace(backends.uri("web-1").toString(), h2Backends.uri("h2-1").toString()).replace("web-1", "h2-1");
      Path file = Files.writeString(dir.resolve("balancer.yaml"), http1);
      running = launch(file.toString());
      AffinityServer server = running.server();
      UserAgent client = new UserAgent(http, server.uri());
      assertThat(client.get("/").getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/1.1");
      Files.writeString(file, http1.replace("  - name: web\n", "  - name: web\n    protocolVersion: HTTP2\n")
          .replace("port: 0 }", "port: 0, http2: false }"));
      assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
      assertThat(server.balancer().router().group("web").protocol()).isEqualTo(dev.affinity.balancer.TargetProtocol.HTTP2);
      ContentResponse after = client.get("/");
      assertThat(after.getHeaders().get("X-Seen-Protocol")).as("live: the next request goes over HTTP/2").isEqualTo("HTTP/2.0");
      assertThat(after.getContentAsString()).isEqualTo("h2-1");
      // listen.http2 is restart-only: the listener still speaks h2c, and the reload said so.
      assertThat(h2c.newRequest(server.uri().resolve("/")).timeout(10, java.util.concurrent.TimeUnit.SECONDS).send().getVersion())
          .isEqualTo(org.eclipse.jetty.http.HttpVersion.HTTP_2);
      assertThat(logged.list).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("take effect at the next restart"));
      // And back: the group's next request is HTTP/1.1 again.
      Files.writeString(file, http1);
      assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
      assertThat(client.get("/").getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/1.1");
    } finally {
      reloaderLog.detachAppender(logged);
      h2c.stop();
      h2Backends.close();
    }
  }

  @Test
  void trustedProxiesTakeEffectAndAReloadSwapsThemLive() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1") + "trustedProxies: [ 127.0.0.1 ]\n");
    running = launch(file.toString());
    AffinityServer server = running.server();
    String https = "GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    String admin = "GET /affinity/status.json HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n";
    // 127.0.0.1 is a trusted TLS terminator: its client used https, and is remote.
    assertThat(raw(server, null, https)).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=[^\r]*; Secure");
    assertThat(raw(server, null, admin)).startsWith("HTTP/1.1 404 ");

    Files.writeString(file, yaml("web-1") + "trustedProxies: { cidrs: [ 10.0.0.0/8 ], header: Forwarded, recursive: false }\n");
    assertThat(server.server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(server.balancer().getTrustedProxies().header()).isEqualTo(dev.affinity.balancer.TrustedProxies.Header.FORWARDED);
    // Now 127.0.0.1 is nobody's proxy: it is the client, and what it says about https is ignored.
    assertThat(raw(server, null, https)).startsWith("HTTP/1.1 200 ").doesNotContain("Secure");
    assertThat(raw(server, null, admin)).startsWith("HTTP/1.1 200 ");
  }

  @Test
  void proxyProtocolOnTheListenerIsRequiredFromTrustedProxies() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"),
        yaml("web-1").replace("port: 0 }", "port: 0, proxyProtocol: true }") + "trustedProxies: [ 127.0.0.1/32 ]\n");
    running = launch(file.toString());
    assertThat(running.exitCode()).isZero();
    AffinityServer server = running.server();
    String get = "GET /affinity/status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assertThat(raw(server, null, get)).as("a trusted peer without a PROXY header is closed").isEmpty();
    assertThat(raw(server, "PROXY TCP4 203.0.113.9 127.0.0.1 4711 80\r\n", get)).startsWith("HTTP/1.1 404 ");
    assertThat(raw(server, "PROXY TCP4 127.0.0.1 127.0.0.1 4711 80\r\n", get)).startsWith("HTTP/1.1 200 ");
  }

  /** One request on a new connection from 127.0.0.1, after {@code proxyHeader} if any; what came back until the close. */
  private static String raw(AffinityServer server, String proxyHeader, String request) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(5_000);
      java.io.OutputStream o = socket.getOutputStream();
      try {
        o.write(((proxyHeader == null ? "" : proxyHeader) + request).getBytes(StandardCharsets.ISO_8859_1));
        o.flush();
      } catch (java.net.SocketException closed) {
        // closed before the request was written: nothing comes back
      }
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(got);
      } catch (java.net.SocketException reset) {
        // a close with unread bytes resets: what came before is the answer
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void anEditedFileIsPickedUpByTheNextPoll() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1"));
    running = launch(file.toString());
    AffinityServer server = running.server();
    assertThat(reloadScheduler.isStarted()).as("the reloader manages its scheduler").isTrue();
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(server.balancer().router().target("web-2")).as("an unchanged file is not reloaded").isNull();

    // A longer file: the size changes even where the file system's timestamps are coarse.
    Files.writeString(file, yaml("web-1", "web-2"));
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL.minusMillis(1));
    assertThat(server.balancer().router().target("web-2")).as("not before the poll interval").isNull();
    reloadScheduler.advance(Duration.ofMillis(1));
    assertThat(server.balancer().router().target("web-2")).isNotNull();
    assertThat(new UserAgent(http, server.uri()).get("/").getStatus()).isEqualTo(200);

    // A broken edit is refused at the next poll, and polling goes on.
    Files.writeString(file, "targetGroups: [ oops");
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(server.balancer().router().target("web-2")).isNotNull();
    assertThat(reloadScheduler.pending()).isEqualTo(1);
    Files.writeString(file, yaml("web-3"));
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(server.balancer().router().target("web-3")).isNotNull();
    assertThat(server.balancer().router().target("web-2").isDraining()).isTrue();

    running.close();
    running = null;
    assertThat(reloadScheduler.isStopped()).as("stopped with the server").isTrue();
  }

  @Test
  void metricsArePrometheusText() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1", "web-2"));
    running = launch(file.toString());
    AffinityServer server = running.server();
    new UserAgent(http, server.uri()).get("/");
    ContentResponse metrics = http.GET(server.adminUri() + "/metrics");
    assertThat(metrics.getStatus()).isEqualTo(200);
    assertThat(metrics.getHeaders().get("Content-Type")).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
    assertThat(metrics.getHeaders().get("Cache-Control")).isEqualTo("no-store");
    assertThat(metrics.getContentAsString())
        .contains("# TYPE affinity_target_requests_total counter")
        .containsPattern("affinity_target_requests_total\\{group=\"web\",target=\"web-[12]\"} 1")
        .contains("affinity_target_healthy{group=\"web\",target=\"web-1\"} 1")
        .contains("affinity_cookies_sealed_total 1")
        .contains("affinity_cookies_opened_total{cached=\"false\"} 0")
        .contains("affinity_cookies_invalid_total{reason=\"tampered\"} 0")
        .contains("affinity_failovers_total 0")
        .contains("affinity_no_target_responses_total 0");
  }

  @Test
  void metricsHaveRequestDurationHistogramsStatusClassesListenersConnectionsAndCertificateExpiry() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("web-1"));
    running = launch(file.toString());
    AffinityServer server = running.server();
    UserAgent client = new UserAgent(http, server.uri());
    for (int i = 0; i < 3; i++) {
      assertThat(client.get("/").getStatus()).isEqualTo(200);
    }
    assertThat(http.newRequest(server.uri().resolve("/")).method("POST")
        .body(new org.eclipse.jetty.client.StringRequestContent("x")).send().getStatus()).isEqualTo(200);
    // Metrics are recorded once the last byte is out: the next scrape after the answers has them.
    String text = awaitMetrics(server, "affinity_request_duration_seconds_count{group=\"web\",target=\"web-1\"} 4");
    String port = Integer.toString(server.port());
    assertThat(text)
        .contains("# TYPE affinity_request_duration_seconds histogram")
        .containsPattern("affinity_request_duration_seconds_bucket\\{group=\"web\",target=\"web-1\",le=\"0\\.005\"} \\d")
        .contains("affinity_request_duration_seconds_bucket{group=\"web\",target=\"web-1\",le=\"+Inf\"} 4")
        .containsPattern("affinity_request_duration_seconds_sum\\{group=\"web\",target=\"web-1\"} \\d")
        .contains("affinity_responses_total{code=\"2xx\",group=\"web\"} 4")
        .contains("affinity_responses_total{code=\"5xx\",group=\"web\"} 0")
        .contains("affinity_listener_requests_total{listener=\"127.0.0.1:" + port + "\"}")
        .containsPattern("affinity_open_connections [1-9]")
        .contains("affinity_request_head_timeouts_total 0")
        .contains("affinity_too_large_responses_total 0");
    // The admin scrapes themselves count under no group.
    assertThat(awaitMetrics(server, "affinity_responses_total{code=\"2xx\",group=\"\"}")).isNotEmpty();
  }

  private String awaitMetrics(AffinityServer server, String expected) throws Exception {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    while (true) {
      String text = http.GET(server.adminUri() + "/metrics").getContentAsString();
      if (text.contains(expected) || System.nanoTime() > deadline) {
        assertThat(text).contains(expected);
        return text;
      }
      Thread.sleep(20);
    }
  }

  @Test
  void passiveHealthFromTheFileEjectsATargetAnswering503AndShowsItInMetricsAndStatus() throws Exception {
    String yaml = yaml("web-1", "web-2").replace("    deregistrationDelay: PT5M\n",
        "    deregistrationDelay: PT5M\n    passiveHealth: { consecutive5xx: 2, ejectFor: PT30S, maxEjectedPercent: 50 }\n"
            + "    upstream: { timeout: PT5S, connectTimeout: PT1S }\n");
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml);
    running = launch(file.toString());
    AffinityServer server = running.server();
    dev.affinity.balancer.TargetGroup group = server.balancer().router().groups().get(0);
    assertThat(group.passiveHealth()).isEqualTo(new dev.affinity.balancer.PassiveHealth(2, 3, Duration.ofSeconds(30), Duration.ofSeconds(300), 50));
    assertThat(group.upstreamTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(group.connectTimeout()).isEqualTo(Duration.ofSeconds(1));

    UserAgent client = null;
    for (int i = 0; i < 10 && client == null; i++) {
      UserAgent agent = new UserAgent(http, server.uri());
      if ("web-1".equals(agent.get("/").getHeaders().get("X-Backend"))) {
        client = agent;
      }
    }
    assertThat(client).isNotNull();
    backends.answerStatus("web-1", 503);
    assertThat(client.get("/").getStatus()).isEqualTo(503);
    assertThat(client.get("/").getStatus()).isEqualTo(503);
    ContentResponse moved = client.get("/");
    assertThat(moved.getStatus()).isEqualTo(200);
    assertThat(moved.getHeaders().get("X-Backend")).isEqualTo("web-2");
    assertThat(moved.getHeaders().get("X-Seen-Previous")).isEqualTo("web-1");

    assertThat(http.GET(server.adminUri() + "/metrics").getContentAsString())
        .contains("affinity_target_ejections_total{group=\"web\",target=\"web-1\"} 1")
        .contains("affinity_target_ejected{group=\"web\",target=\"web-1\"} 1")
        .contains("affinity_target_ejected{group=\"web\",target=\"web-2\"} 0");
    assertThat(http.GET(server.adminUri() + "/status.json").getContentAsString())
        .contains("\"passiveHealth\":{\"enabled\":true,\"consecutive5xx\":2")
        .contains("\"ejected\":true");

    // A reload that turns it off takes effect for the next answers: web-2 answering 503 stays in.
    Files.writeString(file, yaml.replace("passiveHealth: { consecutive5xx: 2, ejectFor: PT30S, maxEjectedPercent: 50 }",
        "passiveHealth: { enabled: false }"));
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(server.balancer().router().groups().get(0).passiveHealth().enabled()).isFalse();
    backends.answerStatus("web-2", 503);
    for (int i = 0; i < 5; i++) {
      assertThat(client.get("/").getHeaders().get("X-Backend")).isEqualTo("web-2");
    }
    assertThat(server.balancer().router().target("web-2").health().ejections()).isZero();
  }
}
