package dev.affinity.standalone;

import dev.affinity.jetty.ManualScheduler;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ListenerSpec;
import dev.affinity.standalone.config.Listen;
import dev.affinity.standalone.config.TlsConfig;
import dev.affinity.standalone.config.TlsFiles;
import dev.affinity.tls.PemPair;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** A YAML file with listeners: (HTTPS from PEM files, a redirect from HTTP) started through the launcher. */
class TlsLauncherTest {
  @TempDir
  Path dir;
  private TlsFiles files;
  private Backends backends;
  private HttpClient https;
  private BalancerLauncher.Running running;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final ManualScheduler reloadScheduler = new ManualScheduler();

  @BeforeEach
  void setUp() throws Exception {
    files = TlsFiles.writeTo(dir);
    backends = Backends.start("web-1", "web-2");
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", files.ca().certificate());
    SslContextFactory.Client ssl = new SslContextFactory.Client();
    ssl.setTrustStore(trust);
    https = new HttpClient();
    https.setSslContextFactory(ssl);
    https.setHttpCookieStore(new HttpCookieStore.Empty());
    https.setFollowRedirects(false);
    https.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (running != null) {
      running.close();
    }
    https.stop();
    backends.close();
  }

  private String yaml(int httpsPort, String protocols) {
    return yaml(httpsPort, protocols, "jdk");
  }

  private String yaml(int httpsPort, String protocols, String provider) {
    return """
        listeners:
          - host: 127.0.0.1
            port: %d
            tls:
              certificates: [ { cert: site.crt, key: site.key } ]
              protocols: %s
              provider: %s
          - { host: 127.0.0.1, port: 0, redirectToHttps: %d }
        keys:
          - { id: k1, secret: "%s" }
        targetGroups:
          - name: web
            stickiness: { type: duration, duration: PT1H }
            healthCheck: { enabled: false }
            targets:
              - { id: web-1, uri: "%s" }
              - { id: web-2, uri: "%s" }
        """.formatted(httpsPort, protocols, provider, httpsPort, BalancerTestBase.SECRET, backends.uri("web-1"), backends.uri("web-2"));
  }

