package dev.affinity.jetty;

import static dev.affinity.jetty.RawTargets.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.AbstractConnectionPool;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.CompletableResponseListener;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.Destination;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.Test;

/**
 * The direct relay ({@link TargetConnection}) over real sockets: scripted raw-TCP targets behind a
 * real balancer, so that a test controls every byte a target sends and sees every byte it receives.
 */
class DirectRelayTest extends BalancerTestBase {
  private static final String NOT_MODIFIED_DATE = "Mon, 01 Jan 2001 00:00:00 GMT";

  // ---------------------------------------------------------------------------------------------
  // Bodyless requests: the direct path and its kept-alive connections

  @Test
  void bodylessGetsGoDirectOverOneKeptAliveConnection() throws Exception {
    // Direct relay only: counts its own kept-alive connections to the target.
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    UserAgent client = browser();
    for (int i = 0; i < 20; i++) {
      ContentResponse r = client.get("/page/" + i + "?q=" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("r0 GET /page/" + i + "?q=" + i);
      if (i == 0) {
        assertThat(client.setCookieHeader("AFFINITY")).startsWith("AFFINITY=").contains("HttpOnly");
      }
    }
    assertThat(t.accepted.get()).isEqualTo(1);
    assertThat(t.heads).hasSize(20);
    // The balancer's own pool holds the connection: the requests did not go through HttpClient.
    awaitIdleConnections(1);
    assertThat(balancer.balancer().badGatewayResponses()).isZero();
  }

  @Test
  void deleteAndOptionsWithoutBodyAlsoGoDirect() throws Exception {
    // Direct relay only: which methods take it, seen in its own connection pool.
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    assertThat(http.newRequest(balancer.uri().resolve("/item/1")).method("DELETE").timeout(5, TimeUnit.SECONDS).send().getContentAsString())
        .isEqualTo("r0 DELETE /item/1");
    assertThat(http.newRequest(balancer.uri().resolve("/item/2")).method("OPTIONS").timeout(5, TimeUnit.SECONDS).send().getContentAsString())
        .isEqualTo("r0 OPTIONS /item/2");
    assertThat(get("/item/3").getContentAsString()).isEqualTo("r0 GET /item/3");
    assertThat(t.accepted.get()).isEqualTo(1);
    awaitIdleConnections(1);
  }

  @OverBothPaths
  void hopByHopHeadersAreDroppedBothWays(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() == null) {
        return;
      }
      peer.send("HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\n"
          + "Date: " + NOT_MODIFIED_DATE + "\r\nX-Kept: yes\r\nTrailer: X-Checksum\r\nProxy-Authenticate: Basic\r\n"
          + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
      peer.awaitEof();
    });
    startBalancer(path, b -> {}, t);
    String answer = raw("GET /hop HTTP/1.1\r\nHost: shop.example\r\nConnection: close, X-Secret\r\nX-Secret: s\r\n"
        + "Keep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: x\r\nProxy-Connection: keep-alive\r\nTrailer: X-Checksum\r\n"
        + "X-Affinity-Previous-Target: evil\r\nX-Normal: n\r\n\r\n");

    Map<String, List<String>> sent = headers(t.heads.get(0));
    assertThat(t.heads.get(0)).startsWith("GET /hop HTTP/1.1\r\n");
    assertThat(sent).doesNotContainKeys("connection", "x-secret", "keep-alive", "proxy-authorization",
        "proxy-connection", "trailer", "x-affinity-previous-target");
    if (path == TargetPath.HTTP_CLIENT) {
      // Not the client's TE passed on: the balancer's own, on its hop, because this path relays trailers
      // to a client that asked for them (gRPC's grpc-status travels in trailers).
      assertThat(sent.get("te")).containsExactly("trailers");
    } else {
      assertThat(sent).doesNotContainKey("te");
    }
    assertThat(sent.get("host")).containsExactly("shop.example");
    assertThat(sent.get("x-forwarded-for")).containsExactly("127.0.0.1");
    assertThat(sent.get("x-forwarded-proto")).containsExactly("http");
    assertThat(sent.get("x-forwarded-host")).containsExactly("shop.example");
    assertThat(sent.get("x-normal")).containsExactly("n");
    assertThat(sent.get("via")).singleElement().asString().startsWith("1.1 ");
    assertThat(sent.get("forwarded")).singleElement().asString().contains("for=127.0.0.1").contains("host=shop.example");

    assertThat(answer).startsWith("HTTP/1.1 200 ");
    Map<String, List<String>> got = headers(answer.substring(0, answer.indexOf("\r\n\r\n") + 4));
    assertThat(got.get("x-kept")).containsExactly("yes");
    assertThat(got).doesNotContainKeys("x-internal", "keep-alive", "trailer", "proxy-authenticate");
    assertThat(got.get("date")).hasSize(1).noneMatch(d -> d.contains("2001"));
    assertThat(got.get("set-cookie")).anyMatch(c -> c.startsWith("AFFINITY="));
    if (path == TargetPath.HTTP_CLIENT) {
      // A client that takes trailers gets a chunked answer on this path: room for the target's trailers.
      assertThat(answer).endsWith("\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    } else {
      assertThat(answer).endsWith("\r\n\r\nok");
    }
  }

