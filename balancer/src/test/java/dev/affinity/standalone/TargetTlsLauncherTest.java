package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import dev.affinity.standalone.config.TlsFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code targetGroups[].tls} through the launcher: an {@code https://} target that requires client
 * certificates of the test CA, reached with the CA, server name and client certificate of the YAML,
 * and the same file reloaded live without its client certificate and back.
 */
class TargetTlsLauncherTest {
  @TempDir
  Path dir;
  private Server target;
  private int targetPort;
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ManualScheduler reloadScheduler = new ManualScheduler();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void setUp() throws Exception {
    TlsFiles files = TlsFiles.writeTo(dir);
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setKeyStorePath(dir.resolve("balancer.p12").toString()); // site.test, localhost, 127.0.0.1
    ssl.setKeyStorePassword("changeit");
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", files.ca().certificate());
    ssl.setTrustStore(trust);
    ssl.setNeedClientAuth(true);
    target = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.addCustomizer(new SecureRequestCustomizer(false));
    ServerConnector connector = new ServerConnector(target, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(config));
    connector.setHost("127.0.0.1");
    target.addConnector(connector);
    target.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        EndPoint.SslSessionData session = (EndPoint.SslSessionData) request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
        X509Certificate[] peers = session == null ? null : session.peerCertificates();
        String client = peers == null || peers.length == 0 ? "-" : peers[0].getSubjectX500Principal().getName();
        // Every answer closes its connection: the next request makes a new handshake with what is configured then.
        response.getHeaders().put("Connection", "close");
        Content.Sink.write(response, true, "secure-1 client=" + client, callback);
        return true;
      }
    });
    target.start();
    targetPort = connector.getLocalPort();
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
    target.stop();
  }

  private String yaml(String tls) {
    return """
        listen: { host: 127.0.0.1, port: 0 }
        keys:
          - { id: k1, secret: "%s" }
        targetGroups:
          - name: secure
            healthCheck: { enabled: false }
            tls: %s
            targets:
              - { id: secure-1, uri: "https://127.0.0.1:%d" }
        """.formatted(BalancerTestBase.SECRET, tls, targetPort);
  }

  private ContentResponse get() throws Exception {
    return http.newRequest("http://127.0.0.1:" + running.server().port() + "/").timeout(10, TimeUnit.SECONDS).send();
  }

  @Test
  void reachesAnHttpsTargetWithTheCaServerNameAndClientCertificateOfTheFileAndFollowsAReload() throws Exception {
    String withClientCert = "{ ca: ca.pem, serverName: site.test, clientCert: { cert: client.crt, key: client.key } }";
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml(withClientCert));

    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);
    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();

    ContentResponse response = get();
    assertThat(response.getStatus()).isEqualTo(200);
    assertThat(response.getContentAsString()).isEqualTo("secure-1 client=CN=balancer");

    // Reloaded without the client certificate: the target, which requires one, refuses the next handshake.
    Files.writeString(file, yaml("{ ca: ca.pem, serverName: site.test }"));
    assertThat(running.server().server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(get().getStatus()).isEqualTo(502);

    // And with another server name than the certificate's: refused by the balancer's own check.
    Files.writeString(file, yaml("{ ca: ca.pem, serverName: other.test, clientCert: { cert: client.crt, key: client.key } }"));
    assertThat(running.server().server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(get().getStatus()).isEqualTo(502);

    Files.writeString(file, yaml(withClientCert));
    assertThat(running.server().server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(get().getContentAsString()).isEqualTo("secure-1 client=CN=balancer");
  }
}
