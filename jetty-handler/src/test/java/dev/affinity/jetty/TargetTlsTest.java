package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.tls.PemPair;
import dev.affinity.tls.TargetTls;
import dev.affinity.tls.TestPki;
import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyForm;
import dev.affinity.tls.TestPki.KeyKind;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.CoreClientUpgradeRequest;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS to {@code https://} targets over real sockets ({@link TargetTls}): real Jetty targets with
 * certificates of a test CA for a service name (no IP address in them), some asking for client
 * certificates; proxying over HTTP/1.1 and h2, WebSockets and health checks all verify the target
 * and show the configured client certificate, and a rotated client certificate is shown on the next
 * new connection.
 */
class TargetTlsTest extends BalancerTestBase {
  private static TestPki targetsCa;
  private static TestPki otherCa;
  private static Issued apiCertificate;
  @TempDir
  Path dir;
  private final ManualScheduler certificateScheduler = new ManualScheduler();
  private WebSocketBackends targets;
  private WebSocketCoreClient webSocketClient;

  @BeforeAll
  static void issue() {
    targetsCa = TestPki.newCa("Affinity Targets CA");
    otherCa = TestPki.newCa("Some Other CA");
    // The name the service is known by, and no IP address: reached at 127.0.0.1, it verifies only by serverName.
    apiCertificate = targetsCa.issueServer("api.internal", KeyKind.EC, Duration.ofDays(30), "api.internal");
  }

  @AfterEach
  void stopTargets() throws Exception {
    if (webSocketClient != null) {
      webSocketClient.stop();
    }
    if (targets != null) {
      targets.close();
    }
  }

  /** The targets' own TLS: the api.internal certificate; client certificates of the targets CA required when {@code mutual}. */
  private SslContextFactory.Server targetSide(boolean mutual) throws Exception {
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setKeyStorePath(apiCertificate.writePkcs12(dir.resolve("api-" + System.nanoTime() + ".p12"), "api", "changeit").toString());
    ssl.setKeyStorePassword("changeit");
    if (mutual) {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", targetsCa.certificate());
      ssl.setTrustStore(trust);
      ssl.setNeedClientAuth(true);
    }
    return ssl;
  }

  private Path caFile(TestPki ca, String name) throws Exception {
    return ca.writeCertificate(dir.resolve(name + ".pem"));
  }

  private PemPair clientPair(String commonName, String name) throws Exception {
    Issued client = targetsCa.issueClient(commonName, KeyKind.RSA);
    return new PemPair(client.writeChain(dir.resolve(name + ".crt")), client.writeKey(dir.resolve(name + ".key"), KeyForm.PKCS8));
  }

  /** TLS targets api-1 (and more) in group "api" with {@code tls} (none when null) behind a balancer. */
  private void startWith(TargetTls tls, boolean mutual, Consumer<TargetGroup.Builder> more, String... ids) throws Exception {
    targets = WebSocketBackends.start(targetSide(mutual), ids);
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("api")
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    if (tls != null) {
      group.tls(tls);
    }
    more.accept(group);
    for (String id : ids) {
      group.target(id, targets.uri(id), 1);
    }
    Router router = Router.builder(cookies).group(group.build()).build();
    balancer = AffinityServer.builder(router, counters).clock(clock).certificateReloads(certificateScheduler, Duration.ofSeconds(5))
        .build().start();
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.start();
  }

  private void startWith(TargetTls tls, boolean mutual) throws Exception {
    startWith(tls, mutual, g -> { }, "api-1");
  }

  private ContentResponse get(String pathQuery) throws Exception {
    return http.newRequest("http://127.0.0.1:" + balancer.port() + pathQuery).timeout(10, TimeUnit.SECONDS).send();
  }

  @Test
  void verifiesTargetsAgainstTheCaAndTheServerNameAndSendsItAsSni() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal").build(), false);

    ContentResponse response = get("/tls");

    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isEqualTo("api-1 sni=api.internal client=- protocol=HTTP/1.1");
  }

  @Test
  void refusesATargetWhoseCertificateDoesNotCarryTheNameItIsCheckedFor() throws Exception {
    // Without serverName the name checked is the URI's host, 127.0.0.1, which the certificate does not carry.
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).build(), false);
    assertThat(get("/tls").getStatus()).isEqualTo(502);
  }

  @Test
  void refusesATargetWhoseCertificateNamesAnotherService() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("billing.internal").build(), false);
    assertThat(get("/tls").getStatus()).isEqualTo(502);
  }

  @Test
  void refusesATargetSignedByAnotherCa() throws Exception {
    startWith(TargetTls.builder().ca(caFile(otherCa, "other")).serverName("api.internal").build(), false);
    assertThat(get("/tls").getStatus()).isEqualTo(502);
  }

  @Test
  void withoutTlsSettingsATargetOfAPrivateCaIsNotTrusted() throws Exception {
    // The JDK's trust store does not hold the test CA: no setting means verification, not trust in anyone.
    startWith(null, false);
    assertThat(get("/tls").getStatus()).isEqualTo(502);
  }

  @Test
  void showsItsClientCertificateToTargetsThatRequireOne() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal")
        .clientCertificate(clientPair("balancer", "client")).build(), true);

    ContentResponse response = get("/tls");

    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isEqualTo("api-1 sni=api.internal client=CN=balancer protocol=HTTP/1.1");
  }

  @Test
  void aTargetThatRequiresAClientCertificateRefusesABalancerWithout() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal").build(), true);
    assertThat(get("/tls").getStatus()).isEqualTo(502);
  }

  @Test
  void http2TargetsAreReachedOverTlsByAlpn() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal")
        .clientCertificate(clientPair("balancer", "client")).build(), true, g -> g.protocol(TargetProtocol.HTTP2), "api-1");

    ContentResponse response = get("/tls");

    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isEqualTo("api-1 sni=api.internal client=CN=balancer protocol=HTTP/2.0");
  }

  /** Active checks on, one answer decides. */
  private static final HealthCheckSettings CHECKED =
      new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 1, 1, 200, 399, Duration.ofSeconds(10));

  @Test
  void healthChecksVerifyTargetsWithTheGroupsTls() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal")
        .clientCertificate(clientPair("balancer", "client")).build(), true, g -> g.healthCheck(CHECKED), "api-1");
    Target target = balancer.balancer().router().target("api-1");
    target.health().checkFailed(clock.instant(), "made unhealthy by the test");
    assertThat(target.health().isHealthy(clock.instant())).isFalse();

    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);

    assertThat(target.health().isHealthy(clock.instant())).as(target.health().lastReason()).isTrue();
    assertThat(target.health().lastReason()).contains("passed");
  }

  @Test
  void healthChecksFailForATargetThatDoesNotVerify() throws Exception {
    startWith(TargetTls.builder().ca(caFile(otherCa, "other")).serverName("api.internal").build(), false,
        g -> g.healthCheck(CHECKED), "api-1");

    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);

    Target target = balancer.balancer().router().target("api-1");
    assertThat(target.health().isHealthy(clock.instant())).isFalse();
    assertThat(target.health().lastReason()).contains("health check failed");
  }

  @Test
  void webSocketsReachWssTargetsWithTheGroupsTls() throws Exception {
    startWith(TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal")
        .clientCertificate(clientPair("balancer", "client")).build(), true);
    webSocketClient = new WebSocketCoreClient(new HttpClient(), new WebSocketComponents());
    webSocketClient.start();
    Collector collector = new Collector();
    CoreClientUpgradeRequest upgrade = CoreClientUpgradeRequest.from(webSocketClient,
        URI.create("ws://127.0.0.1:" + balancer.port() + "/chat"), collector);

    CoreSession session = webSocketClient.connect(upgrade).get(10, TimeUnit.SECONDS);
    session.sendFrame(new Frame(OpCode.TEXT).setPayload("who"), Callback.NOOP, false);

    assertThat(collector.texts.poll(10, TimeUnit.SECONDS)).isEqualTo("api-1");
    assertThat(targets.get("api-1").upgrades.get()).isEqualTo(1);
    session.close(1000, "done", Callback.NOOP);
  }

  @Test
  void aRotatedClientCertificateIsShownOnTheNextConnectionAndAHalfRotatedOneIsNot() throws Exception {
    PemPair first = clientPair("balancer-1", "client");
    TargetTls tls = TargetTls.builder().ca(caFile(targetsCa, "ca")).serverName("api.internal").clientCertificate(first).build();
    startWith(tls, true);
    assertThat(get("/tls?close").getContentAsString()).contains("client=CN=balancer-1");
    assertThat(certificateScheduler.pending()).as("the files are polled on the server's certificate scheduler").isEqualTo(1);

    // Half-rotated: the new certificate is there, its key not yet. The running pair stays in service.
    PemPair second = clientPair("balancer-2", "next");
    Files.copy(second.certificate(), first.certificate(), StandardCopyOption.REPLACE_EXISTING);
    certificateScheduler.advance(Duration.ofSeconds(5));
    TargetSslContextFactory factory = balancer.balancer().targetTls().find(tls);
    assertThat(factory.pendingReloadProblem()).contains("does not match");
    assertThat(get("/tls?close").getContentAsString()).contains("client=CN=balancer-1");
    String status = get("/affinity/status.json").getContentAsString();
    assertThat(status).contains("\"serverName\":\"api.internal\"").contains("\"clientCertificate\":\"CN=balancer-1\"")
        .contains("\"pendingReload\":\"").contains("does not match");

    // The key follows: the pair loads and the next connection shows the new certificate.
    Files.copy(second.key(), first.key(), StandardCopyOption.REPLACE_EXISTING);
    certificateScheduler.advance(Duration.ofSeconds(5));
    assertThat(factory.pendingReloadProblem()).isNull();
    assertThat(factory.clientCertificate().getSubjectX500Principal().getName()).isEqualTo("CN=balancer-2");
    assertThat(get("/tls").getContentAsString()).contains("client=CN=balancer-2");
    assertThat(get("/affinity/status.json").getContentAsString()).contains("\"clientCertificate\":\"CN=balancer-2\"")
        .contains("\"pendingReload\":\"\"");
  }

  /** Collects the text messages of a client WebSocket. */
  private static final class Collector implements FrameHandler {
    final LinkedBlockingQueue<String> texts = new LinkedBlockingQueue<>();

    @Override
    public void onOpen(CoreSession coreSession, Callback callback) {
      callback.succeeded();
      coreSession.demand();
    }

    @Override
    public void onFrame(Frame frame, Callback callback) {
      if (frame.getOpCode() == OpCode.TEXT) {
        ByteBuffer payload = frame.getPayload().slice();
        texts.add(StandardCharsets.UTF_8.decode(payload).toString());
      }
      callback.succeeded();
    }

    @Override
    public void onError(Throwable cause, Callback callback) {
      callback.succeeded();
    }

    @Override
    public void onClosed(org.eclipse.jetty.websocket.core.CloseStatus closeStatus, Callback callback) {
      callback.succeeded();
    }
  }
}
