package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.tls.ForwardedClientCert;
import dev.affinity.tls.KeyMaterialException;
import dev.affinity.tls.PemPair;
import dev.affinity.tls.ServerCertificates;
import dev.affinity.tls.TestPki;
import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyForm;
import dev.affinity.tls.TestPki.KeyKind;
import java.io.File;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS listeners over real sockets: HTTPS through the balancer to real backends, certificates chosen
 * by SNI, protocol floors, client certificates, live rotation, redirects to HTTPS, and the same
 * seen by openssl s_client and curl.
 */
class TlsListenerTest extends BalancerTestBase {
  private static TestPki ca;
  private static Issued siteA;
  private static Issued siteB;
  @TempDir
  Path dir;
  private final ManualScheduler certificateScheduler = new ManualScheduler();
  private KeyStore trust;

  @BeforeAll
  static void issue() {
    ca = TestPki.newCa("Affinity Test CA");
    siteA = ca.issueServer("a.test", KeyKind.RSA, Duration.ofDays(30), "a.test", "127.0.0.1");
    siteB = ca.issueServer("b.test", KeyKind.EC, Duration.ofDays(30), "b.test");
  }

  private KeyStore trust() throws Exception {
    if (trust == null) {
      trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", ca.certificate());
    }
    return trust;
  }

  /** Whose TLS the listeners under test run on; {@link ConscryptTlsListenerTest} runs every test here on Conscrypt. */
  ListenerSpec.Tls.Provider provider() {
    return ListenerSpec.Tls.Provider.JDK;
  }

  private PemPair write(Issued issued, String name, KeyForm form) throws Exception {
    return new PemPair(issued.writeChain(dir.resolve(name + ".crt")), issued.writeKey(dir.resolve(name + ".key"), form));
  }

  private ListenerSpec.Tls.Builder pem(PemPair... pairs) {
    return ListenerSpec.Tls.builder(ServerCertificates.pem(List.of(pairs))).provider(provider());
  }

  /** Jetty backends web-1, web-2 with duration stickiness behind a balancer with {@code listeners}. */
  private void startWith(ListenerSpec... listeners) throws Exception {
    backends = Backends.start("web-1", "web-2");
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("web")
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    group.target("web-1", backends.uri("web-1"), 1).target("web-2", backends.uri("web-2"), 1);
    Router router = Router.builder(cookies).group(group.build()).build();
    AffinityServer.Builder builder = AffinityServer.builder(router, counters).clock(clock)
        .certificateReloads(certificateScheduler, Duration.ofSeconds(5));
    for (ListenerSpec listener : listeners) {
      builder.listener(listener);
    }
    balancer = builder.build();
    balancer.start();
    http = httpsClient(null, null);
  }

  /** Jetty's HttpClient trusting the test CA, resolving every name to 127.0.0.1, with an optional client key store. */
  private HttpClient httpsClient(KeyStore clientKeys, String password) throws Exception {
    SslContextFactory.Client ssl = new SslContextFactory.Client();
    ssl.setTrustStore(trust());
    if (clientKeys != null) {
      ssl.setKeyStore(clientKeys);
      ssl.setKeyStorePassword(password);
    }
    HttpClient client = new HttpClient();
    client.setSslContextFactory(ssl);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setFollowRedirects(false);
    client.setSocketAddressResolver((host, port, context, promise) -> promise.succeeded(List.of(new InetSocketAddress("127.0.0.1", port))));
    client.start();
    return client;
  }

  private static ListenerSpec https(ListenerSpec.Tls tls) {
    return ListenerSpec.builder().host("127.0.0.1").port(0).tls(tls).build();
  }

  /** Jetty's HTTP/2 client over TLS (ALPN offers h2 only), trusting the test CA. */
  private HttpClient h2Client() throws Exception {
    return h2Client(null, null);
  }

  /** {@link #h2Client()} with an optional client key store. */
  private HttpClient h2Client(KeyStore clientKeys, String password) throws Exception {
    SslContextFactory.Client ssl = new SslContextFactory.Client();
    ssl.setTrustStore(trust());
    if (clientKeys != null) {
      ssl.setKeyStore(clientKeys);
      ssl.setKeyStorePassword(password);
    }
    org.eclipse.jetty.http2.client.HTTP2Client http2 = new org.eclipse.jetty.http2.client.HTTP2Client();
    HttpClient client = new HttpClient(new org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2(http2));
    client.setSslContextFactory(ssl);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setSocketAddressResolver((host, port, context, promise) -> promise.succeeded(List.of(new InetSocketAddress("127.0.0.1", port))));
    client.start();
    return client;
  }