  @OverBothPaths
  void http10RequestWithoutHostGetsTheTargetsHostAndPort(TargetPath path) throws Exception {
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(path, b -> {}, t);
    String answer = raw("GET /old HTTP/1.0\r\n\r\n");
    assertThat(answer.substring(0, answer.indexOf("\r\n"))).matches("HTTP/1\\.[01] 200 .*");
    assertThat(answer).endsWith("r0 GET /old");
    Map<String, List<String>> sent = headers(t.heads.get(0));
    assertThat(sent.get("host")).containsExactly("127.0.0.1:" + t.port());
    assertThat(sent).doesNotContainKey("x-forwarded-host");
    assertThat(sent.get("x-forwarded-for")).containsExactly("127.0.0.1");
  }

  // ---------------------------------------------------------------------------------------------
  // Connections the target closed while they sat idle in the pool, or just as a request went out

  @Test
  void keptAliveConnectionClosedByTheTargetLeavesThePoolAndTheNextRequestGoesOnANewOne() throws Exception {
    // Direct relay only: TargetConnections pooling (an idle connection still listens).
    // Each connection answers one request (without Connection: close), then the target closes it (FIN).
    Script answerOnceThenClose = peer -> {
      if (peer.readHead() != null) {
        peer.send(ok(peer.target.name));
      }
    };
    RawTarget a = target("a", answerOnceThenClose);
    RawTarget b = target("b", answerOnceThenClose);
    startBalancer(TargetPath.DIRECT_RELAY, x -> {}, a, b);
    UserAgent client = browser();
    ContentResponse first = client.get("/");
    assertThat(first.getStatus()).isEqualTo(200);
    String pinned = first.getContentAsString();
    RawTarget pinnedTarget = pinned.equals("a") ? a : b;
    RawTarget other = pinnedTarget == a ? b : a;
    assertThat(pinnedTarget.finished.tryAcquire(2, TimeUnit.SECONDS)).as("target closed its connection").isTrue();
    // The idle connection still listens, so the target's FIN takes it out of the pool without a request.
    awaitIdleConnections(0);

    ContentResponse second = client.get("/again");
    assertThat(second.getStatus()).isEqualTo(200);
    assertThat(second.getContentAsString()).isEqualTo(pinned);
    assertThat(pinnedTarget.accepted.get()).isEqualTo(2);
    assertThat(pinnedTarget.heads).hasSize(2);
    assertThat(other.accepted.get()).isZero();
    assertThat(balancer.balancer().failovers()).isZero();
    assertThat(balancer.balancer().badGatewayResponses()).isZero();
  }

  @OverBothPaths
  void keptAliveConnectionClosedByTheTargetJustAsTheRequestWentOutIsResentOnANewOneNotFailedOver(TargetPath path) throws Exception {
    assertResentOnANewConnection(path, false);
  }

  @OverBothPaths
  void keptAliveConnectionResetByTheTargetJustAsTheRequestWentOutIsResentOnANewOneNotFailedOver(TargetPath path) throws Exception {
    // A reset (RST, as a crashed or rebooted host sends) rather than a FIN.
    assertResentOnANewConnection(path, true);
  }

  /**
   * The same race for an HTTP/2 client's bodyless GET: replayable since {@link Http2Bodies} reads its
   * end ahead (before, every HTTP/2 request counted as possibly having a body, and this gave a 502).
   */
  @OverBothPaths
  void anHttp2StreamWhoseKeptAliveConnectionTheTargetClosedIsResentOnANewOneNotFailedOver(TargetPath path) throws Exception {
    org.eclipse.jetty.http2.client.HTTP2Client transport = new org.eclipse.jetty.http2.client.HTTP2Client();
    HttpClient h2c = new HttpClient(new org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2(transport));
    h2c.setHttpCookieStore(new org.eclipse.jetty.http.HttpCookieStore.Empty());
    h2c.start();
    try {
      assertResentOnANewConnection(path, false, h2c);
    } finally {
      h2c.stop();
    }
  }

  private void assertResentOnANewConnection(TargetPath path, boolean reset) throws Exception {
    assertResentOnANewConnection(path, reset, null);
  }

