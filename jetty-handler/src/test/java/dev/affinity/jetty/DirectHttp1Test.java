package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The balancer's own HTTP/1.1 front end ({@link DirectHttp1}) over real sockets: what it serves
 * itself, what it hands to Jetty's server, and that a client cannot tell which did.
 */
class DirectHttp1Test extends BalancerTestBase {

  private DirectHttp1 frontEnd() {
    return balancer.server().getConnectors()[0].getConnectionFactory(DirectHttp1.class);
  }

  /**
   * Waits until the front end counted {@code n} exchanges as its own: it counts one once its answer's last
   * write is done, which a client can have read a moment before.
   */
  private void awaitServed(long n) throws Exception {
    Eventually.awaitEquals("exchanges the front end served itself", () -> frontEnd().served(), n);
  }

  private static void write(Http1Connection c, String text) throws IOException {
    c.out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    c.out.flush();
  }

  @Test
  void aHeadPastTheHeaderLimitIsHandedToJettysServerWhichAnswers431() throws Exception {
    startDuration("a");
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      c.send("/small", "X-Pad: " + "x".repeat(1500) + "\r\n");
      assertThat(c.read().status()).isEqualTo(200);
      c.send("/big", "X-Pad: " + "x".repeat(40_000) + "\r\n");
      assertThat(c.read().status()).isEqualTo(431);
    }
  }

  @Test
  void aWholeHeadPastASmallHeaderLimitIsAnswered431() throws Exception {
    backends = Backends.start("a");
    balancer = AffinityServer.builder(rawRouter(java.util.Map.of("a", backends.uri("a"))), counters).clock(clock)
        .limits(Limits.builder().maxRequestHeaderBytes(2048).build()).build().start();
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      c.send("/small", "X-Pad: " + "x".repeat(1500) + "\r\n");
      assertThat(c.read().status()).isEqualTo(200);
      c.send("/big", "X-Pad: " + "x".repeat(3000) + "\r\n");
      assertThat(c.read().status()).isEqualTo(431);
    }
  }

  /**
   * Clients that all arrive at once (a load test starting, clients reconnecting after a restart) each need
   * a new connection to the target: every one of them is the front end's own. Connecting used to hold a
   * pool thread, so only a quarter of the pool could connect at once and the rest of the burst went to
   * Jetty's server for good, each such connection costing a third more for as long as it lived.
   */
  @Test
  void aBurstOfNewClientsIsServedDirectlyWhileTheirConnectsToTheTargetAreUnderway() throws Exception {
    backends = Backends.start("a");
    balancer = AffinityServer.builder(rawRouter(java.util.Map.of("a", backends.uri("a"))), counters).clock(clock)
        .limits(Limits.builder().threads(8).build()).build().start();
    int clients = 64;
    java.util.List<Http1Connection> connections = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < clients; i++) {
        connections.add(new Http1Connection(balancer.port()));
      }
      for (Http1Connection c : connections) {
        c.send("/burst");
      }
      for (Http1Connection c : connections) {
        assertThat(c.read().status()).isEqualTo(200);
      }
      // And again on the same connections: still the front end's.
      for (Http1Connection c : connections) {
        c.send("/again");
        assertThat(c.read().status()).isEqualTo(200);
      }
    } finally {
      for (Http1Connection c : connections) {
        c.close();
      }
    }
    awaitServed(2L * clients);
    assertThat(frontEnd().handedOver()).as("connections handed to Jetty's server").isZero();
  }

  /** A target that answers each path its own way: lengths, chunks, no body, a close-delimited body. */
  private static void scripted(RawTargets.Peer peer, String head) throws IOException {
    String[] line = RawTargets.requestLine(head).split(" ");
    String path = line[1];
    String common = "X-Target: t\r\nCache-Control: max-age=5\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: gone\r\n"
        + "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nSet-Cookie: app=1; Path=/\r\n";
    switch (path) {
      case "/length" -> peer.send("HTTP/1.1 200 OK\r\n" + common + "Content-Length: 5\r\n\r\n" + (line[0].equals("HEAD") ? "" : "hello"));
      case "/chunked" -> {
        peer.send("HTTP/1.1 200 OK\r\n" + common + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        peer.send("6\r\n world\r\n0\r\n\r\n");
      }
      case "/chunked-at-once" -> peer.send("HTTP/1.1 201 Created\r\n" + common + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
      case "/no-content" -> peer.send("HTTP/1.1 204 No Content\r\n" + common + "\r\n");
      case "/not-modified" -> peer.send("HTTP/1.1 304 Not Modified\r\n" + common + "ETag: \"x\"\r\n\r\n");
      case "/until-close" -> {
        peer.send("HTTP/1.1 200 OK\r\nX-Target: t\r\nConnection: close\r\n\r\nuntil ");
        peer.send("the end");
        throw new java.io.EOFException("closing as the answer says");
      }
      default -> peer.send("HTTP/1.1 404 Not Found\r\n" + common + "Content-Length: 0\r\n\r\n");
    }
  }

  /** Every request of the parity test, its answer's status line, headers in order (Date's value aside) and body. */
  private java.util.List<String> exchanges(boolean direct) throws Exception {
    RawTargets.RawTarget t = target("t", RawTargets.eachRequest(DirectHttp1Test::scripted));
    directHttp1 = direct;
    balancer = observed(AffinityServer.builder(rawRouter(java.util.Map.of("t", t.uri())), counters).clock(clock)).build();
    balancer.start();
    java.util.List<String> seen = new java.util.ArrayList<>();
    String pin = null;
    for (String request : java.util.List.of("GET /length", "HEAD /length", "GET /chunked", "GET /chunked-at-once", "GET /no-content",
        "GET /not-modified", "GET /missing", "GET /until-close", "GET /length?a=b&c=%41")) {
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", balancer.port())) {
        socket.setSoTimeout(10_000);
        String cookie = pin == null ? "" : "Cookie: " + pin + "\r\n";
        socket.getOutputStream().write((request + " HTTP/1.1\r\nHost: example.com\r\n" + cookie + "Connection: close\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        String normalized = answer.replaceAll("Date: [^\r\n]*", "Date: *").replaceAll("Expires=[^;]*;", "Expires=*;");
        seen.add(request + "\n" + normalized);
        if (pin == null) {
          java.util.regex.Matcher m = java.util.regex.Pattern.compile("Set-Cookie: (AFFINITY=[^;]*)").matcher(answer);
          assertThat(m.find()).as("a new client's answer pins it: %s", answer).isTrue();
          pin = m.group(1);
        }
      }
    }
    // Header names in any case, values with spaces around them, a header the client's Connection names: the
    // target gets the same head from either front end.
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      write(c, "GET /length?q=1 HTTP/1.1\r\nhost: example.com:80\r\nuser-agent:  curl/8 \r\nX-Mixed-CASE:\tv\r\n"
          + "cookie: " + pin + "\r\nconnection: keep-alive, x-drop\r\nX-Drop: 1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n");
      Http1Connection.Answer answer = c.read();
      seen.add("mixed case: " + answer.status());
    }
    for (String targetSaw : t.heads) {
      seen.add(targetSaw.replaceAll("(?i)(x-request-id|traceparent): [^\r\n]*", "$1: *"));
    }
    // The same again on one kept-alive connection (chunks where the length is not known up front).
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      for (String request : java.util.List.of("GET /length", "HEAD /length", "GET /chunked", "GET /chunked-at-once", "GET /no-content",
          "GET /not-modified", "GET /missing", "GET /length?a=b&c=%41")) {
        write(c, request + " HTTP/1.1\r\nHost: example.com\r\nCookie: " + pin + "\r\n\r\n");
        Http1Connection.Answer answer = request.startsWith("HEAD") ? c.readHead() : c.read();
        java.util.Map<String, String> headers = new java.util.TreeMap<>(answer.headers());
        headers.remove("date");
        seen.add(request + " kept alive\n" + answer.status() + " " + headers + "\n" + answer.body());
      }
    }
    if (direct) {
      // Every one of them was the front end's own: the comparison is not Jetty's server against itself.
      awaitServed(18);
      assertThat(frontEnd().handedOver()).isZero();
    }
    balancer.stop();
    balancer = null;
    return seen;
  }

  @Test
  void aClientCannotTellTheFrontEndFromJettysServer() throws Exception {
    java.util.List<String> jettys = exchanges(false);
    java.util.List<String> direct = exchanges(true);
    for (int i = 0; i < jettys.size(); i++) {
      assertThat(direct.get(i).replaceAll("AFFINITY=[^;]*", "AFFINITY=*")).isEqualTo(jettys.get(i).replaceAll("AFFINITY=[^;]*", "AFFINITY=*"));
    }
  }

  @Test
  void whatItDoesNotServeGoesToJettysServerWhichAnswersIt() throws Exception {
    startDuration("a");
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      // A body.
      write(c, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
      assertThat(c.read().status()).isEqualTo(200);
      assertThat(backends.get("a").lastBodyBytes).isEqualTo(3);
      // The connection stays Jetty's: a plain GET on it is Jetty's server's too.
      c.send("/after");
      assertThat(c.read().status()).isEqualTo(200);
    }
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      // Two pipelined requests in one write.
      write(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.read().body()).isEqualTo("a");
      assertThat(c.read().body()).isEqualTo("a");
    }
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      // A head that comes in two writes.
      write(c, "GET /slow HTTP/1.1\r\nHo");
      Thread.sleep(50);
      write(c, "st: x\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      // Not a request Jetty's server takes either: its 400, not ours.
      write(c, "GET / HTTP/1.1\r\nHost: x\r\n X-Folded: y\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(400);
    }
    assertThat(frontEnd().handedOver()).isEqualTo(4);
    assertThat(frontEnd().served()).isZero();
    try (Http1Connection c = new Http1Connection(balancer.port())) {
      c.send("/plain");
      assertThat(c.read().status()).isEqualTo(200);
      c.send("/plain-again");
      assertThat(c.read().status()).isEqualTo(200);
    }
    awaitServed(2);
    assertThat(backends.get("a").requests.get()).isEqualTo(7);
  }
}