  @Test
  void aTlsListenerSpeaksH2ByAlpnAndHttp11ToClientsThatDoNotAskForIt() throws Exception {
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).build()));
    HttpClient h2 = h2Client();
    try {
      ContentResponse overH2 = h2.GET("https://a.test:" + balancer.port() + "/hello");
      assertThat(overH2.getVersion()).isEqualTo(org.eclipse.jetty.http.HttpVersion.HTTP_2);
      assertThat(overH2.getStatus()).isEqualTo(200);
      assertThat(overH2.getContentAsString()).isIn("web-1", "web-2");
      String cookie = overH2.getHeaders().getValuesList(HttpHeader.SET_COOKIE).stream()
          .filter(c -> c.startsWith("AFFINITY=")).findFirst().orElseThrow();
      assertThat(cookie).contains("; Secure");
      // The pin holds on the next stream of the same connection.
      String value = cookie.substring(0, cookie.indexOf(';'));
      for (int i = 0; i < 5; i++) {
        ContentResponse again = h2.newRequest("https://a.test:" + balancer.port() + "/again")
            .headers(h -> h.put(HttpHeader.COOKIE, value)).send();
        assertThat(again.getContentAsString()).isEqualTo(overH2.getContentAsString());
      }
    } finally {
      h2.stop();
    }
    ContentResponse overH1 = http.GET("https://a.test:" + balancer.port() + "/hello");
    assertThat(overH1.getVersion()).isEqualTo(org.eclipse.jetty.http.HttpVersion.HTTP_1_1);
    assertThat(overH1.getStatus()).isEqualTo(200);
  }

  @Test
  void aTlsListenerWithHttp2OffOffersNoH2() throws Exception {
    startWith(ListenerSpec.builder().host("127.0.0.1").port(0).http2(false).tls(pem(write(siteA, "a", KeyForm.PKCS8)).build()).build());
    HttpClient h2 = h2Client();
    try {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> h2.GET("https://a.test:" + balancer.port() + "/hello"))
          .as("an h2-only client finds no h2 to negotiate").isInstanceOf(Exception.class);
    } finally {
      h2.stop();
    }
    assertThat(http.GET("https://a.test:" + balancer.port() + "/hello").getStatus()).isEqualTo(200);
  }

  @Test
  void httpsReachesTheBackendAndTheAffinityCookieIsSecure() throws Exception {
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).build()));
    assertThat(balancer.uri()).hasScheme("https");
    // The provider asked for is the one whose engines serve the connections.
    assertThat(balancer.tls(0).getSslContext().getProvider().getName())
        .isEqualTo(provider() == ListenerSpec.Tls.Provider.CONSCRYPT ? "Conscrypt" : "SunJSSE");
    assertThat(balancer.tls(0).newSSLEngine().getClass().getName())
        .startsWith(provider() == ListenerSpec.Tls.Provider.CONSCRYPT ? "org.conscrypt." : "sun.security.ssl.");

    ContentResponse response = http.GET("https://a.test:" + balancer.port() + "/hello");

    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isIn("web-1", "web-2");
    String cookie = response.getHeaders().getValuesList(HttpHeader.SET_COOKIE).stream()
        .filter(c -> c.startsWith("AFFINITY=")).findFirst().orElseThrow();
    assertThat(cookie).contains("; Secure");
    Backends.Backend backend = backends.get(response.getContentAsString());
    assertThat(backend.lastHeaders).containsEntry("x-forwarded-proto", "https");
  }

  @Test
  void sniChoosesTheCertificateAndAClientWithoutSniGetsTheFirst() throws Exception {
    startWith(https(pem(write(siteA, "a", KeyForm.TRADITIONAL), write(siteB, "b", KeyForm.SEC1_WITH_PARAMETERS)).build()));
    int port = balancer.port();

    try (HttpsProbe a = HttpsProbe.connect(port, "a.test", trust());
        HttpsProbe b = HttpsProbe.connect(port, "b.test", trust());
        HttpsProbe none = HttpsProbe.connect(port, null, trust());
        HttpsProbe unknown = HttpsProbe.connect(port, "c.test", trust())) {
      assertThat(a.subject()).isEqualTo("CN=a.test");
      assertThat(b.subject()).isEqualTo("CN=b.test");
      assertThat(none.subject()).isEqualTo("CN=a.test");
      assertThat(unknown.subject()).isEqualTo("CN=a.test");
    }
    // Jetty's client, verifying the host name, reaches the backends under both names.
    assertThat(http.GET("https://a.test:" + port + "/").getStatus()).isEqualTo(200);
    assertThat(http.GET("https://b.test:" + port + "/").getStatus()).isEqualTo(200);
  }

  @Test
  void onlyTls13And12AreSpokenAndProtocolsNarrowsThat() throws Exception {
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).build()),
        https(pem(write(siteA, "a13", KeyForm.PKCS8)).protocols(List.of("TLSv1.3")).build()));

    byte[] tls12 = HttpsProbe.helloWith(balancer.port(0), 0x0303);
    byte[] tls11 = HttpsProbe.helloWith(balancer.port(0), 0x0302);
    byte[] tls12ToOnly13 = HttpsProbe.helloWith(balancer.port(1), 0x0303);

    assertThat(tls12[0]).as("a handshake record").isEqualTo((byte) 0x16);
    assertThat(tls12[5]).as("a ServerHello").isEqualTo((byte) 0x02);
    assertRefused(tls11);
    assertRefused(tls12ToOnly13);
    try (HttpsProbe modern = HttpsProbe.connect(balancer.port(1), "a.test", trust())) {
      assertThat(modern.socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
    }
  }

  /** An alert record (protocol_version or handshake_failure), or the connection closed without a ServerHello. */
  private static void assertRefused(byte[] answer) {
    if (answer.length > 0) {
      assertThat(answer[0]).as("an alert record, not a handshake").isEqualTo((byte) 0x15);
      assertThat(answer[6]).as("alert description").isIn((byte) 70, (byte) 40);
    }
  }

  @Test
  void clientCaRequiresAClientCertificate() throws Exception {
    Path clientCa = ca.writeCertificate(dir.resolve("clients.pem"));
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).clientCa(clientCa).build()));
    String url = "https://a.test:" + balancer.port() + "/";

    assertThatThrownBy(() -> http.GET(url)).isInstanceOf(ExecutionException.class);

    Issued client = ca.issueClient("client-1", KeyKind.EC);
    KeyStore clientKeys = KeyStore.getInstance(client.writePkcs12(dir.resolve("client.p12"), "client", "secret").toFile(), "secret".toCharArray());
    HttpClient withCertificate = httpsClient(clientKeys, "secret");
    try {
      ContentResponse response = withCertificate.GET(url);
      assertThat(response.getStatus()).isEqualTo(200);
      assertThat(response.getContentAsString()).isIn("web-1", "web-2");
    } finally {
      withCertificate.stop();
    }
    // A client certificate from another CA is refused too.
    Issued stranger = TestPki.newCa("Stranger CA").issueClient("intruder", KeyKind.RSA);
    KeyStore strangerKeys = KeyStore.getInstance(stranger.writePkcs12(dir.resolve("stranger.p12"), "s", "secret").toFile(), "secret".toCharArray());
    HttpClient withStrangerCertificate = httpsClient(strangerKeys, "secret");
    try {
      assertThatThrownBy(() -> withStrangerCertificate.GET(url)).isInstanceOf(ExecutionException.class);
    } finally {
      withStrangerCertificate.stop();
    }
  }

  /** Every value the backend that answered {@code response} got for {@code header}. */
  private List<String> seenByBackend(ContentResponse response, String header) {
    return backends.get(response.getHeaders().get("X-Backend")).lastHeaderValues.getOrDefault(header, List.of());
  }

  @Test
  void optionalClientAuthServesClientsWithoutACertificateAndForwardsAVerifiedOne() throws Exception {
    Path clientCa = ca.writeCertificate(dir.resolve("clients.pem"));
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).clientCa(clientCa).clientAuth(ListenerSpec.Tls.ClientAuth.OPTIONAL).build()));
    String url = "https://a.test:" + balancer.port() + "/";
    String forged = "Hash=00;Subject=\"CN=admin\"";

    // No certificate: served, and a forged header of the client's own does not reach the target.
    ContentResponse anonymous = http.newRequest(url).headers(h -> h.put(ForwardedClientCert.HEADER, forged)).send();
    assertThat(anonymous.getStatus()).isEqualTo(200);
    assertThat(seenByBackend(anonymous, "x-forwarded-client-cert")).isEmpty();

    // A certificate from the client CA: served, and the target gets it, once, instead of the forged one.
    Issued client = ca.issueClient("client-1", KeyKind.EC, "spiffe://test/client-1");
    KeyStore clientKeys = KeyStore.getInstance(client.writePkcs12(dir.resolve("client.p12"), "client", "secret").toFile(), "secret".toCharArray());
    HttpClient withCertificate = httpsClient(clientKeys, "secret");
    try {
      for (int i = 0; i < 2; i++) { // the second request reads the value cached on the TLS session
        ContentResponse response = withCertificate.newRequest(url).headers(h -> h.put(ForwardedClientCert.HEADER, forged)).send();
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(seenByBackend(response, "x-forwarded-client-cert")).containsExactly(ForwardedClientCert.of(client.certificate()));
        assertThat(seenByBackend(response, "x-forwarded-client-cert").get(0)).contains(";URI=spiffe://test/client-1");
      }
    } finally {
      withCertificate.stop();
    }
    // Over h2 the same: the certificate belongs to the connection every stream comes in on.
    HttpClient h2WithCertificate = h2Client(clientKeys, "secret");
    try {
      ContentResponse response = h2WithCertificate.newRequest(url).headers(h -> h.put(ForwardedClientCert.HEADER, forged)).send();
      assertThat(response.getVersion()).isEqualTo(org.eclipse.jetty.http.HttpVersion.HTTP_2);
      assertThat(seenByBackend(response, "x-forwarded-client-cert")).containsExactly(ForwardedClientCert.of(client.certificate()));
    } finally {
      h2WithCertificate.stop();
    }
    // The JDK's client only offers a certificate from a CA the server named: one from another CA stays
    // home and the client is anonymous (curl, which sends it anyway, is refused: see the curl test).
    Issued stranger = TestPki.newCa("Stranger CA").issueClient("intruder", KeyKind.RSA);
    KeyStore strangerKeys = KeyStore.getInstance(stranger.writePkcs12(dir.resolve("stranger.p12"), "s", "secret").toFile(), "secret".toCharArray());
    HttpClient withStrangerCertificate = httpsClient(strangerKeys, "secret");
    try {
      ContentResponse response = withStrangerCertificate.GET(url);
      assertThat(response.getStatus()).isEqualTo(200);
      assertThat(seenByBackend(response, "x-forwarded-client-cert")).isEmpty();
    } finally {
      withStrangerCertificate.stop();
    }
  }

  @Test
  void withoutAClientCaNoCertificateIsForwardedAndAClientsHeaderIsDropped() throws Exception {
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).build()));

    ContentResponse response = http.newRequest("https://a.test:" + balancer.port() + "/")
        .headers(h -> h.put(ForwardedClientCert.HEADER, "Hash=00")).send();

    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(seenByBackend(response, "x-forwarded-client-cert")).isEmpty();
  }

  @Test
  void curlWithAndWithoutACertificateAgainstOptionalAndRequiredClientAuth() throws Exception {
    assumeTrue(onPath("curl"), "curl is not installed (CI installs it)");
    Path caFile = ca.writeCertificate(dir.resolve("ca.pem"));
    Issued client = ca.issueClient("curl-client", KeyKind.RSA);
    Path clientCert = client.writeChain(dir.resolve("client.crt"));
    Path clientKey = client.writeKey(dir.resolve("client.key"), KeyForm.PKCS8);
    Issued intruder = TestPki.newCa("Stranger CA").issueClient("intruder", KeyKind.EC);
    Path strangerCert = intruder.writeChain(dir.resolve("stranger.crt"));
    Path strangerKey = intruder.writeKey(dir.resolve("stranger.key"), KeyForm.PKCS8);
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8)).clientCa(caFile).clientAuth(ListenerSpec.Tls.ClientAuth.OPTIONAL).build()),
        https(pem(write(siteA, "a2", KeyForm.PKCS8)).clientCa(caFile).build()));
    List<String> curl = List.of("curl", "-sS", "-i", "--http1.1", "--cacert", caFile.toString());

    for (int listener = 0; listener < 2; listener++) {
      int port = balancer.port(listener);
      List<String> target = List.of("--resolve", "a.test:" + port + ":127.0.0.1", "https://a.test:" + port + "/");
      String withCert = run(concat(curl, List.of("--cert", clientCert.toString(), "--key", clientKey.toString()), target), null);
      assertThat(withCert).as("listener %s with a certificate", listener).startsWith("HTTP/1.1 200");
      String backend = withCert.substring(withCert.indexOf("\r\n\r\n") + 4);
      assertThat(backends.get(backend).lastHeaders.get("x-forwarded-client-cert")).isEqualTo(ForwardedClientCert.of(client.certificate()))
          .contains("Subject=\"CN=curl-client\"");

      // A certificate the client CA did not issue, sent anyway: the handshake fails, optional or not.
      String stranger = run(concat(curl, List.of("--cert", strangerCert.toString(), "--key", strangerKey.toString()), target), null);
      assertThat(stranger).as("listener %s with a stranger's certificate", listener).doesNotContain("HTTP/1.1 200").contains("curl: (");

      String without = run(concat(curl, target), null);
      if (listener == 0) {
        assertThat(without).as("optional, no certificate").startsWith("HTTP/1.1 200");
        assertThat(backends.get(without.substring(without.indexOf("\r\n\r\n") + 4)).lastHeaders).doesNotContainKey("x-forwarded-client-cert");
      } else {
        assertThat(without).as("required, no certificate").doesNotContain("HTTP/1.1 200").contains("curl: (");
      }
    }
  }

  @SafeVarargs
  private static List<String> concat(List<String>... parts) {
    List<String> all = new ArrayList<>();
    for (List<String> part : parts) {
      all.addAll(part);
    }
    return all;
  }

  @Test
  void clientAuthWithoutAClientCaIsRefusedWhenBuilt() throws Exception {
    PemPair pair = write(siteA, "a", KeyForm.PKCS8);
    assertThatThrownBy(() -> pem(pair).clientAuth(ListenerSpec.Tls.ClientAuth.OPTIONAL).build())
        .isInstanceOf(IllegalStateException.class).hasMessage("clientAuth OPTIONAL needs a clientCa to verify client certificates with");
    assertThat(pem(pair).build().clientAuth()).isEmpty();
    assertThat(pem(pair).clientCa(pair.certificate()).build().clientAuth()).contains(ListenerSpec.Tls.ClientAuth.REQUIRED);
  }

  @Test
  void aKeyStoreAndItsPasswordFileRotatedTogetherAreReloadedAsAPair() throws Exception {
    Path p12 = siteB.writePkcs12(dir.resolve("balancer.p12"), "site", "first-password");
    Path passwordFile = Files.writeString(dir.resolve("keystore-password.txt"), "first-password\n");
    startWith(https(ListenerSpec.Tls.builder(ServerCertificates.keyStore(p12, passwordFile)).build()));
    int port = balancer.port();
    try (HttpsProbe probe = HttpsProbe.connect(port, "b.test", trust())) {
      assertThat(probe.peer()).isEqualTo(siteB.certificate());
    }
    Issued renewed = ca.issueServer("b.test", KeyKind.RSA, Duration.ofDays(90), "b.test");

    // The password file first: it does not open the running key store, so the running certificate stays.
    Files.writeString(passwordFile, "second-password\n");
    certificateScheduler.advance(Duration.ofSeconds(5));
    try (HttpsProbe during = HttpsProbe.connect(port, "b.test", trust())) {
      assertThat(during.peer()).isEqualTo(siteB.certificate());
      assertThat(during.get("b.test", "/")).startsWith("HTTP/1.1 200");
    }
    assertThat(balancer.tls(0).pendingReloadProblem()).as("what was warned about")
        .isEqualTo(p12 + ": the password in " + passwordFile + " does not open this key store");
    // ... and it is tried again at every poll: the key store arrives, the pair is swapped in.
    renewed.writePkcs12(p12, "site", "second-password");
    certificateScheduler.advance(Duration.ofSeconds(5));
    try (HttpsProbe after = HttpsProbe.connect(port, "b.test", trust())) {
      assertThat(after.peer()).isEqualTo(renewed.certificate());
      assertThat(after.get("b.test", "/")).startsWith("HTTP/1.1 200");
    }
    assertThat(balancer.tls(0).pendingReloadProblem()).isNull();

    // The other order: the key store first (not opened by the old password), then the password.
    Issued third = ca.issueServer("b.test", KeyKind.EC, Duration.ofDays(90), "b.test");
    third.writePkcs12(p12, "site", "third-password");
    certificateScheduler.advance(Duration.ofSeconds(5));
    try (HttpsProbe during = HttpsProbe.connect(port, "b.test", trust())) {
      assertThat(during.peer()).isEqualTo(renewed.certificate());
    }
    Files.writeString(passwordFile, "third-password");
    certificateScheduler.advance(Duration.ofSeconds(5));
    try (HttpsProbe after = HttpsProbe.connect(port, "b.test", trust())) {
      assertThat(after.peer()).isEqualTo(third.certificate());
    }
    assertThat(certificateScheduler.pending()).as("the poll keeps running").isEqualTo(1);
  }

  @Test
  void aRotatedPairIsServedToNewHandshakesWhileOpenConnectionsKeepWorking() throws Exception {
    PemPair pair = write(siteA, "site", KeyForm.PKCS8);
    startWith(https(pem(pair).build()));
    int port = balancer.port();
    try (HttpsProbe open = HttpsProbe.connect(port, "a.test", trust())) {
      assertThat(open.get("a.test", "/")).startsWith("HTTP/1.1 200");
      assertThat(open.peer()).isEqualTo(siteA.certificate());
      Issued renewed = ca.issueServer("a.test", KeyKind.EC, Duration.ofDays(90), "a.test", "127.0.0.1");

      // Half-rotated: the new certificate is written, its key not yet. The old pair stays in service.
      renewed.writeChain(pair.certificate());
      certificateScheduler.advance(Duration.ofSeconds(5));
      try (HttpsProbe during = HttpsProbe.connect(port, "a.test", trust())) {
        assertThat(during.peer()).isEqualTo(siteA.certificate());
      }

      // The key arrives: the next poll swaps the pair in.
      renewed.writeKey(pair.key(), KeyForm.TRADITIONAL);
      certificateScheduler.advance(Duration.ofSeconds(5));
      try (HttpsProbe after = HttpsProbe.connect(port, "a.test", trust())) {
        assertThat(after.peer()).isEqualTo(renewed.certificate());
        assertThat(after.get("a.test", "/")).startsWith("HTTP/1.1 200");
      }
      // The connection opened before the rotation is the same one, and still serves requests.
      assertThat(open.get("a.test", "/")).startsWith("HTTP/1.1 200");
      assertThat(open.peer()).isEqualTo(siteA.certificate());
    }
    assertThat(certificateScheduler.pending()).as("the poll keeps running").isEqualTo(1);
  }

  @Test
  void certificatesExpiringWithinFourteenDaysAreWarnedAboutByTheInjectedClock() throws Exception {
    Issued shortLived = ca.issueServer("a.test", KeyKind.EC, Duration.ofDays(20), "a.test");
    PemPair pair = write(shortLived, "short", KeyForm.PKCS8);
    Clock today = Clock.fixed(Instant.now(), ZoneOffset.UTC);
    ListenerSpec.Tls tls = pem(pair).build();
    ListenerSslContextFactory now = new ListenerSslContextFactory("now", tls, certificateScheduler, today, Duration.ofSeconds(5));
    assertThat(now.expiringCertificates()).isEmpty();
    Clock inTenDays = Clock.offset(today, Duration.ofDays(10));
    ListenerSslContextFactory later = new ListenerSslContextFactory("later", tls, certificateScheduler, inTenDays, Duration.ofSeconds(5));
    assertThat(later.expiringCertificates()).containsExactly(shortLived.certificate());
  }

  @Test
  void aRedirectListenerSendsEveryRequestToTheHttpsPortOfTheHostItWasAskedFor() throws Exception {
    // The HTTPS port must be known before the redirect listener points at it.
    int httpsPort;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      httpsPort = free.getLocalPort();
    }
    startWith(ListenerSpec.builder().port(httpsPort).tls(pem(write(siteA, "a", KeyForm.PKCS8)).build()).build(),
        ListenerSpec.builder().port(0).redirectToHttps(httpsPort).build());
    int redirectPort = balancer.port(1);
    assertThat(balancer.uri(1)).hasScheme("http");

    ContentResponse response = http.newRequest("http://a.test:" + redirectPort + "/cart/items?id=7&x=%2F").method("POST").send();

    assertThat(response.getStatus()).isEqualTo(301);
    assertThat(response.getHeaders().get(HttpHeader.LOCATION)).isEqualTo("https://a.test:" + httpsPort + "/cart/items?id=7&x=%2F");
    assertThat(backends.get("web-1").requests.get() + backends.get("web-2").requests.get()).isZero();
    // Followed, it reaches a backend over HTTPS.
    assertThat(http.GET(response.getHeaders().get(HttpHeader.LOCATION)).getStatus()).isEqualTo(200);

    // An absolute request target naming another host than the Host header is refused (by Jetty) before any redirect.
    String raw = rawTo(redirectPort, "GET http://evil.example/phish HTTP/1.1\r\nHost: a.test:" + redirectPort + "\r\nConnection: close\r\n\r\n");
    assertThat(raw).startsWith("HTTP/1.1 400").doesNotContain("Location:");
    // A path cannot smuggle another host in .
    String slashes = rawTo(redirectPort, "GET //evil.example/x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    assertThat(slashes).doesNotContainPattern("Location: https?://evil");
    String ipv6 = rawTo(redirectPort, "GET / HTTP/1.1\r\nHost: [::1]:" + redirectPort + "\r\nConnection: close\r\n\r\n");
    assertThat(ipv6).contains("Location: https://[::1]:" + httpsPort + "/\r\n");
    String noHost = rawTo(redirectPort, "GET /x HTTP/1.0\r\n\r\n");
    assertThat(noHost).contains("Location: https://127.0.0.1:" + httpsPort + "/x\r\n");
  }

  private static String rawTo(int port, String request) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void aKeyStoreFileServesToo() throws Exception {
    Path p12 = siteB.writePkcs12(dir.resolve("balancer.p12"), "site", "changeit");
    startWith(https(ListenerSpec.Tls.builder(ServerCertificates.keyStore(p12, "changeit")).provider(provider()).build()));
    try (HttpsProbe probe = HttpsProbe.connect(balancer.port(), "b.test", trust())) {
      assertThat(probe.peer()).isEqualTo(siteB.certificate());
      assertThat(probe.get("b.test", "/")).startsWith("HTTP/1.1 200");
    }
  }

  @Test
  void badListenersAreRefusedWhenBuilt() throws Exception {
    PemPair pair = write(siteA, "a", KeyForm.PKCS8);
    Router router = rawRouter(java.util.Map.of());
    assertThatThrownBy(() -> AffinityServer.builder(router, counters)
        .listener(ListenerSpec.http("127.0.0.1", 8080)).listener(ListenerSpec.http("0.0.0.0", 8080)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port 8080 is used by two listeners");
    assertThatThrownBy(() -> AffinityServer.builder(router, counters)
        .listener(ListenerSpec.http("127.0.0.1", 8080)).listener(ListenerSpec.builder().port(8081).redirectToHttps(8080).build()).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("redirects to port 8080, which is not the port of a TLS listener");
    assertThatThrownBy(() -> AffinityServer.builder(router, counters).port(8080).listener(ListenerSpec.http("127.0.0.1", 8081)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("host/port already set the one plain listener");
    assertThatThrownBy(() -> ListenerSpec.builder().redirectToHttps(8443).tls(pem(pair).build()))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> pem(pair).protocols(List.of("TLSv1.3", "TLSv1.1")))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("protocols must be among [TLSv1.3, TLSv1.2], got \"TLSv1.1\"");
    Files.writeString(pair.key(), siteB.keyPem(KeyForm.PKCS8));
    assertThatThrownBy(() -> AffinityServer.builder(router, counters).listener(https(pem(pair).build())).build())
        .isInstanceOf(KeyMaterialException.class).hasMessageContaining("does not match the certificate CN=a.test");
  }

  @Test
  void opensslSClientSeesTheSniCertificateOverTls13() throws Exception {
    assumeTrue(onPath("openssl"), "openssl is not installed (CI installs it)");
    Path caFile = ca.writeCertificate(dir.resolve("ca.pem"));
    startWith(https(pem(write(siteA, "a", KeyForm.PKCS8), write(siteB, "b", KeyForm.TRADITIONAL)).build()));

    // A request on stdin, and -ign_eof to read the answer: TLS 1.3's session (and its "Protocol" line) comes after the handshake.
    Path request = Files.writeString(dir.resolve("request.txt"), "GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n");
    String output = run(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + balancer.port(), "-servername", "b.test",
        "-CAfile", caFile.toString(), "-verify_return_error", "-ign_eof"), request);

    // "New, TLSv1.3": the version negotiated (the session block's "Protocol" line shows only after a session ticket, which
    // BoringSSL's server does not send unasked).
    assertThat(output).contains("subject=CN = b.test").contains("Verify return code: 0 (ok)").contains("New, TLSv1.3, Cipher is")
        .contains("HTTP/1.1 200");
  }

  @Test
  void curlWithTheCaGetsTheBackendsAnswerAndASecureCookie() throws Exception {
    assumeTrue(onPath("curl"), "curl is not installed (CI installs it)");
    Path caFile = ca.writeCertificate(dir.resolve("ca.pem"));
    startWith(https(pem(write(siteA, "a", KeyForm.TRADITIONAL)).build()));
    int port = balancer.port();

    String output = run(List.of("curl", "-sS", "-i", "--cacert", caFile.toString(), "--resolve", "a.test:" + port + ":127.0.0.1",
        "https://a.test:" + port + "/"), null);

    // curl offers h2 and http/1.1 by ALPN: the listener picks h2.
    assertThat(output).startsWith("HTTP/2 200").containsPattern("(?i)set-cookie: AFFINITY=[^\\r\\n]*; Secure");
    assertThat(output.substring(output.indexOf("\r\n\r\n") + 4)).isIn("web-1", "web-2");

    String http11 = run(List.of("curl", "-sS", "-i", "--http1.1", "--cacert", caFile.toString(), "--resolve",
        "a.test:" + port + ":127.0.0.1", "https://a.test:" + port + "/"), null);
    assertThat(http11).startsWith("HTTP/1.1 200").containsPattern("(?i)set-cookie: AFFINITY=[^\\r\\n]*; Secure");
  }

  private static boolean onPath(String binary) {
    for (String dirName : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dirName, binary))) {
        return true;
      }
    }
    return false;
  }

  private static String run(List<String> command, Path stdin) throws Exception {
    Process process = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(stdin == null ? new File("/dev/null") : stdin.toFile())).start();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
    return new String(output, StandardCharsets.UTF_8);
  }

  @Test
  void aTlsConnectionWithNoRequestYetIsOneADrainMayClose() throws Exception {
    // A browser's preconnect: TCP (and perhaps TLS) up, no request. JettyInternals.isIdleHttp1 must say so,
    // or a graceful stop would wait for it until the grace runs out.
    startWith(https(pem(write(siteA, "site", KeyForm.PKCS8)).build()));
    org.eclipse.jetty.server.ServerConnector connector = (org.eclipse.jetty.server.ServerConnector) balancer.server().getConnectors()[0];
    try (java.net.Socket preconnect = new java.net.Socket("127.0.0.1", balancer.port())) {
      Eventually.await(() -> connector.getConnectedEndPoints().size() == 1);
      assertThat(JettyInternals.isIdleHttp1(connector.getConnectedEndPoints().iterator().next())).isTrue();
    }
    Eventually.await(() -> connector.getConnectedEndPoints().isEmpty());
    // Over TLS, HTTP/1.1 between two requests is idle too.
    try (HttpsProbe probe = HttpsProbe.connect(balancer.port(), "a.test", trust())) {
      assertThat(probe.get("a.test", "/")).contains("200");
      Eventually.await(() -> connector.getConnectedEndPoints().size() == 1);
      org.eclipse.jetty.io.EndPoint endPoint = connector.getConnectedEndPoints().iterator().next();
      Eventually.await(() -> JettyInternals.isIdleHttp1(endPoint));
    }
  }
}