  /**
   * The race a pool cannot see coming: the target gives up on a kept-alive connection just as the
   * next request arrives on it (its keep-alive timeout ran out), and never answers that request.
   */
  private void assertResentOnANewConnection(TargetPath path, boolean reset, HttpClient h2c) throws Exception {
    Script firstConnectionGivesUp = peer -> {
      boolean first = peer.target.accepted.get() == 1;
      String head;
      while ((head = peer.readHead()) != null) {
        if (first && peer.target.heads.size() == 2) {
          if (reset) {
            peer.socket.setSoLinger(true, 0);
          }
          return;
        }
        peer.send(ok(peer.target.name + " " + requestLine(head).split(" ")[1]));
      }
    };
    RawTarget a = target("a", firstConnectionGivesUp);
    RawTarget b = target("b", firstConnectionGivesUp);
    startBalancer(path, x -> {}, a, b);
    UserAgent client = h2c == null ? browser() : new UserAgent(h2c, balancer.uri());
    ContentResponse first = client.get("/");
    assertThat(first.getStatus()).isEqualTo(200);
    assertThat(first.getVersion()).isEqualTo(h2c == null ? org.eclipse.jetty.http.HttpVersion.HTTP_1_1 : org.eclipse.jetty.http.HttpVersion.HTTP_2);
    String pinned = first.getContentAsString().split(" ")[0];
    RawTarget pinnedTarget = pinned.equals("a") ? a : b;
    RawTarget other = pinnedTarget == a ? b : a;
    awaitIdleConnections(path, 1);

    ContentResponse second = client.get("/again");
    assertThat(second.getStatus()).isEqualTo(200);
    assertThat(second.getContentAsString()).as("the client stays on its target").isEqualTo(pinned + " /again");
    if (path == TargetPath.DIRECT_RELAY) {
      assertThat(pinnedTarget.accepted.get()).isEqualTo(2);
    } else {
      // Jetty's HttpClient pool may open a spare connection while it replaces the closed one (seen
      // once in CI: 3 accepted, the third unused); what matters is below: one resend, same target.
      assertThat(pinnedTarget.accepted.get()).isBetween(2, 3);
    }
    assertThat(pinnedTarget.heads).hasSize(3);
    assertThat(requestLine(pinnedTarget.heads.get(2))).isEqualTo(requestLine(pinnedTarget.heads.get(1)));
    assertThat(other.accepted.get()).isZero();
    assertThat(balancer.balancer().failovers()).isZero();
    assertThat(balancer.balancer().badGatewayResponses()).isZero();
    // The pool keeps the new connection (and, on the HttpClient path, the spare one if it opened one).
    // The expected count is read again on each look: the spare connection may still be opening.
    awaitIdleConnections(path, () -> path == TargetPath.DIRECT_RELAY ? 1 : pinnedTarget.accepted.get() - 1);
  }

