package dev.affinity.jetty;

import static dev.affinity.jetty.RawTargets.headers;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.affinity.balancer.TrustedProxies;
import dev.affinity.jetty.RawTargets.RawTarget;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The balancer behind a real HAProxy: in TCP mode with {@code send-proxy-v2} (as AWS NLB), and in
 * HTTP mode terminating TLS and sending {@code X-Forwarded-For}/{@code -Proto} (as ALB or any TLS
 * terminator). The test's client connects from 127.0.0.5 (or from this machine's non-loopback
 * address, a "remote" client), so the address the target hears about is the client's, not HAProxy's.
 */
class HaproxyTest extends BalancerTestBase {
  private static final InetAddress CLIENT = loopback(5);
  private Path dir;
  private Haproxy haproxy;
  private RawTarget target;

  @BeforeAll
  static void haproxyIsInstalled() {
    // CI installs it (.ci/run); a developer machine without it skips these tests, and only these.
    assumeTrue(Haproxy.installed(), "haproxy is not installed at " + Haproxy.BINARY);
  }

  @BeforeEach
  void directory() throws Exception {
    Path root = Path.of("target", "haproxy").toAbsolutePath();
    Files.createDirectories(root);
    dir = Files.createTempDirectory(root, "run-");
  }

  @AfterEach
  void stopHaproxy() throws Exception {
    if (haproxy != null) {
      haproxy.close();
    }
  }

  private void startBalancer(TargetPath path, boolean proxyProtocol) throws Exception {
    target = target("r0", RawTargets::echoEveryRequest);
    balancer = AffinityServer.builder(rawRouter(Map.of("r0", target.uri())), counters).clock(clock)
        .trustedProxies(TrustedProxies.of("127.0.0.1")).proxyProtocol(proxyProtocol).build();
    path.applyTo(balancer.balancer());
    balancer.start();
    startClient();
  }

  private Map<String, List<String>> lastSent() {
    return headers(target.heads.get(target.heads.size() - 1));
  }

  private static String defaults() {
    return "global\n  maxconn 256\n"
        + "defaults\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n";
  }

  /** HAProxy in TCP mode on {@code binds}, sending PROXY v2 to the balancer. */
  private void startTcpProxy(List<InetSocketAddress> binds) throws Exception {
    StringBuilder config = new StringBuilder(defaults()).append("frontend tcp_in\n  mode tcp\n");
    for (InetSocketAddress b : binds) {
      config.append("  bind ").append(b.getAddress().getHostAddress()).append(':').append(b.getPort()).append('\n');
    }
    config.append("  default_backend affinity\n")
        .append("backend affinity\n  mode tcp\n  server balancer 127.0.0.1:").append(balancer.port())
        .append(" send-proxy-v2 source 127.0.0.1\n");
    haproxy = Haproxy.start(dir, config.toString(), binds);
  }