  private static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Test
  void servesHttpsAndRedirectsPlainHttpToIt() throws Exception {
    int httpsPort = freePort();
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(httpsPort, "[ TLSv1.3, TLSv1.2 ]"));

    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);

    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("balancing on https://127.0.0.1:" + httpsPort);
    ContentResponse response = https.GET("https://localhost:" + httpsPort + "/");
    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isIn("web-1", "web-2");
    assertThat(response.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).anySatisfy(c -> assertThat(c).startsWith("AFFINITY=").contains("; Secure"));

    int redirectPort = running.server().port(1);
    ContentResponse redirect = https.GET("http://localhost:" + redirectPort + "/shop?page=2");
    assertThat(redirect.getStatus()).isEqualTo(301);
    assertThat(redirect.getHeaders().get(HttpHeader.LOCATION)).isEqualTo("https://localhost:" + httpsPort + "/shop?page=2");

    // The metrics tell how long the certificate in service has left (issued for 60 days by TlsFiles).
    String metrics = https.GET(running.server().adminUri() + "/metrics").getContentAsString();
    java.util.regex.Matcher expiry = java.util.regex.Pattern.compile(
        "affinity_certificate_expiry_seconds\\{listener=\"https://127\\.0\\.0\\.1:" + httpsPort + "\"} ([0-9.E+]+)").matcher(metrics);
    assertThat(expiry.find()).as(metrics).isTrue();
    double seconds = Double.parseDouble(expiry.group(1));
    assertThat(seconds).isBetween((double) java.time.Duration.ofDays(58).toSeconds(), (double) java.time.Duration.ofDays(60).toSeconds());
  }

  @Test
  void providerConscryptServesHttpsFromTheFile() throws Exception {
    int httpsPort = freePort();
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(httpsPort, "[ TLSv1.3 ]", "conscrypt"));

    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);

    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(running.server().listeners().get(0).tls().orElseThrow().provider()).isEqualTo(ListenerSpec.Tls.Provider.CONSCRYPT);
    assertThat(running.server().listeners().get(1).tls()).isEmpty();
    ContentResponse response = https.GET("https://localhost:" + httpsPort + "/");
    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isIn("web-1", "web-2");
    // The file's protocols hold on Conscrypt too: TLS 1.3 only.
    try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) trustingContext().getSocketFactory().createSocket("127.0.0.1", httpsPort)) {
      socket.startHandshake();
      assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
    }
  }

  private javax.net.ssl.SSLContext trustingContext() throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", files.ca().certificate());
    javax.net.ssl.TrustManagerFactory trustManagers = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
    trustManagers.init(trust);
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
    context.init(null, trustManagers.getTrustManagers(), null);
    return context;
  }

  @Test
  void aReloadThatChangesTheListenersWarnsThatTheyNeedARestart() throws Exception {
    int httpsPort = freePort();
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(httpsPort, "[ TLSv1.3, TLSv1.2 ]"));
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);
    assertThat(running.exitCode()).isZero();
    ConfigReloader reloader = running.server().server().getBean(ConfigReloader.class);
    Logger logger = (Logger) LoggerFactory.getLogger(ConfigReloader.class);
    ListAppender<ILoggingEvent> log = new ListAppender<>();
    log.start();
    logger.addAppender(log);
    try {
      Files.writeString(file, yaml(httpsPort, "[ TLSv1.3 ]"));
      assertThat(reloader.reload()).isTrue();
    } finally {
      logger.detachAppender(log);
    }
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage)
        .anySatisfy(m -> assertThat(m).contains("listen/listeners and admin settings changed").contains("next restart"));
    // The running listener still offers TLS 1.2: listeners are restart-only.
    assertThat(running.server().listeners().get(0).tls().orElseThrow().protocols()).containsExactly("TLSv1.3", "TLSv1.2");
  }

  @Test
  void optionalClientAuthAndAKeyStorePasswordFileRotatedWithItsStore() throws Exception {
    int httpsPort = freePort();
    String yaml = yaml(httpsPort, "[ TLSv1.3, TLSv1.2 ]").replace("certificates: [ { cert: site.crt, key: site.key } ]",
        "keystore: balancer.p12\n      password: { file: keystore-password.txt }\n      clientCa: clients.pem\n      clientAuth: optional");
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml);
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);
    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();

    // clientAuth: optional: a client without a certificate is served (required would fail its handshake).
    assertThat(https.GET("https://localhost:" + httpsPort + "/").getStatus()).isEqualTo(200);
    assertThat(running.server().listeners().get(0).tls().orElseThrow().certificates().files())
        .containsExactly(dir.resolve("balancer.p12"), dir.resolve("keystore-password.txt"));

    // Both rotated: the listener follows the pair by itself, so a reload of the file sees no listener change.
    files.site().writePkcs12(dir.resolve("balancer.p12"), "site", "rotated");
    Files.writeString(dir.resolve("keystore-password.txt"), "rotated\n");
    ConfigReloader reloader = running.server().server().getBean(ConfigReloader.class);
    Logger logger = (Logger) LoggerFactory.getLogger(ConfigReloader.class);
    ListAppender<ILoggingEvent> log = new ListAppender<>();
    log.start();
    logger.addAppender(log);
    try {
      reloader.reload();
    } finally {
      logger.detachAppender(log);
    }
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage).noneSatisfy(m -> assertThat(m).contains("next restart"));
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage).noneSatisfy(m -> assertThat(m).contains("refused"));
  }

  @Test
  void everyListenerSettingReachesTheServer() {
    PemPair pair = new PemPair(dir.resolve("site.crt"), dir.resolve("site.key"));
    ListenerSpec tls = BalancerFactory.listener(new Listen("0.0.0.0", 8443,
        new TlsConfig(List.of(pair), null, null, List.of("TLSv1.3"), dir.resolve("clients.pem")), null));
    assertThat(tls.host()).isEqualTo("0.0.0.0");
    assertThat(tls.port()).isEqualTo(8443);
    assertThat(tls.tls().orElseThrow().protocols()).containsExactly("TLSv1.3");
    assertThat(tls.tls().orElseThrow().clientCa()).contains(dir.resolve("clients.pem"));
    assertThat(tls.tls().orElseThrow().provider()).isEqualTo(ListenerSpec.Tls.Provider.JDK);
    ListenerSpec conscrypt = BalancerFactory.listener(new Listen("0.0.0.0", 8443,
        new TlsConfig(List.of(pair), null, null, List.of("TLSv1.3"), null, ListenerSpec.Tls.Provider.CONSCRYPT), null));
    assertThat(conscrypt.tls().orElseThrow().provider()).isEqualTo(ListenerSpec.Tls.Provider.CONSCRYPT);
    assertThat(tls.tls().orElseThrow().certificates().files()).containsExactly(pair.certificate(), pair.key());
    assertThat(tls.redirectToHttps()).isEmpty();
    ListenerSpec keyStore = BalancerFactory.listener(new Listen("127.0.0.1", 8444,
        new TlsConfig(List.of(), dir.resolve("balancer.p12"), "changeit", TlsConfig.DEFAULT_PROTOCOLS, null), null));
    assertThat(keyStore.tls().orElseThrow().certificates().files()).containsExactly(dir.resolve("balancer.p12"));
    assertThat(keyStore.tls().orElseThrow().certificates().keyPassword()).isEqualTo("changeit");
    // From a password file: the listener watches and re-reads the file with the key store.
    ListenerSpec passwordFile = BalancerFactory.listener(new Listen("127.0.0.1", 8445,
        new TlsConfig(List.of(), dir.resolve("balancer.p12"), "changeit", dir.resolve("keystore-password.txt"), TlsConfig.DEFAULT_PROTOCOLS,
            null, null), null));
    assertThat(passwordFile.tls().orElseThrow().certificates().files())
        .containsExactly(dir.resolve("balancer.p12"), dir.resolve("keystore-password.txt"));
    assertThat(tls.tls().orElseThrow().clientAuth()).contains(ListenerSpec.Tls.ClientAuth.REQUIRED);
    ListenerSpec optional = BalancerFactory.listener(new Listen("0.0.0.0", 8446,
        new TlsConfig(List.of(pair), null, null, null, TlsConfig.DEFAULT_PROTOCOLS, dir.resolve("clients.pem"), TlsConfig.ClientAuth.OPTIONAL), null));
    assertThat(optional.tls().orElseThrow().clientAuth()).contains(ListenerSpec.Tls.ClientAuth.OPTIONAL);
    ListenerSpec redirect = BalancerFactory.listener(new Listen("127.0.0.1", 8080, null, 8443));
    assertThat(BalancerFactory.listener(new Listen("127.0.0.1", 8080, null, true)).proxyProtocol()).isTrue();
    assertThat(BalancerFactory.listener(new Listen("127.0.0.1", 8080, null, false)).proxyProtocol()).isFalse();
    assertThat(BalancerFactory.listener(new Listen("127.0.0.1", 8080, null, null, false, false)).http2()).isFalse();
    assertThat(BalancerFactory.listener(new Listen("127.0.0.1", 8080, null, null, false, true)).http2()).isTrue();
    assertThat(redirect.redirectToHttps()).hasValue(8443);
    assertThat(redirect.tls()).isEmpty();
  }
}
