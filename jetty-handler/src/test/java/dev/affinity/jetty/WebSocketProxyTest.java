package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.tls.ForwardedClientCert;
import dev.affinity.tls.PemPair;
import dev.affinity.tls.ServerCertificates;
import dev.affinity.tls.TestPki;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.FutureCallback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.Configuration;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.CoreClientUpgradeRequest;
import org.eclipse.jetty.websocket.core.client.UpgradeListener;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;
import org.eclipse.jetty.websocket.core.exception.UpgradeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WebSocket traffic through the balancer over real sockets: real Jetty echo targets, a real websocket-core client. */
class WebSocketProxyTest extends BalancerTestBase {
  private static final long WAIT_SECONDS = 10;

  WebSocketBackends webSocketBackends;
  WebSocketCoreClient webSocketClient;
  final List<Endpoint> endpoints = new ArrayList<>();

  void startWebSockets(Consumer<TargetGroup.Builder> group, String... ids) throws Exception {
    webSocketBackends = WebSocketBackends.start(ids);
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder g = TargetGroup.builder("web")
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    group.accept(g);
    for (String id : ids) {
      g.target(id, webSocketBackends.uri(id), 1);
    }
    Router router = Router.builder(cookies).group(g.build()).build();
    balancer = AffinityServer.builder(router, counters).clock(clock).build().start();
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.start();
    HttpClient webSocketHttp = new HttpClient();
    webSocketHttp.setHttpCookieStore(new HttpCookieStore.Empty());
    webSocketClient = new WebSocketCoreClient(webSocketHttp, new WebSocketComponents());
    webSocketClient.start();
  }

  void startWebSockets(String... ids) throws Exception {
    startWebSockets(g -> { }, ids);
  }

  @AfterEach
  void stopWebSockets() throws Exception {
    for (Endpoint e : endpoints) {
      if (e.session != null) {
        e.session.abort();
      }
    }
    if (webSocketClient != null) {
      webSocketClient.stop();
    }
    if (webSocketBackends != null) {
      webSocketBackends.close();
    }
  }

  Router router() {
    return balancer.balancer().router();
  }

  /** Starts an upgrade through the balancer; {@code cookieHeader} may be null. */
  Endpoint connect(String cookieHeader, Map<String, String> headers) throws Exception {
    Endpoint endpoint = new Endpoint();
    URI uri = URI.create("ws://127.0.0.1:" + balancer.port() + "/chat?room=1");
    CoreClientUpgradeRequest request = CoreClientUpgradeRequest.from(webSocketClient, uri, endpoint);
    Configuration.ConfigurationCustomizer config = new Configuration.ConfigurationCustomizer();
    config.setMaxFrameSize(4 * 1024 * 1024);
    config.setIdleTimeout(Duration.ofSeconds(30));
    request.setConfiguration(config);
    request.headers(h -> {
      if (cookieHeader != null) {
        h.put(HttpHeader.COOKIE, cookieHeader);
      }
      headers.forEach(h::put);
    });
    request.addListener(new UpgradeListener() {
      @Override
      public void onHandshakeResponse(org.eclipse.jetty.client.Request rq, org.eclipse.jetty.client.Response response) {
        endpoint.upgradeStatus = response.getStatus();
        endpoint.upgradeHeaders = response.getHeaders();
      }
    });
    endpoint.connected = webSocketClient.connect(request);
    endpoints.add(endpoint);
    return endpoint;
  }

  Endpoint open(String cookieHeader) throws Exception {
    Endpoint e = connect(cookieHeader, Map.of());
    e.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
    return e;
  }

  /** The Set-Cookie value for {@code name} on the 101, or null. */
  static String setCookie(Endpoint e, String name) {
    for (String v : e.upgradeHeaders.getValuesList(HttpHeader.SET_COOKIE)) {
      if (v.startsWith(name + "=")) {
        return v.substring(name.length() + 1, v.indexOf(';') < 0 ? v.length() : v.indexOf(';'));
      }
    }
    return null;
  }

