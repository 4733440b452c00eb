package dev.affinity.jetty;

import static dev.affinity.jetty.RawTargets.headers;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.TrustedProxies;
import dev.affinity.jetty.RawTargets.RawTarget;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md "Client address and scheme" over real sockets: forwarding headers and PROXY protocol
 * believed from trusted proxies only, on both paths to a target, for cookies, forwarding headers and
 * the admin endpoints. Distinct loopback addresses (127.0.0.2, ...) stand for hosts that are not trusted.
 */
class TrustedProxiesBalancerTest extends BalancerTestBase {
  private RawTarget target;

  /** A balancer over {@code path} in front of one echoing raw target, trusting {@code proxies}. */
  private void start(TargetPath path, TrustedProxies proxies, boolean proxyProtocol) throws Exception {
    target = target("r0", RawTargets::echoEveryRequest);
    balancer = AffinityServer.builder(rawRouter(Map.of("r0", target.uri())), counters).clock(clock)
        .trustedProxies(proxies).proxyProtocol(proxyProtocol).build();
    path.applyTo(balancer.balancer());
    balancer.start();
    startClient();
  }

  private Map<String, List<String>> lastSent() {
    return headers(target.heads.get(target.heads.size() - 1));
  }

  @OverBothPaths
  void aTrustedTlsTerminatorsHttpsMakesCookiesSecureAndIsPassedOn(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), false);

    String answer = send("127.0.0.1", null, get("/", "X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https"));

    assertThat(answer).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=[^\r]*; Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("https");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("198.51.100.7, 127.0.0.1");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void anUntrustedClientsHttpsIsIgnoredAndDropped(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), false);

    String answer = send("127.0.0.2", null, get("/", "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: https",
        "Forwarded: for=127.0.0.1;proto=https"));

    assertThat(answer).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=").doesNotContain("Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.2");
    assertThat(lastSent().get("forwarded")).singleElement().asString().startsWith("by=127.0.0.1;for=127.0.0.2;");
    path.assertTaken(balancer.balancer());
  }

  @Test
  void theAdminEndpointsRefuseARemoteClientRelayedByATrustedProxyOnLoopback() throws Exception {
    start(TargetPath.DIRECT_RELAY, TrustedProxies.of("127.0.0.1"), false);

    assertThat(send("127.0.0.1", null, get("/affinity/status.json", "X-Forwarded-For: 203.0.113.9"))).startsWith("HTTP/1.1 404 ");
    assertThat(send("127.0.0.1", null, get("/affinity/status.json", "X-Forwarded-For: 127.0.0.1"))).startsWith("HTTP/1.1 200 ");
    // Untrusted (but loopback) peers are themselves the client, whatever they claim.
    assertThat(send("127.0.0.2", null, get("/affinity/status.json", "X-Forwarded-For: 203.0.113.9"))).startsWith("HTTP/1.1 200 ");
    // A swap is seen by the next request: with nobody trusted the relaying proxy is the (loopback) client.
    balancer.balancer().setTrustedProxies(TrustedProxies.none());
    assertThat(send("127.0.0.1", null, get("/affinity/status.json", "X-Forwarded-For: 203.0.113.9"))).startsWith("HTTP/1.1 200 ");
  }

  // -------------------------------------------------------------------------------- PROXY protocol

  @OverBothPaths
  void aProxyV1HeaderFromATrustedPeerGivesTheClientAddress(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), true);

    String answer = send("127.0.0.1", v1("203.0.113.9", 40000), get("/", "X-Forwarded-For: 10.9.9.9"));

    assertThat(answer).startsWith("HTTP/1.1 200 ");
    // The PROXY source is the peer; it is not trusted, so its own X-Forwarded-For is dropped.
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("203.0.113.9");
    assertThat(lastSent().get("forwarded")).singleElement().asString().contains(";for=203.0.113.9;");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aProxyV2HeaderFromATrustedPeerGivesTheClientAddress(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), true);

    assertThat(send("127.0.0.1", v2Proxy(new byte[] {(byte) 198, 51, 100, 7}, 40001), get("/"))).startsWith("HTTP/1.1 200 ");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("198.51.100.7");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aProxiedClientThatIsItselfTrustedHasItsHeadersRead(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1", "10.0.0.0/8"), true);

    String answer = send("127.0.0.1", v1("10.0.0.7", 40002), get("/", "X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https"));

    assertThat(answer).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=[^\r]*; Secure");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("198.51.100.7, 10.0.0.7");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("https");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aProxyV2SslTlvMakesTheRequestHttps(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), true);

    // As HAProxy's send-proxy-v2-ssl: PP2_CLIENT_SSL, verify 0, PP2_SUBTYPE_SSL_VERSION "TLSv1.3".
    byte[] ssl = {0x01, 0, 0, 0, 0, 0x21, 0, 7, 'T', 'L', 'S', 'v', '1', '.', '3'};
    String answer = send("127.0.0.1", v2Proxy(new byte[] {(byte) 198, 51, 100, 7}, 40003, tlv(0x20, ssl)), get("/"));

    assertThat(answer).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=[^\r]*; Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("https");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("198.51.100.7");
    assertThat(lastSent().get("forwarded")).singleElement().asString().endsWith(";proto=https");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aProxyV2SslTlvWithoutTheClientSslFlagIsPlainHttp(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), true);

    // An NLB TCP listener's TLVs (here an AWS-style 0xEA and an SSL TLV whose client flags are 0) say no TLS.
    byte[] tlvs = concat(tlv(0xEA, new byte[] {0x01, 'v', 'p', 'c', 'e'}), tlv(0x20, new byte[] {0, 0, 0, 0, 0}));
    String answer = send("127.0.0.1", v2Proxy(new byte[] {(byte) 198, 51, 100, 8}, 40004, tlvs), get("/"));

    assertThat(answer).startsWith("HTTP/1.1 200 ").containsPattern("(?i)set-cookie: AFFINITY=").doesNotContain("Secure");
    assertThat(lastSent().get("x-forwarded-proto")).containsExactly("http");
  }

  @Test
  void aMalformedSslTlvFromATrustedProxyClosesTheConnectionWithoutAnAnswer() throws Exception {
    start(TargetPath.DIRECT_RELAY, TrustedProxies.of("127.0.0.1"), true);

    // Empty, and a sub-TLV running past its TLV: Jetty's parser fails on both before any request is read.
    for (byte[] bad : List.of(new byte[0], new byte[] {0x01, 0, 0, 0, 0, 0x21, 0x7F, 0x7F})) {
      String answer = send("127.0.0.1", v2Proxy(new byte[] {(byte) 198, 51, 100, 9}, 40005, tlv(0x20, bad)), get("/"));
      assertThat(answer).as("answer to an SSL TLV of %s bytes", bad.length).isEmpty();
    }
    assertThat(target.heads).isEmpty();
    // The listener still serves the next, well-formed connection.
    assertThat(send("127.0.0.1", v2Proxy(new byte[] {(byte) 198, 51, 100, 9}, 40006), get("/"))).startsWith("HTTP/1.1 200 ");
  }

  @OverBothPaths
  void aTrustedProxysClientCertificateHeaderIsPassedOnAndAnyoneElsesDropped(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), false);
    String xfcc = "Hash=ab12;Subject=\"CN=client,O=Shop\";URI=spiffe://shop/cart";

    assertThat(send("127.0.0.1", null, get("/", "X-Forwarded-Client-Cert: " + xfcc))).startsWith("HTTP/1.1 200 ");
    assertThat(lastSent().get("x-forwarded-client-cert")).containsExactly(xfcc);

    assertThat(send("127.0.0.2", null, get("/", "x-forwarded-client-cert: " + xfcc))).startsWith("HTTP/1.1 200 ");
    assertThat(lastSent()).doesNotContainKey("x-forwarded-client-cert");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aProxyV2LocalHealthCheckIsADirectConnectionFromThePeer(TargetPath path) throws Exception {
    start(path, TrustedProxies.of("127.0.0.1"), true);

    assertThat(send("127.0.0.1", v2Local(), get("/health"))).startsWith("HTTP/1.1 200 ");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.1");
    path.assertTaken(balancer.balancer());
  }

  @Test
  void aTrustedPeerWithoutAProxyHeaderIsClosed() throws Exception {
    start(TargetPath.DIRECT_RELAY, TrustedProxies.of("127.0.0.1"), true);

    assertThat(send("127.0.0.1", null, get("/"))).isEmpty();
    assertThat(target.heads).isEmpty();
  }

  @Test
  void anUntrustedPeerSendingAProxyHeaderIsClosedAndOneWithoutIsServed() throws Exception {
    start(TargetPath.DIRECT_RELAY, TrustedProxies.of("127.0.0.1"), true);

    assertThat(send("127.0.0.2", v1("127.0.0.1", 40003), get("/affinity/status.json"))).isEmpty();
    assertThat(send("127.0.0.2", v2Proxy(new byte[] {127, 0, 0, 1}, 40004), get("/"))).isEmpty();
    assertThat(send("127.0.0.2", v2Local(), get("/"))).isEmpty();
    assertThat(target.heads).isEmpty();

    assertThat(send("127.0.0.2", null, get("/"))).startsWith("HTTP/1.1 200 ");
    assertThat(lastSent().get("x-forwarded-for")).containsExactly("127.0.0.2");
  }

  @Test
  void theAdminEndpointsSeeTheProxiedClient() throws Exception {
    start(TargetPath.DIRECT_RELAY, TrustedProxies.of("127.0.0.1"), true);

    assertThat(send("127.0.0.1", v1("203.0.113.9", 40005), get("/affinity/status.json"))).startsWith("HTTP/1.1 404 ");
    assertThat(send("127.0.0.1", v1("127.0.0.1", 40006), get("/affinity/status.json"))).startsWith("HTTP/1.1 200 ");
  }

  @Test
  void proxyProtocolWithoutTrustedProxiesIsRefusedAtBuild() throws Exception {
    target = target("r0", RawTargets::echoEveryRequest);
    AffinityServer.Builder builder = AffinityServer.builder(rawRouter(Map.of("r0", target.uri())), counters).proxyProtocol(true);
    assertThatThrownBy(builder::build).isInstanceOf(IllegalStateException.class)
        .hasMessage("proxyProtocol needs trustedProxies: with none, no peer may send a PROXY header and every connection that does is closed");
  }

  // -------------------------------------------------------------------------------- bytes

  static String get(String path, String... headerLines) {
    StringBuilder b = new StringBuilder("GET ").append(path).append(" HTTP/1.1\r\nHost: shop.example\r\n");
    for (String h : headerLines) {
      b.append(h).append("\r\n");
    }
    return b.append("Connection: close\r\n\r\n").toString();
  }

  static byte[] v1(String source, int sourcePort) {
    return ("PROXY TCP4 " + source + " 127.0.0.1 " + sourcePort + " 80\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

  /** PROXY v2, command PROXY, TCP over IPv4. */
  static byte[] v2Proxy(byte[] source, int sourcePort) {
    return v2Proxy(source, sourcePort, new byte[0]);
  }

  /** PROXY v2, command PROXY, TCP over IPv4, then {@code tlvs} (see {@link #tlv}). */
  static byte[] v2Proxy(byte[] source, int sourcePort, byte[] tlvs) {
    ByteBuffer b = ByteBuffer.allocate(16 + 12 + tlvs.length);
    b.put(V2_SIGNATURE).put((byte) 0x21).put((byte) 0x11).putShort((short) (12 + tlvs.length));
    b.put(source).put(new byte[] {127, 0, 0, 1}).putShort((short) sourcePort).putShort((short) 80);
    return b.put(tlvs).array();
  }

  /** One PROXY v2 TLV: type, 16-bit length, value. */
  static byte[] tlv(int type, byte[] value) {
    return ByteBuffer.allocate(3 + value.length).put((byte) type).putShort((short) value.length).put(value).array();
  }

  static byte[] concat(byte[] a, byte[] b) {
    return ByteBuffer.allocate(a.length + b.length).put(a).put(b).array();
  }

  /** PROXY v2, command LOCAL (a load balancer's own connection, say a health check): no addresses. */
  static byte[] v2Local() {
    ByteBuffer b = ByteBuffer.allocate(16);
    b.put(V2_SIGNATURE).put((byte) 0x20).put((byte) 0x00).putShort((short) 0);
    return b.array();
  }

  /**
   * Connects from {@code localAddress}, sends {@code prefix} (a PROXY header, or nothing) and the
   * request, and returns everything that came back until the balancer closed: empty when it closed
   * without answering.
   */
  String send(String localAddress, byte[] prefix, String request) throws Exception {
    try (Socket socket = new Socket()) {
      socket.bind(new InetSocketAddress(InetAddress.getByName(localAddress), 0));
      URI uri = balancer.uri();
      socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 3_000);
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      if (prefix != null) {
        out.write(prefix);
      }
      try {
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      } catch (SocketException closedAlready) {
        // The balancer may close on the PROXY header before the request is written: nothing came back.
      }
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          got.write(buffer, 0, n);
        }
      } catch (SocketException reset) {
        // A close with unread request bytes is a reset: what arrived before it is the answer.
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the balancer neither answered nor closed within 5 s; got: " + got, e);
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