  @OverBothPaths
  void refusedConnectionFailsOverToAnotherTarget(TargetPath path) throws Exception {
    RawTarget live = target("live", RawTargets::echoEveryRequest);
    Map<String, URI> group = new LinkedHashMap<>();
    group.put("dead", refusedUri());
    group.put("live", live.uri());
    startBalancer(path, b -> {}, group);
    for (int i = 0; i < 4; i++) {
      ContentResponse r = get("/fresh/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("live GET /fresh/" + i);
    }
    // Round robin sent one of the first two new clients to the dead target; it was then ejected.
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
    assertThat(live.heads).anyMatch(h -> headers(h).getOrDefault("x-affinity-previous-target", List.of()).contains("dead"));
  }

  // ---------------------------------------------------------------------------------------------
  // Bodies: chunked, fixed length, EOF-delimited, none

  @Test
  void largeChunkedAndFixedLengthBodiesAreRelayedByteExactOnOneConnection() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    byte[] chunked = randomBytes(3 * 1024 * 1024, 1);
    byte[] fixed = randomBytes(2 * 1024 * 1024, 2);
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      String path = requestLine(head).split(" ")[1];
      if (path.equals("/chunked")) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        writeChunked(peer.out, chunked, false);
      } else if (path.equals("/fixed")) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + fixed.length + "\r\n\r\n");
        peer.out.write(fixed);
        peer.out.flush();
      } else {
        peer.send(ok("small"));
      }
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    ContentResponse c = getBig("/chunked");
    assertThat(c.getStatus()).isEqualTo(200);
    assertThat(c.getContent().length).isEqualTo(chunked.length);
    assertThat(sha256(c.getContent())).isEqualTo(sha256(chunked));
    ContentResponse f = getBig("/fixed");
    assertThat(f.getStatus()).isEqualTo(200);
    assertThat(f.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH)).isEqualTo(fixed.length);
    assertThat(sha256(f.getContent())).isEqualTo(sha256(fixed));
    assertThat(get("/small").getContentAsString()).isEqualTo("small");
    assertThat(t.accepted.get()).isEqualTo(1);
    assertThat(t.heads).hasSize(3);
    awaitIdleConnections(1);
  }

  @Test
  void chunkedBodyWithExtensionsAndTrailersIsRelayedAndTheConnectionReused() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    byte[] body = randomBytes(200_000, 3);
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      peer.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n");
      writeChunked(peer.out, body, true);
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    for (int i = 0; i < 3; i++) {
      ContentResponse r = getBig("/t" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(sha256(r.getContent())).isEqualTo(sha256(body));
    }
    assertThat(t.accepted.get()).isEqualTo(1);
  }

  @Test
  void eofDelimitedBodyIsRelayedIntactAndTheConnectionNotReused() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    byte[] body = randomBytes(300_000, 4);
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
        peer.out.write(body);
        peer.out.flush();
      }
    });
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    for (int i = 0; i < 2; i++) {
      ContentResponse r = getBig("/eof/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(sha256(r.getContent())).isEqualTo(sha256(body));
    }
    assertThat(t.accepted.get()).isEqualTo(2);
    assertThat(idleConnections()).isZero();
  }

  @Test
  void connectionCloseAndHttp10ResponsesAreNotReused() throws Exception {
    // Direct relay only: its own connection reuse.
    // The target keeps each connection open after answering: the balancer must not reuse it on its own account.
    RawTarget t = target("r0", peer -> {
      String head = peer.readHead();
      if (head == null) {
        return;
      }
      if (requestLine(head).contains("/http10")) {
        peer.send("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
      } else {
        peer.send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      }
      peer.awaitEof();
    });
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    for (String path : List.of("/close", "/close", "/http10", "/http10")) {
      ContentResponse r = get(path);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("ok");
    }
    assertThat(t.accepted.get()).isEqualTo(4);
    // The balancer closed every one of them.
    assertThat(t.finished.tryAcquire(4, 2, TimeUnit.SECONDS)).isTrue();
    assertThat(idleConnections()).isZero();
  }

  @Test
  void headRelaysContentLengthWithoutBodyAndBothConnectionsStayUsable() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      if (head.startsWith("HEAD ")) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n");
      } else {
        peer.send(ok("after head"));
      }
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    try (Wire wire = new Wire()) {
      wire.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
      Reply head = wire.read(true);
      assertThat(head.status).isEqualTo(200);
      assertThat(head.headers.get("content-length")).containsExactly("1234");
      wire.send("GET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      // A stray body after the HEAD answer would be read here instead of this status line.
      Reply get = wire.read(false);
      assertThat(get.status).isEqualTo(200);
      assertThat(new String(get.body, StandardCharsets.ISO_8859_1)).isEqualTo("after head");
      assertThat(wire.in.read()).as("nothing after the GET answer").isEqualTo(-1);
    }
    assertThat(t.accepted.get()).isEqualTo(1);
    assertThat(t.heads).hasSize(2);
  }

  @Test
  void noContentAndNotModifiedHaveNoBodyAndKeepTheConnection() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      String path = requestLine(head).split(" ")[1];
      if (path.equals("/204")) {
        peer.send("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
      } else if (path.equals("/304")) {
        // A 304 may name the length the full answer would have; it still has no body.
        peer.send("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\n");
      } else {
        peer.send(ok("after"));
      }
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    try (Wire wire = new Wire()) {
      wire.send("GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
      Reply noContent = wire.read(false);
      assertThat(noContent.status).isEqualTo(204);
      assertThat(noContent.headers.get("x-a")).containsExactly("1");
      wire.send("GET /304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\n\r\n");
      Reply notModified = wire.read(false);
      assertThat(notModified.status).isEqualTo(304);
      assertThat(notModified.headers.get("etag")).containsExactly("\"v1\"");
      wire.send("GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      Reply after = wire.read(false);
      assertThat(after.status).isEqualTo(200);
      assertThat(new String(after.body, StandardCharsets.ISO_8859_1)).isEqualTo("after");
    }
    assertThat(t.accepted.get()).isEqualTo(1);
    assertThat(t.heads).hasSize(3);
  }

  @Test
  void answerArrivingInFragmentsIsReassembled() throws Exception {
    // Direct relay only: its own parsing of a fragmented answer on the selector.
    String answer = "HTTP/1.1 200 OK\r\nX-Long-Header: " + "v".repeat(3000) + "\r\nContent-Length: 10\r\n\r\n0123456789";
    int[] cuts = {3, 10, 17, 20, 100, 3040, 3041, 3050, answer.length() - 12, answer.length() - 11, answer.length() - 5};
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      int from = 0;
      for (int cut : cuts) {
        peer.send(answer.substring(from, cut));
        Thread.sleep(5);
        from = cut;
      }
      peer.send(answer.substring(from));
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    for (int i = 0; i < 2; i++) {
      ContentResponse r = get("/frag");
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getHeaders().get("X-Long-Header")).hasSize(3000);
      assertThat(r.getContentAsString()).isEqualTo("0123456789");
    }
    assertThat(t.accepted.get()).isEqualTo(1);
  }

  @Test
  void bytesBeyondTheContentLengthAreNotRelayedAndTheConnectionIsDropped() throws Exception {
    // Direct relay only: its own framing and connection reuse (HttpClient's framing is Jetty's).
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      peer.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled");
    }));
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    for (int i = 0; i < 2; i++) {
      ContentResponse r = get("/over");
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("ok");
    }
    assertThat(t.accepted.get()).as("a connection with stray bytes is not reused").isEqualTo(2);
  }

  @OverBothPaths
  void chunkedAnswerWithAContentLengthTooGives502(TargetPath path) throws Exception {
    // A classic smuggling shape (RFC 9112 section 6.3): the relay must not pass on a length that does not match the body.
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        peer.awaitEof();
      }
    });
    startBalancer(path, b -> {}, t);
    ContentResponse r = get("/both");
    // Jetty's parser refuses the answer outright: a 502, never a mismatched length.
    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(r.getContentAsString()).startsWith("502 Bad Gateway");
  }

  // ---------------------------------------------------------------------------------------------
  // Targets that answer with something unusable

  @OverBothPaths
  void garbageFromTheTargetGives502WithAPlainBody(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("NOT HTTP\r\n\r\n");
      }
    });
    startBalancer(path, b -> {}, t);
    ContentResponse r = get("/");
    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(r.getHeaders().get(HttpHeader.CONTENT_TYPE)).startsWith("text/plain");
    assertThat(r.getContentAsString()).startsWith("502 Bad Gateway").doesNotContain("Exception").doesNotContain("\tat ");
    assertThat(balancer.balancer().badGatewayResponses()).isEqualTo(1);
    assertThat(idleConnections(path)).isZero();
  }

  @OverBothPaths
  void interimResponsesAreSkipped(TargetPath path) throws Exception {
    AtomicInteger served = new AtomicInteger();
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      if (served.incrementAndGet() == 1) {
        // All in one write.
        peer.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
      } else {
        // The interim answer in a read of its own.
        peer.send("HTTP/1.1 103 Early Hints\r\nLink: </b.css>; rel=preload\r\n\r\n");
        Thread.sleep(50);
        peer.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello2");
      }
    }));
    startBalancer(path, b -> {}, t);
    ContentResponse first = get("/1");
    assertThat(first.getStatus()).isEqualTo(200);
    assertThat(first.getContentAsString()).isEqualTo("hello");
    assertThat(first.getHeaders().get("Link")).as("interim headers stay with the interim answer").isNull();
    ContentResponse second = get("/2");
    assertThat(second.getStatus()).isEqualTo(200);
    assertThat(second.getContentAsString()).isEqualTo("hello2");
    assertThat(t.accepted.get()).isEqualTo(1);
  }

  @OverBothPaths
  void unaskedSwitchingProtocolsGives502(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n");
        peer.awaitEof();
      }
    });
    startBalancer(path, b -> {}, t);
    ContentResponse r = get("/");
    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(r.getContentAsString()).startsWith("502 Bad Gateway");
    assertThat(t.finished.tryAcquire(2, TimeUnit.SECONDS)).as("the balancer dropped the connection").isTrue();
  }

  // ---------------------------------------------------------------------------------------------
  // Silence, slowness and deaths

  @OverBothPaths
  void silentTargetGives504AfterTheUpstreamTimeout(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.awaitEof();
      }
    });
    startBalancer(path, b -> b.setUpstreamTimeout(Duration.ofMillis(500)), t);
    long start = System.nanoTime();
    ContentResponse r = http.newRequest(balancer.uri().resolve("/stall")).timeout(5, TimeUnit.SECONDS).send();
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.getStatus()).isEqualTo(504);
    assertThat(r.getContentAsString()).startsWith("504 Gateway Timeout").doesNotContain("Exception");
    assertThat(millis).isBetween(450L, 2000L);
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isEqualTo(1);
    assertThat(t.finished.tryAcquire(1, TimeUnit.SECONDS)).as("the watchdog closed the connection").isTrue();
  }

  @OverBothPaths
  void timeoutOnAKeptAliveConnectionIsNotRetried(TargetPath path) throws Exception {
    AtomicInteger served = new AtomicInteger();
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      if (served.incrementAndGet() == 1) {
        peer.send(ok("first"));
      } else {
        peer.awaitEof();
        return;
      }
    }));
    startBalancer(path, b -> b.setUpstreamTimeout(Duration.ofMillis(300)), t);
    assertThat(get("/1").getContentAsString()).isEqualTo("first");
    awaitIdleConnections(path, 1);
    ContentResponse r = http.newRequest(balancer.uri().resolve("/2")).timeout(5, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(504);
    assertThat(t.accepted.get()).as("no second connection for a request the target may be working on").isEqualTo(1);
    assertThat(t.heads).hasSize(2);
  }

  @OverBothPaths
  void slowTargetThatKeepsSendingIsNotCut(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\n");
        for (int i = 0; i < 8; i++) {
          Thread.sleep(200);
          peer.send(String.valueOf(i));
        }
        peer.awaitEof();
      }
    });
    startBalancer(path, b -> b.setUpstreamTimeout(Duration.ofMillis(500)), t);
    ContentResponse r = http.newRequest(balancer.uri().resolve("/trickle")).timeout(5, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("01234567");
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isZero();
  }

  @OverBothPaths
  void targetDyingMidBodyCutsTheClientShortWithoutHanging(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n0123456789");
      }
    });
    startBalancer(path, b -> {}, t);
    // Over a raw socket: the headers and the ten bytes, then the connection ends (no read timeout).
    long start = System.nanoTime();
    try (Wire wire = new Wire()) {
      wire.send("GET /dies HTTP/1.1\r\nHost: x\r\n\r\n");
      Reply reply = wire.readHeadOnly();
      assertThat(reply.status).isEqualTo(200);
      byte[] rest = readToEofOrFail(wire.in);
      assertThat(rest.length).isLessThan(100_000);
      assertThat(new String(rest, StandardCharsets.ISO_8859_1)).startsWith("0123456789");
    }
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(3000);
    // With HttpClient: the exchange fails (early EOF), it does not time out.
    start = System.nanoTime();
    try {
      ContentResponse r = http.newRequest(balancer.uri().resolve("/dies2")).timeout(5, TimeUnit.SECONDS).send();
      assertThat(r.getContent().length).isLessThan(100_000);
    } catch (ExecutionException failed) {
      assertThat(failed.getCause()).isNotInstanceOf(TimeoutException.class);
    } catch (TimeoutException hung) {
      fail("the client hung until its timeout", hung);
    }
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(4000);
    assertThat(idleConnections(path)).isZero();
  }

  @OverBothPaths
  void targetDyingAfterHeadersBeforeAnyBodyGives502(TargetPath path) throws Exception {
    RawTarget t = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nX-Partial: 1\r\nContent-Length: 100\r\n\r\n");
      }
    });
    startBalancer(path, b -> {}, t);
    ContentResponse r = http.newRequest(balancer.uri().resolve("/")).timeout(5, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(r.getHeaders().get("X-Partial")).as("the failed answer's headers are not passed on").isNull();
    assertThat(r.getContentAsString()).startsWith("502 Bad Gateway");
  }

  @OverBothPaths
  void aGetWhoseTargetDiesMidAnswerBeforeAnyOfItReachedTheClientIsServedByAnother(TargetPath path) throws Exception {
    // A target killed while it answers (seen as a rare 502 in KillUnderLoadTest): nothing reached the
    // client yet, and the request may be sent again, so another target answers it.
    RawTarget dying = target("r0", peer -> {
      if (peer.readHead() != null) {
        peer.send("HTTP/1.1 200 OK\r\nX-Partial: 1\r\nContent-Length: 100\r\n\r\n");
      }
    });
    RawTarget healthy = target("r1", RawTargets::echoEveryRequest);
    startBalancer(path, b -> {}, dying, healthy);
    ContentResponse r = http.newRequest(balancer.uri().resolve("/cart")).headers(h -> h.put(HttpHeader.COOKIE, pinCookie("r0")))
        .timeout(5, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("r1 GET /cart");
    assertThat(r.getHeaders().get("X-Partial")).isNull();
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
    // A POST is never sent twice: 502.
    ContentResponse post = http.newRequest(balancer.uri().resolve("/pay")).method("POST")
        .headers(h -> h.put(HttpHeader.COOKIE, pinCookie("r0")))
        .body(new org.eclipse.jetty.client.StringRequestContent("10 EUR")).timeout(5, TimeUnit.SECONDS).send();
    assertThat(post.getStatus()).isEqualTo(502);
  }

  @OverBothPaths
  void clientLeavingMidDownloadClosesTheTargetConnection(TargetPath path) throws Exception {
    AtomicInteger served = new AtomicInteger();
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      if (served.incrementAndGet() == 1) {
        peer.send("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n");
        byte[] block = new byte[64 * 1024];
        try {
          for (int i = 0; i < 100_000_000 / block.length; i++) {
            peer.out.write(block);
          }
        } catch (IOException balancerHungUp) {
          return;
        }
      } else {
        peer.send(ok("next"));
      }
    }));
    startBalancer(path, b -> {}, t);
    try (Wire wire = new Wire()) {
      wire.send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(wire.readHeadOnly().status).isEqualTo(200);
      wire.in.readNBytes(100_000);
    }
    assertThat(t.finished.tryAcquire(2, TimeUnit.SECONDS)).as("the balancer closed the target connection").isTrue();
    assertThat(idleConnections(path)).isZero();
    assertThat(get("/next").getContentAsString()).isEqualTo("next");
    assertThat(t.accepted.get()).isEqualTo(2);
  }

  // ---------------------------------------------------------------------------------------------
  // What does not take the direct path

  @OverBothPaths
  void postWithABodyGoesThroughHttpClientAndArrivesExact(TargetPath path) throws Exception {
    // POST never takes the direct relay: with it on (DIRECT_RELAY) as with it off, the body goes through HttpClient.
    byte[] upload = randomBytes(100_000, 5);
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      byte[] body = peer.readBody(head);
      peer.target.bodies.add(body);
      peer.send(ok("got " + body.length));
    }));
    startBalancer(path, b -> {}, t);
    ContentResponse r = http.POST(balancer.uri().resolve("/upload"))
        .body(new BytesRequestContent("application/octet-stream", upload)).timeout(5, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("got " + upload.length);
    assertThat(t.heads.get(0)).startsWith("POST /upload HTTP/1.1\r\n");
    assertThat(t.bodies).singleElement().satisfies(b -> assertThat(sha256(b)).isEqualTo(sha256(upload)));
    assertThat(r.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).anyMatch(c -> c.startsWith("AFFINITY="));
    assertThat(idleConnections()).as("nothing in the direct path's pool").isZero();
    TargetPath.HTTP_CLIENT.assertTaken(balancer.balancer());
  }

  @Test
  void requestsWaitingOnASlowTargetHoldNoServerThread() throws Exception {
    // Direct relay only: the server threads (none) it holds while a target thinks.
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      String path = requestLine(head).split(" ")[1];
      if (path.startsWith("/slow")) {
        release.await(10, TimeUnit.SECONDS);
      }
      peer.send(ok("r0 " + path));
    }));
    maxThreads = 8;
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    // Three times the server's threads wait on the target at once...
    int waiting = 24;
    List<java.util.concurrent.CompletableFuture<ContentResponse>> slow = new ArrayList<>();
    for (int i = 0; i < waiting; i++) {
      CompletableResponseListener listener = new CompletableResponseListener(
          http.newRequest(balancer.uri().resolve("/slow/" + i)).timeout(15, TimeUnit.SECONDS));
      slow.add(listener.send());
      // Spaced, so that each new connection is made before the next request comes (at most a
      // quarter of the threads connect at once; a burst beyond that would go through HttpClient).
      Thread.sleep(20);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (t.heads.size() < waiting && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(t.heads).as("every slow request reached the target").hasSize(waiting);
    // ...and the server still answers, on the direct path.
    ContentResponse fast = get("/fast");
    assertThat(fast.getContentAsString()).isEqualTo("r0 /fast");
    assertThat(slow).noneMatch(java.util.concurrent.CompletableFuture::isDone);
    release.countDown();
    for (int i = 0; i < waiting; i++) {
      assertThat(slow.get(i).get(10, TimeUnit.SECONDS).getContentAsString()).isEqualTo("r0 /slow/" + i);
    }
    awaitIdleConnections(waiting + 1);
  }

  @Test
  void connectsThatHangHoldNoThreadAndTheServerStillAnswers() throws Exception {
    // Direct relay only: its connects are finished by the selector, no thread waits for a handshake.
    // A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a
    // connect to it hangs until the connect timeout, as to a dead host behind a firewall.
    try (ServerSocket swallower = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      List<Socket> queued = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Socket filler = new Socket();
        try {
          filler.connect(swallower.getLocalSocketAddress(), 300);
          queued.add(filler);
        } catch (SocketTimeoutException full) {
          filler.close();
          break;
        }
      }
      try {
        maxThreads = 8;
        startBalancer(TargetPath.DIRECT_RELAY, b -> b.setConnectTimeout(Duration.ofSeconds(3)),
            Map.of("hole", URI.create("http://127.0.0.1:" + swallower.getLocalPort())));
        // Three times the server's threads try to connect at once...
        List<java.util.concurrent.CompletableFuture<ContentResponse>> hanging = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
          hanging.add(new CompletableResponseListener(
              http.newRequest(balancer.uri().resolve("/h/" + i)).timeout(15, TimeUnit.SECONDS)).send());
        }
        Thread.sleep(300);
        // ...and the admin endpoint (the same server, the same threads) still answers at once.
        long start = System.nanoTime();
        ContentResponse status = http.newRequest(balancer.uri().resolve("/affinity/status.json")).timeout(2, TimeUnit.SECONDS).send();
        assertThat(status.getStatus()).isEqualTo(200);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(1500);
        for (java.util.concurrent.CompletableFuture<ContentResponse> f : hanging) {
          assertThat(f.get(15, TimeUnit.SECONDS).getStatus()).as("no target could be reached").isEqualTo(503);
        }
      } finally {
        for (Socket q : queued) {
          q.close();
        }
      }
    }
  }

  @Test
  void theServerIsNonBlockingSoRequestsAreHandledOnTheSelectorThread() throws Exception {
    // Direct relay only: the server's invocation type, which the direct relay relies on.
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, t);
    // Admin, WebSocket and balancer handlers all declare it; one blocking handler would make Jetty
    // dispatch every request to another thread.
    assertThat(balancer.server().getInvocationType()).isEqualTo(org.eclipse.jetty.util.thread.Invocable.InvocationType.NON_BLOCKING);
    assertThat(balancer.server().getThreadPool()).isInstanceOf(AffinityThreadPool.class);
    assertThat(get("/x").getContentAsString()).isEqualTo("r0 GET /x");
  }

  @Test
  void embeddedInAPlainServerBehindABlockingHandlerTheDirectPathWorksTheSame() throws Exception {
    // Direct relay only: the relay inside a plain blocking Jetty server.
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    // Any Jetty server: its own thread pool (no in-place resume), and a handler in front that does
    // not say it is non-blocking, so Jetty dispatches every request to a pool thread.
    org.eclipse.jetty.server.Server server = new org.eclipse.jetty.server.Server();
    org.eclipse.jetty.server.ServerConnector connector = new org.eclipse.jetty.server.ServerConnector(server);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    org.eclipse.jetty.server.Handler passThrough = new org.eclipse.jetty.server.Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response, org.eclipse.jetty.util.Callback callback) {
        return false;
      }
    };
    AffinityBalancer embedded = new AffinityBalancer(rawRouter(Map.of("r0", t.uri())));
    server.setHandler(new org.eclipse.jetty.server.Handler.Sequence(passThrough, embedded));
    server.start();
    try {
      assertThat(server.getInvocationType()).isEqualTo(org.eclipse.jetty.util.thread.Invocable.InvocationType.BLOCKING);
      startClient();
      URI base = URI.create("http://127.0.0.1:" + connector.getLocalPort());
      for (int i = 0; i < 20; i++) {
        ContentResponse r = http.newRequest(base.resolve("/plain/" + i)).timeout(5, TimeUnit.SECONDS).send();
        assertThat(r.getStatus()).isEqualTo(200);
        assertThat(r.getContentAsString()).isEqualTo("r0 GET /plain/" + i);
      }
      assertThat(t.accepted.get()).as("one kept-alive connection for all 20").isEqualTo(1);
    } finally {
      server.stop();
    }
  }

  @Test
  void withDirectRelayOffTheSameGetsGoThroughHttpClient() throws Exception {
    // HttpClient path by definition: setDirectRelay(false) takes the GETs the direct relay would take.
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(TargetPath.HTTP_CLIENT, b -> {}, t);
    assertThat(balancer.balancer().isDirectRelay()).isFalse();
    for (int i = 0; i < 3; i++) {
      ContentResponse r = get("/off/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("r0 GET /off/" + i);
      assertThat(r.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).anyMatch(c -> c.startsWith("AFFINITY="));
    }
    assertThat(t.heads).hasSize(3);
    assertThat(idleConnections()).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // The balancer

  /** The direct path's own pool of target connections (private in the balancer). */
  private TargetConnections pool() throws Exception {
    Field f = AffinityBalancer.class.getDeclaredField("connections");
    f.setAccessible(true);
    return (TargetConnections) f.get(balancer.balancer());
  }

  private int idleConnections() throws Exception {
    return pool().idleCount();
  }

  /** The connection goes back to the pool just after the last byte went to the client: wait a little. */
  private void awaitIdleConnections(int expected) throws Exception {
    awaitIdleConnections(TargetPath.DIRECT_RELAY, expected);
  }

  /** Idle connections to targets on {@code path}: the direct relay's own pool, or the balancer's HttpClient pools. */
  private int idleConnections(TargetPath path) throws Exception {
    if (path == TargetPath.DIRECT_RELAY) {
      return idleConnections();
    }
    int idle = 0;
    for (Destination d : balancer.balancer().getHttpClient().getDestinations()) {
      idle += ((AbstractConnectionPool) d.getConnectionPool()).getIdleConnectionCount();
    }
    return idle;
  }

  private void awaitIdleConnections(TargetPath path, int expected) throws Exception {
    Eventually.awaitEquals("idle connections to targets on " + path, () -> idleConnections(path), expected);
  }

  private void awaitIdleConnections(TargetPath path, Eventually.Value<Integer> expected) throws Exception {
    Eventually.awaitMatch("idle connections to targets on " + path, () -> idleConnections(path), expected);
  }

  /** A GET that fails within seconds instead of hanging the build when the relay misbehaves. */
  private ContentResponse get(String path) throws Exception {
    return http.newRequest(balancer.uri().resolve(path)).timeout(5, TimeUnit.SECONDS).send();
  }

  private ContentResponse getBig(String path) throws Exception {
    return new CompletableResponseListener(http.newRequest(balancer.uri().resolve(path)).timeout(10, TimeUnit.SECONDS), 16 << 20)
        .send().get(15, TimeUnit.SECONDS);
  }


  /** A raw client connection to the balancer. */
  private final class Wire implements AutoCloseable {
    final Socket socket;
    final InputStream in;
    final OutputStream out;

    Wire() throws IOException {
      socket = new Socket("127.0.0.1", balancer.port());
      socket.setSoTimeout(5_000);
      in = new BufferedInputStream(socket.getInputStream());
      out = socket.getOutputStream();
    }

    void send(String request) throws IOException {
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    Reply readHeadOnly() throws IOException {
      String head = readHead(in);
      if (head == null) {
        throw new EOFException("connection closed before an answer");
      }
      return new Reply(Integer.parseInt(head.substring(9, 12)), headers(head), new byte[0]);
    }

    /** One answer: head, then the body by its framing (none for HEAD, 1xx, 204, 304). */
    Reply read(boolean headRequest) throws IOException {
      Reply head = readHeadOnly();
      int status = head.status;
      if (headRequest || status < 200 || status == 204 || status == 304) {
        return head;
      }
      byte[] body;
      if (head.headers.getOrDefault("transfer-encoding", List.of()).stream().anyMatch(v -> v.contains("chunked"))) {
        body = readChunked(in);
      } else if (head.headers.containsKey("content-length")) {
        body = readExactly(in, Integer.parseInt(head.headers.get("content-length").get(0).trim()));
      } else {
        body = in.readAllBytes();
      }
      return new Reply(status, head.headers, body);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  record Reply(int status, Map<String, List<String>> headers, byte[] body) {}

}
