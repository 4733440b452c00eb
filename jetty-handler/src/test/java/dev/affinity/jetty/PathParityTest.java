package dev.affinity.jetty;

import static dev.affinity.jetty.RawTargets.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityTicket;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;

/**
 * What both paths to a target must do alike (jetty-handler/README.md, "Two paths to a target": one
 * header policy), each test once per {@link TargetPath}, with scripted raw targets that record the
 * request head exactly as it arrived and raw clients that see the answer exactly as it left.
 */
class PathParityTest extends BalancerTestBase {
  private static final String OLD_DATE = "Mon, 01 Jan 2001 00:00:00 GMT";

  @OverBothPaths
  void targetsHopByHopAnswerHeadersStayBehindAndItsDateIsReplacedByOne(TargetPath path) throws Exception {
    RawTarget t = target("r0", eachRequest((peer, head) -> peer.send("HTTP/1.1 200 OK\r\n"
        + "Connection: keep-alive, X-Internal, X-Trace\r\nX-Internal: secret\r\nX-Trace: t1\r\n"
        + "Keep-Alive: timeout=5, max=100\r\nDate: " + OLD_DATE + "\r\nX-Kept: yes\r\nContent-Type: text/plain\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")));
    startBalancer(path, b -> {}, t);

    String answer = raw("GET /r HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");

    assertThat(answer).startsWith("HTTP/1.1 200 ");
    int end = answer.indexOf("\r\n\r\n") + 4;
    Map<String, List<String>> got = headers(answer.substring(0, end));
    assertThat(got.get("x-kept")).containsExactly("yes");
    assertThat(got).doesNotContainKeys("x-internal", "x-trace", "keep-alive");
    assertThat(got.getOrDefault("connection", List.of())).noneMatch(v -> v.toLowerCase().contains("x-internal"));
    assertThat(got.get("date")).as("one Date, the balancer's").hasSize(1).noneMatch(d -> d.contains("2001"));
    // The target's Transfer-Encoding is not copied: the balancer frames the answer itself, once.
    List<String> te = got.getOrDefault("transfer-encoding", List.of());
    assertThat(te).hasSizeLessThanOrEqualTo(1);
    byte[] rest = answer.substring(end).getBytes(StandardCharsets.ISO_8859_1);
    if (te.isEmpty()) {
      // A length of its own, or (the client asked to close) the end of the connection.
      assertThat(got.getOrDefault("content-length", List.of("5"))).containsExactly("5");
      assertThat(new String(rest, StandardCharsets.ISO_8859_1)).isEqualTo("hello");
    } else {
      assertThat(te).containsExactly("chunked");
      assertThat(got).doesNotContainKey("content-length");
      assertThat(new String(readChunked(new ByteArrayInputStream(rest)), StandardCharsets.ISO_8859_1)).isEqualTo("hello");
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void clientsPreviousTargetHeaderNeverReachesTheTarget(TargetPath path) throws Exception {
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(path, b -> {}, t);

    String answer = raw("GET /p HTTP/1.1\r\nHost: shop.example\r\nX-Affinity-Previous-Target: evil\r\n"
        + "x-affinity-previous-target: r0\r\nConnection: close\r\n\r\n");

    assertThat(answer).startsWith("HTTP/1.1 200 ").endsWith("r0 GET /p");
    assertThat(t.heads).hasSize(1);
    assertThat(headers(t.heads.get(0))).doesNotContainKey("x-affinity-previous-target");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void afterAFailoverTheTargetSeesOnlyTheBalancersPreviousTargetAndTheCookieIsRewritten(TargetPath path) throws Exception {
    RawTarget live = target("live", RawTargets::echoEveryRequest);
    Map<String, URI> group = new LinkedHashMap<>();
    group.put("dead", refusedUri());
    group.put("live", live.uri());
    startBalancer(path, b -> {}, group);
    UserAgent client = browser();
    client.jar.put("AFFINITY", cookies.codec().seal("AFFINITY", AffinityTicket.of("dead", "web", START, START.plusSeconds(3600))));

    ContentResponse r = client.send(http.newRequest(balancer.uri().resolve("/cart"))
        .headers(h -> h.put(AffinityBalancer.PREVIOUS_TARGET_HEADER, "evil")));

    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("live GET /cart");
    assertThat(live.heads).hasSize(1);
    assertThat(headers(live.heads.get(0)).get("x-affinity-previous-target")).containsExactly("dead");
    assertThat(cookies.read(client, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo("live");
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
    // Pinned to its new target, which hears of no previous one again.
    client.send(http.newRequest(balancer.uri().resolve("/cart")).headers(h -> h.put(AffinityBalancer.PREVIOUS_TARGET_HEADER, "evil")));
    assertThat(live.heads).hasSize(2);
    assertThat(headers(live.heads.get(1))).doesNotContainKey("x-affinity-previous-target");
  }

  @OverBothPaths
  void forwardingHeadersAreAppendedToATrustedProxysOrSetFromItsHost(TargetPath path) throws Exception {
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(path, b -> b.setTrustedProxies(dev.affinity.balancer.TrustedProxies.of("127.0.0.1")), t);

    String answer = raw("GET /f HTTP/1.1\r\nHost: shop.example:8080\r\nX-Forwarded-For: 203.0.113.9\r\n"
        + "Forwarded: for=203.0.113.9;proto=https\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: www.example\r\n"
        + "Connection: close\r\n\r\n");

    assertThat(answer).startsWith("HTTP/1.1 200 ");
    Map<String, List<String>> sent = headers(t.heads.get(0));
    assertThat(sent.get("host")).containsExactly("shop.example:8080");
    assertThat(sent.get("x-forwarded-for")).containsExactly("203.0.113.9, 127.0.0.1");
    // What the trusted proxy said the client used, not this hop's plain HTTP.
    assertThat(sent.get("x-forwarded-proto")).containsExactly("https");
    assertThat(sent.get("x-forwarded-host")).containsExactly("www.example");
    assertThat(sent.get("forwarded"))
        .containsExactly("for=203.0.113.9;proto=https, by=127.0.0.1;for=127.0.0.1;host=\"shop.example:8080\";proto=http");
    assertThat(sent.get("via")).singleElement().asString().matches("1\\.1 \\S+");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void forwardingHeadersFromAnUntrustedClientAreReplacedByTheBalancersOwn(TargetPath path) throws Exception {
    RawTarget t = target("r0", RawTargets::echoEveryRequest);
    startBalancer(path, b -> {}, t);

    String answer = raw("GET /f HTTP/1.1\r\nHost: shop.example:8080\r\nX-Forwarded-For: 203.0.113.9\r\n"
        + "Forwarded: for=203.0.113.9;proto=https\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
        + "X-Forwarded-Port: 443\r\nX-Forwarded-Server: edge\r\nConnection: close\r\n\r\n");

    assertThat(answer).startsWith("HTTP/1.1 200 ");
    Map<String, List<String>> sent = headers(t.heads.get(0));
    assertThat(sent.get("host")).containsExactly("shop.example:8080");
    assertThat(sent.get("x-forwarded-for")).containsExactly("127.0.0.1");
    assertThat(sent.get("x-forwarded-proto")).containsExactly("http");
    assertThat(sent.get("x-forwarded-host")).containsExactly("shop.example:8080");
    assertThat(sent.get("forwarded")).containsExactly("by=127.0.0.1;for=127.0.0.1;host=\"shop.example:8080\";proto=http");
    assertThat(sent).doesNotContainKeys("x-forwarded-port", "x-forwarded-server");
    assertThat(sent.get("via")).singleElement().asString().matches("1\\.1 \\S+");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aGetTakesTheChosenPathAndAPostWithABodyAlwaysGoesThroughHttpClient(TargetPath path) throws Exception {
    byte[] upload = randomBytes(10_000, 9);
    RawTarget t = target("r0", eachRequest((peer, head) -> {
      byte[] body = peer.readBody(head);
      peer.target.bodies.add(body);
      peer.send(ok("r0 " + requestLine(head).split(" ")[0] + " " + body.length));
    }));
    startBalancer(path, b -> {}, t);

    ContentResponse get = http.newRequest(balancer.uri().resolve("/g")).timeout(5, TimeUnit.SECONDS).send();
    assertThat(get.getStatus()).isEqualTo(200);
    assertThat(get.getContentAsString()).isEqualTo("r0 GET 0");
    path.assertTaken(balancer.balancer());

    // POST never takes the direct relay: on DIRECT_RELAY too it goes through HttpClient.
    ContentResponse post = http.POST(balancer.uri().resolve("/p"))
        .body(new BytesRequestContent("application/octet-stream", upload)).timeout(5, TimeUnit.SECONDS).send();
    assertThat(post.getStatus()).isEqualTo(200);
    assertThat(post.getContentAsString()).isEqualTo("r0 POST " + upload.length);
    assertThat(sha256(t.bodies.get(1))).isEqualTo(sha256(upload));
    TargetPath.HTTP_CLIENT.assertTaken(balancer.balancer());
  }
}