  @Test
  void fiftyConcurrentConnectionsLandOnTheirPinnedTargets() throws Exception {
    startWebSockets("a", "b", "c");
    int n = 50;
    String[] pinned = new String[n];
    String[] cookieHeaders = new String[n];
    for (int i = 0; i < n; i++) {
      UserAgent agent = browser();
      pinned[i] = agent.get("/").getContentAsString();
      cookieHeaders[i] = "AFFINITY=" + agent.jar.get("AFFINITY");
    }
    List<Endpoint> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clients.add(connect(cookieHeaders[i], Map.of()));
    }
    Map<String, Integer> perTarget = new HashMap<>();
    for (int i = 0; i < n; i++) {
      Endpoint e = clients.get(i);
      e.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
      assertThat(e.upgradeStatus).isEqualTo(101);
      // A sticky hit with a fresh cookie needs no new one.
      assertThat(setCookie(e, "AFFINITY")).isNull();
      perTarget.merge(pinned[i], 1, Integer::sum);
    }
    for (int i = 0; i < n; i++) {
      assertThat(clients.get(i).ask("who")).as("client %d", i).isEqualTo(pinned[i]);
    }
    assertThat(perTarget.keySet()).containsExactlyInAnyOrder("a", "b", "c");
    for (Map.Entry<String, Integer> e : perTarget.entrySet()) {
      assertThat(router().target(e.getKey()).openWebSockets()).isEqualTo(e.getValue());
    }
    assertThat(balancer.webSocketProxy().openConnections()).isEqualTo(n);
    assertThat(balancer.admin().statusJson()).contains("\"openWebSockets\":" + perTarget.get("a"));
    for (Endpoint e : clients) {
      e.session.close(CloseStatus.NORMAL, "bye", Callback.NOOP);
    }
    for (Endpoint e : clients) {
      assertThat(e.closed.get(WAIT_SECONDS, TimeUnit.SECONDS).getCode()).isEqualTo(CloseStatus.NORMAL);
    }
    Eventually.await(() -> balancer.webSocketProxy().openConnections() == 0);
    for (String id : List.of("a", "b", "c")) {
      Eventually.await(() -> router().target(id).openWebSockets() == 0 && router().target(id).inFlight() == 0);
    }
  }

  @Test
  void oneMegabyteOfMixedTextBinaryAndFragmentedMessagesEchoesIntact() throws Exception {
    startWebSockets("a", "b");
    Endpoint e = open(null);
    Random random = new Random(42);
    List<Object> sent = new ArrayList<>();
    long bytes = 0;
    int i = 0;
    while (bytes < 1_100_000) {
      int size = 1 + random.nextInt(i % 7 == 0 ? 200_000 : 20_000);
      FutureCallback done = new FutureCallback();
      switch (i % 4) {
        case 0 -> {
          String text = randomText(random, size);
          e.session.sendFrame(new Frame(OpCode.TEXT, text), done, false);
          sent.add(text);
        }
        case 1 -> {
          byte[] data = new byte[size];
          random.nextBytes(data);
          e.session.sendFrame(new Frame(OpCode.BINARY, true, ByteBuffer.wrap(data.clone())), done, false);
          sent.add(data);
        }
        case 2 -> {
          // A text message in fragments: TEXT, CONTINUATION..., final CONTINUATION.
          String text = randomText(random, Math.max(size, 4));
          int parts = 2 + random.nextInt(4);
          int step = Math.max(1, text.length() / parts);
          List<Frame> frames = new ArrayList<>();
          for (int from = 0; from < text.length(); from += step) {
            String part = text.substring(from, Math.min(text.length(), from + step));
            frames.add(new Frame(frames.isEmpty() ? OpCode.TEXT : OpCode.CONTINUATION, false, part));
          }
          frames.get(frames.size() - 1).setFin(true);
          for (Frame f : frames.subList(0, frames.size() - 1)) {
            FutureCallback fragment = new FutureCallback();
            e.session.sendFrame(f, fragment, false);
            fragment.get(WAIT_SECONDS, TimeUnit.SECONDS);
          }
          e.session.sendFrame(frames.get(frames.size() - 1), done, false);
          sent.add(text);
        }
        default -> {
          // A binary message in fragments, with a ping between two of them (control frames may interleave).
          byte[] data = new byte[Math.max(size, 2)];
          random.nextBytes(data);
          int half = data.length / 2;
          FutureCallback first = new FutureCallback();
          e.session.sendFrame(new Frame(OpCode.BINARY, false, ByteBuffer.wrap(Arrays.copyOfRange(data, 0, half))), first, false);
          first.get(WAIT_SECONDS, TimeUnit.SECONDS);
          FutureCallback ping = new FutureCallback();
          e.session.sendFrame(new Frame(OpCode.PING, "ping-" + i), ping, false);
          ping.get(WAIT_SECONDS, TimeUnit.SECONDS);
          e.session.sendFrame(new Frame(OpCode.CONTINUATION, true, ByteBuffer.wrap(Arrays.copyOfRange(data, half, data.length))), done, false);
          sent.add("PONG:ping-" + i);
          sent.add(data);
        }
      }
      done.get(WAIT_SECONDS, TimeUnit.SECONDS);
      bytes += size;
      i++;
    }
    for (int k = 0; k < sent.size(); k++) {
      Object expected = sent.get(k);
      Object got = e.messages.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      if (expected instanceof byte[] data) {
        assertThat(got).as("message %d", k).isInstanceOf(byte[].class);
        assertThat(Arrays.equals((byte[]) got, data)).as("binary message %d intact", k).isTrue();
      } else {
        assertThat(got).as("message %d", k).isEqualTo(expected);
      }
    }
    assertThat(bytes).isGreaterThan(1_000_000);
  }

  @Test
  void jettysWebSocketClientOpensOneOverHttp2AndAnHttp11UpgradeWorksBesideIt() throws Exception {
    // RFC 8441 (AffinityServer.limitHttp2): Jetty's WebSocket client over HTTP/2 gets its 200 and the
    // affinity cookie on it. (No message is asked over it here: that client loses a first answer now
    // and then, see WebSocketOverHttp2Test, which drives RFC 8441 under load with a client of its own.)
    startWebSockets("a", "b", "c");
    WebSocketCoreClient http11Client = webSocketClient;
    HttpClient h2 = new HttpClient(new org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2(
        new org.eclipse.jetty.http2.client.HTTP2Client()));
    h2.setHttpCookieStore(new HttpCookieStore.Empty());
    webSocketClient = new WebSocketCoreClient(h2, new WebSocketComponents());
    webSocketClient.start();
    try {
      Endpoint overH2 = connect(null, Map.of());
      overH2.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
      assertThat(overH2.upgradeStatus).as("RFC 8441 answers the CONNECT with 200").isEqualTo(200);
      assertThat(setCookie(overH2, "AFFINITY")).isNotNull();
      overH2.session.close(CloseStatus.NORMAL, "bye", Callback.NOOP);
    } finally {
      webSocketClient.stop();
      webSocketClient = http11Client;
    }
    Endpoint overH1 = connect(null, Map.of());
    overH1.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(overH1.upgradeStatus).isEqualTo(101);
    assertThat(overH1.ask("who")).isIn("a", "b", "c");
  }

  @Test
  void newClientGetsItsCookieOnThe101AndTheTargetGetsForwardingHeaders() throws Exception {
    startWebSockets("a", "b", "c");
    Endpoint e = connect("JSESSIONID=app-session", Map.of(AffinityBalancer.PREVIOUS_TARGET_HEADER, "evil",
        "X-Forwarded-Client-Cert", "Hash=00;Subject=\"CN=admin\""));
    e.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(e.upgradeStatus).isEqualTo(101);
    String cookie = setCookie(e, "AFFINITY");
    assertThat(cookie).isNotNull();
    assertThat(e.upgradeHeaders.getValuesList(HttpHeader.SET_COOKIE).toString()).contains("HttpOnly").contains("SameSite=Lax");
    String target = e.ask("who");
    UserAgent jar = browser();
    jar.jar.put("AFFINITY", cookie);
    assertThat(cookies.read(jar, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo(target);
    // The client cannot say where it came from; its cookies and the forwarding headers reach the target.
    assertThat(e.ask("previous")).isEqualTo("-");
    // Nor which certificate it has: that is the balancer's to say, after a TLS handshake it verified.
    assertThat(e.ask("header:X-Forwarded-Client-Cert")).isEqualTo("-");
    assertThat(e.ask("header:Cookie")).contains("JSESSIONID=app-session");
    assertThat(e.ask("header:X-Forwarded-For")).isEqualTo("127.0.0.1");
    assertThat(e.ask("header:X-Forwarded-Proto")).isEqualTo("http");
    // The same element the HTTP paths send: a token unquoted, host:port quoted (RFC 7239 section 4).
    assertThat(e.ask("header:Forwarded")).matches("by=127\\.0\\.0\\.1;for=127\\.0\\.0\\.1;host=\"127\\.0\\.0\\.1:\\d+\";proto=http");
    // The same cookie over HTTP reaches the same target.
    assertThat(jar.get("/").getContentAsString()).isEqualTo(target);
  }

  @Test
  void aWssUpgradeWithAVerifiedClientCertificateCarriesItToTheTarget(@TempDir Path dir) throws Exception {
    TestPki ca = TestPki.newCa("WebSocket CA");
    TestPki.Issued site = ca.issueServer("ws.test", TestPki.KeyKind.EC, Duration.ofDays(30), "127.0.0.1");
    TestPki.Issued client = ca.issueClient("ws-client", TestPki.KeyKind.EC, "spiffe://test/ws-client");
    webSocketBackends = WebSocketBackends.start("a");
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    Router router = Router.builder(cookies).group(TargetGroup.builder("web").target("a", webSocketBackends.uri("a"), 1).build()).build();
    PemPair pair = new PemPair(site.writeChain(dir.resolve("site.crt")), site.writeKey(dir.resolve("site.key"), TestPki.KeyForm.PKCS8));
    ListenerSpec.Tls tls = ListenerSpec.Tls.builder(ServerCertificates.pem(List.of(pair)))
        .clientCa(ca.writeCertificate(dir.resolve("clients.pem"))).clientAuth(ListenerSpec.Tls.ClientAuth.OPTIONAL).build();
    balancer = AffinityServer.builder(router, counters).clock(clock)
        .listener(ListenerSpec.builder().host("127.0.0.1").port(0).tls(tls).build()).build().start();
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca.certificate());
    SslContextFactory.Client ssl = new SslContextFactory.Client();
    ssl.setTrustStore(trust);
    ssl.setKeyStore(KeyStore.getInstance(client.writePkcs12(dir.resolve("client.p12"), "c", "secret").toFile(), "secret".toCharArray()));
    ssl.setKeyStorePassword("secret");
    HttpClient webSocketHttp = new HttpClient();
    webSocketHttp.setSslContextFactory(ssl);
    webSocketHttp.setHttpCookieStore(new HttpCookieStore.Empty());
    webSocketClient = new WebSocketCoreClient(webSocketHttp, new WebSocketComponents());
    webSocketClient.start();

    Endpoint endpoint = new Endpoint();
    CoreClientUpgradeRequest request = CoreClientUpgradeRequest.from(webSocketClient,
        URI.create("wss://127.0.0.1:" + balancer.port() + "/chat"), endpoint);
    request.headers(h -> h.put("X-Forwarded-Client-Cert", "Hash=00"));
    endpoint.connected = webSocketClient.connect(request);
    endpoints.add(endpoint);
    endpoint.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertThat(endpoint.ask("header:X-Forwarded-Client-Cert")).isEqualTo(ForwardedClientCert.of(client.certificate()))
        .contains(";URI=spiffe://test/ws-client");
    assertThat(endpoint.ask("header:X-Forwarded-Proto")).isEqualTo("https");
  }

  @Test
  void aGroupWithItsOwnConnectTimeoutConnectsThroughAClientOfItsOwn() throws Exception {
    startWebSockets(g -> g.timeouts(Duration.ofSeconds(20), Duration.ofMillis(1500)), "a");
    Endpoint e = open(null);
    assertThat(e.upgradeStatus).isEqualTo(101);
    assertThat(e.ask("who")).isEqualTo("a");
    WebSocketProxy proxy = balancer.webSocketProxy();
    assertThat(proxy.getBeans(org.eclipse.jetty.websocket.core.client.WebSocketCoreClient.class)).as("the balancer's and the group's")
        .hasSize(2)
        .anySatisfy(c -> assertThat(c.getHttpClient().getConnectTimeout()).isEqualTo(1500));
  }

  @Test
  void killedTargetClosesItsClientsAndReconnectFailsOverWithRewrittenCookie() throws Exception {
    startWebSockets("a", "b", "c");
    List<Endpoint> clients = new ArrayList<>();
    List<String> targets = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      Endpoint e = open(null);
      clients.add(e);
      targets.add(e.ask("who"));
    }
    String killed = targets.get(0);
    webSocketBackends.get(killed).kill();
    for (int i = 0; i < clients.size(); i++) {
      Endpoint e = clients.get(i);
      if (targets.get(i).equals(killed)) {
        CloseStatus status = e.closed.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(status.getCode()).isIn(CloseStatus.SHUTDOWN, CloseStatus.SERVER_ERROR);
        assertThat(e.closeFrame).as("a CLOSE frame, not a dropped connection").isNotNull();
      } else {
        assertThat(e.ask("who")).isEqualTo(targets.get(i));
      }
    }
    String oldCookie = setCookie(clients.get(0), "AFFINITY");
    Endpoint again = connect("AFFINITY=" + oldCookie, Map.of());
    again.connected.get(WAIT_SECONDS, TimeUnit.SECONDS);
    String now = again.ask("who");
    assertThat(now).isNotEqualTo(killed);
    assertThat(again.ask("previous")).isEqualTo(killed);
    String rewritten = setCookie(again, "AFFINITY");
    assertThat(rewritten).isNotNull().isNotEqualTo(oldCookie);
    UserAgent jar = browser();
    jar.jar.put("AFFINITY", rewritten);
    assertThat(cookies.read(jar, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo(now);
    assertThat(router().target(killed).isAvailable(clock.instant())).isFalse();
    Eventually.await(() -> router().target(killed).openWebSockets() == 0 && router().target(killed).inFlight() == 0);
  }

  @Test
  void noReachableTargetAnswers503InsteadOfThe101() throws Exception {
    startWebSockets("a", "b");
    for (WebSocketBackends.Backend b : webSocketBackends.all()) {
      b.kill();
    }
    Endpoint e = connect(null, Map.of());
    assertThatThrownBy(() -> e.connected.get(WAIT_SECONDS, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause().isInstanceOfSatisfying(UpgradeException.class, u -> assertThat(u.getResponseStatusCode()).isEqualTo(503));
    assertThat(balancer.webSocketProxy().failovers()).isEqualTo(1);
    assertThat(router().target("a").inFlight()).isZero();
    assertThat(router().target("b").inFlight()).isZero();
  }

  @Test
  void drainingTargetKeepsItsWebSocketsUntilTheDeregistrationDelayEnds() throws Exception {
    startWebSockets(g -> g.deregistrationDelay(Duration.ofSeconds(30)), "a", "b");
    Endpoint e = open(null);
    String target = e.ask("who");
    router().target(target).drain(clock.instant());
    clock.advance(Duration.ofSeconds(29));
    assertThat(balancer.webSocketProxy().closeDrainedConnections()).isZero();
    assertThat(e.ask("who")).isEqualTo(target);
    clock.advance(Duration.ofSeconds(1));
    assertThat(balancer.webSocketProxy().closeDrainedConnections()).isEqualTo(1);
    CloseStatus status = e.closed.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertThat(status.getCode()).isEqualTo(CloseStatus.SHUTDOWN);
    assertThat(status.getReason()).contains("draining");
    Eventually.await(() -> router().target(target).openWebSockets() == 0);
  }

  @Test
  void messageOverTheLimitClosesWith1009() throws Exception {
    startWebSockets("a");
    balancer.webSocketProxy().setMaxMessageBytes(64 * 1024);
    Endpoint e = open(null);
    assertThat(e.ask("who")).isEqualTo("a");
    for (int k = 0; k < 3; k++) {
      FutureCallback done = new FutureCallback();
      e.session.sendFrame(new Frame(k == 0 ? OpCode.BINARY : OpCode.CONTINUATION, k == 2, ByteBuffer.allocate(30 * 1024)), done, false);
      try {
        done.get(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (ExecutionException closedAlready) {
        break;
      }
    }
    assertThat(e.closed.get(WAIT_SECONDS, TimeUnit.SECONDS).getCode()).isEqualTo(CloseStatus.MESSAGE_TOO_LARGE);
  }

  @Test
  void slowClientSlowsTheTargetDownInsteadOfFillingTheBalancer() throws Exception {
    startWebSockets("a");
    Endpoint e = open(null);
    int frames = 2000;
    int size = 64 * 1024;
    e.paused = true;
    e.session.sendFrame(new Frame(OpCode.TEXT, "flood:" + frames + ":" + size), Callback.NOOP, false);
    WebSocketBackends.Backend backend = webSocketBackends.get("a");
    // Wait until the target can write no more: the written count stops moving.
    int last = -1;
    for (int still = 0; still < 4; ) {
      int written = backend.floodFramesWritten.get();
      still = written == last ? still + 1 : 0;
      last = written;
      TimeUnit.MILLISECONDS.sleep(150);
    }
    // 128 MB offered; what is written is bounded by socket buffers (a few MB), not by the balancer's memory.
    assertThat(last).isLessThan(frames / 4);
    e.resume();
    Eventually.await(() -> backend.floodFramesWritten.get() == frames);
    Eventually.await(() -> e.messages.size() >= frames);
  }

  static String randomText(Random random, int length) {
    String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_";
    StringBuilder b = new StringBuilder(length);
    for (int k = 0; k < length; k++) {
      b.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return b.toString();
  }

  /** A client: collects whole messages (text as String, binary as byte[], pongs as "PONG:payload"). */
  static final class Endpoint implements FrameHandler {
    volatile CoreSession session;
    volatile CompletableFuture<CoreSession> connected;
    volatile int upgradeStatus;
    volatile HttpFields upgradeHeaders;
    volatile CloseStatus closeFrame;
    volatile boolean paused;
    final CompletableFuture<CloseStatus> closed = new CompletableFuture<>();
    final LinkedBlockingQueue<Object> messages = new LinkedBlockingQueue<>();
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private byte partialType;
    private boolean demandPending;

    @Override
    public void onOpen(CoreSession coreSession, Callback callback) {
      session = coreSession;
      callback.succeeded();
      coreSession.demand();
    }

    @Override
    public void onFrame(Frame frame, Callback callback) {
      byte opCode = frame.getOpCode();
      switch (opCode) {
        case OpCode.CLOSE -> {
          closeFrame = CloseStatus.getCloseStatus(frame);
          callback.succeeded();
          return;
        }
        case OpCode.PONG -> messages.add("PONG:" + WebSocketBackends.Backend.text(frame.getPayload()));
        case OpCode.PING -> { }
        default -> {
          if (opCode != OpCode.CONTINUATION) {
            partialType = opCode;
            partial.reset();
          }
          ByteBuffer payload = frame.getPayload();
          if (payload != null) {
            byte[] bytes = new byte[payload.remaining()];
            payload.slice().get(bytes);
            partial.write(bytes, 0, bytes.length);
          }
          if (frame.isFin()) {
            byte[] whole = partial.toByteArray();
            messages.add(partialType == OpCode.TEXT ? new String(whole, StandardCharsets.UTF_8) : whole);
          }
        }
      }
      callback.succeeded();
      synchronized (this) {
        if (paused) {
          demandPending = true;
          return;
        }
      }
      session.demand();
    }

    void resume() {
      synchronized (this) {
        paused = false;
        if (!demandPending) {
          return;
        }
        demandPending = false;
      }
      session.demand();
    }

    /** Sends a text command and returns the text answer. */
    String ask(String question) throws Exception {
      FutureCallback sent = new FutureCallback();
      session.sendFrame(new Frame(OpCode.TEXT, question), sent, false);
      sent.get(WAIT_SECONDS, TimeUnit.SECONDS);
      Object answer = messages.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertThat(answer).as("answer to %s", question).isInstanceOf(String.class);
      return (String) answer;
    }

    @Override
    public void onError(Throwable cause, Callback callback) {
      callback.succeeded();
    }

    @Override
    public void onClosed(CloseStatus closeStatus, Callback callback) {
      CloseStatus frame = closeFrame;
      closed.complete(frame != null ? frame : closeStatus);
      callback.succeeded();
    }
  }
}