  @OverBothPaths
  void behindHaproxyInTcpModeTheTargetHearsOfTheRealClient(TargetPath path) throws Exception {
    startBalancer(path, true);
    InetSocketAddress front = new InetSocketAddress(InetAddress.getLoopbackAddress(), Haproxy.freePort());
    startTcpProxy(List.of(front));

    String answer = send(CLIENT, front, "GET /cart HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 203.0.113.66\r\n"
        + "X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n");

    assertThat(answer).startsWith("HTTP/1.1 200 ").contains("r0 GET /cart").doesNotContain("Secure");
    // PROXY v2 named 127.0.0.5; it is not trusted, so what it claimed in headers is dropped.
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.5");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http");
    path.assertTaken(balancer.balancer());
  }

  @Test
  void behindHaproxyInTcpModeARemoteClientIsNotLoopbackForTheAdminEndpoints() throws Exception {
    InetAddress remote = Haproxy.nonLoopbackAddress();
    assumeTrue(remote != null, "this machine has no non-loopback IPv4 address to be a remote client from");
    startBalancer(TargetPath.DIRECT_RELAY, true);
    int port = Haproxy.freePort();
    InetSocketAddress loopbackFront = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    InetSocketAddress remoteFront = new InetSocketAddress(remote, port);
    startTcpProxy(List.of(loopbackFront, remoteFront));

    String get = "GET /affinity/status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assertThat(send(remote, remoteFront, get)).startsWith("HTTP/1.1 404 ");
    assertThat(send(CLIENT, loopbackFront, get)).startsWith("HTTP/1.1 200 ");
  }

  @OverBothPaths
  void behindHaproxyTerminatingTlsCookiesAreSecureAndTheTargetHearsHttps(TargetPath path) throws Exception {
    assumeTrue(Files.isExecutable(Haproxy.OPENSSL), "openssl is not installed to make HAProxy's certificate");
    startBalancer(path, false);
    Path pem = Haproxy.selfSignedPem(dir);
    InetAddress remote = Haproxy.nonLoopbackAddress();
    int port = Haproxy.freePort();
    InetSocketAddress front = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    List<InetSocketAddress> binds = remote == null ? List.of(front) : List.of(front, new InetSocketAddress(remote, port));
    StringBuilder config = new StringBuilder(defaults()).append("frontend https_in\n  mode http\n");
    for (InetSocketAddress b : binds) {
      config.append("  bind ").append(b.getAddress().getHostAddress()).append(':').append(port).append(" ssl crt ").append(pem).append('\n');
    }
    config.append("  option forwardfor\n  http-request set-header X-Forwarded-Proto https\n  default_backend affinity\n")
        .append("backend affinity\n  mode http\n  server balancer 127.0.0.1:").append(balancer.port()).append(" source 127.0.0.1\n");
    haproxy = Haproxy.start(dir, config.toString(), binds);

    HttpClient tls = tlsClient(CLIENT);
    try {
      ContentResponse r = tls.newRequest("https://127.0.0.1:" + port + "/cart").timeout(10, TimeUnit.SECONDS).send();
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getHeaders().getValuesList("Set-Cookie")).isNotEmpty().allSatisfy(c -> assertThat(c).contains("; Secure"));
      assertThat(lastSent().get("x-forwarded-proto")).containsExactly("https");
      assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.5, 127.0.0.1");
      path.assertTaken(balancer.balancer());
    } finally {
      tls.stop();
    }

    // The same headers sent straight to the balancer by a client that is no proxy: ignored and dropped.
    String direct = send(CLIENT, new InetSocketAddress(InetAddress.getLoopbackAddress(), balancer.port()),
        "GET /cart HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            + "Connection: close\r\n\r\n");
    assertThat(direct).startsWith("HTTP/1.1 200 ").containsIgnoringCase("set-cookie: AFFINITY=").doesNotContain("Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.5");

    // A remote client relayed by the loopback HAProxy is not let into the admin endpoints.
    if (remote != null) {
      HttpClient remoteClient = tlsClient(remote);
      try {
        assertThat(remoteClient.newRequest("https://" + remote.getHostAddress() + ":" + port + "/affinity/status.json")
            .timeout(10, TimeUnit.SECONDS).send().getStatus()).isEqualTo(404);
        assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http"); // the admin request reached no target
      } finally {
        remoteClient.stop();
      }
      HttpClient local = tlsClient(CLIENT);
      try {
        assertThat(local.newRequest("https://127.0.0.1:" + port + "/affinity/status.json").timeout(10, TimeUnit.SECONDS).send().getStatus())
            .isEqualTo(200);
      } finally {
        local.stop();
      }
    }
  }

  @OverBothPaths
  void behindHaproxyTerminatingTlsInTcpModeWithSendProxyV2SslTheRequestIsHttps(TargetPath path) throws Exception {
    assumeTrue(Files.isExecutable(Haproxy.OPENSSL), "openssl is not installed to make HAProxy's certificate");
    startBalancer(path, true);
    Path pem = Haproxy.selfSignedPem(dir);
    InetSocketAddress tlsFront = new InetSocketAddress(InetAddress.getLoopbackAddress(), Haproxy.freePort());
    InetSocketAddress plainFront = new InetSocketAddress(InetAddress.getLoopbackAddress(), Haproxy.freePort());
    // As an AWS NLB TLS listener: TLS ends at the proxy, which tells the balancer so in PROXY v2's SSL TLV.
    String config = defaults()
        + "frontend tls_in\n  mode tcp\n  bind 127.0.0.1:" + tlsFront.getPort() + " ssl crt " + pem + "\n  default_backend affinity\n"
        + "frontend plain_in\n  mode tcp\n  bind 127.0.0.1:" + plainFront.getPort() + "\n  default_backend affinity\n"
        + "backend affinity\n  mode tcp\n  server balancer 127.0.0.1:" + balancer.port() + " send-proxy-v2-ssl source 127.0.0.1\n";
    haproxy = Haproxy.start(dir, config, List.of(tlsFront, plainFront));

    HttpClient tls = tlsClient(CLIENT);
    try {
      ContentResponse r = tls.newRequest("https://127.0.0.1:" + tlsFront.getPort() + "/cart").timeout(10, TimeUnit.SECONDS).send();
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getHeaders().getValuesList("Set-Cookie")).isNotEmpty().allSatisfy(c -> assertThat(c).contains("; Secure"));
      assertThat(lastSent().get("x-forwarded-proto")).containsExactly("https");
      assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.5");
      assertThat(lastSent().get("forwarded")).singleElement().asString().endsWith(";proto=https");
      path.assertTaken(balancer.balancer());
    } finally {
      tls.stop();
    }

    // The same proxy's plain frontend: its SSL TLV (if any) says no TLS, and so does the balancer.
    String plain = send(CLIENT, plainFront, "GET /cart HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");
    assertThat(plain).startsWith("HTTP/1.1 200 ").containsIgnoringCase("set-cookie: AFFINITY=").doesNotContain("Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http");
  }

  /** An HTTPS client that trusts HAProxy's self-signed certificate and connects from {@code source}. */
  private static HttpClient tlsClient(InetAddress source) throws Exception {
    ClientConnector connector = new ClientConnector();
    connector.setSslContextFactory(new SslContextFactory.Client(true));
    connector.setBindAddress(new InetSocketAddress(source, 0));
    HttpClient client = new HttpClient(new HttpClientTransportOverHTTP(connector));
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.start();
    return client;
  }

  /** One request on a new connection from {@code source}; everything until the far end closed. */
  private static String send(InetAddress source, InetSocketAddress to, String request) throws Exception {
    try (Socket socket = new Socket()) {
      socket.bind(new InetSocketAddress(source, 0));
      socket.connect(to, 3_000);
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      in.transferTo(got);
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private static InetAddress loopback(int last) {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) last});
    } catch (java.net.UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }
}
