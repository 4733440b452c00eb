package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.Rejection;
import dev.affinity.cookie.SetCookie;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.Test;

/** The balancer over real sockets: real Jetty backends, a real Jetty client, no mocks. */
/** The balancer over real sockets: real Jetty backends, a real Jetty client, no mocks. */
class AffinityBalancerTest extends BalancerTestBase {

  @OverBothPaths
  void durationStickinessHoldsOverHundredRequests(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    UserAgent client = browser();
    ContentResponse first = client.get("/");
    assertThat(first.getStatus()).isEqualTo(200);
    String pinned = first.getContentAsString();
    String setCookie = client.setCookieHeader("AFFINITY");
    assertThat(setCookie).contains("Path=/").contains("HttpOnly").contains("SameSite=Lax").contains("Max-Age=3600")
        .doesNotContain("Secure");
    for (int i = 0; i < 100; i++) {
      ContentResponse r = client.get("/page/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo(pinned);
    }
    Target target = balancer.balancer().router().target(pinned);
    assertThat(target.stickyHits()).isEqualTo(100);
    assertThat(target.newPins()).isEqualTo(1);
    // A sliding cookie is re-sealed only when its life dropped by more than the granularity (36 s here).
    assertThat(client.lastSetCookies).isEmpty();
    clock.advance(Duration.ofSeconds(37));
    client.get("/");
    assertThat(client.setCookieHeader("AFFINITY")).isNotNull();
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void newClientsAreSpreadRoundRobin(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 30; i++) {
      ContentResponse r = browser().get("/");
      seen.merge(r.getContentAsString(), 1, Integer::sum);
    }
    assertThat(seen).containsOnlyKeys("a", "b", "c").containsValues(10, 10, 10);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void invalidCookiesAreTreatedAsAbsentAndReplaced(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    UserAgent honest = browser();
    honest.get("/");
    String valid = honest.jar.get("AFFINITY");
    Keyring foreignKeys = Keyring.builder().addKey("k1", Base64.getEncoder().encodeToString(new byte[31 + 1]).replace('A', 'B')).build();
    AffinityCookies foreign = AffinityCookies.of(AffinityCookieCodec.builder().keyring(foreignKeys).clock(clock).build(), CookiePolicy.defaults());
    String foreignValue = foreign.codec().seal("AFFINITY", AffinityTicket.of("a", "web", START, START.plusSeconds(3600)));
    String movedValue = cookies.codec().seal("AFFINITYAPP", AffinityTicket.of("a", "web", START, START.plusSeconds(3600)));
    String expiredValue = cookies.codec().seal("AFFINITY", AffinityTicket.of("a", "web", START.minusSeconds(7200), START.minusSeconds(1)));
    char flipped = valid.charAt(20) == 'A' ? 'B' : 'A';
    String tampered = valid.substring(0, 20) + flipped + valid.substring(21);
    List<String> bad = List.of("", "garbage!!", "%00%ff", tampered, valid.substring(0, valid.length() / 2),
        foreignValue, movedValue, expiredValue, "A".repeat(5000));
    for (String value : bad) {
      UserAgent client = browser();
      client.jar.put("AFFINITY", value);
      ContentResponse r = client.get("/");
      assertThat(r.getStatus()).as("status for cookie %s", value).isEqualTo(200);
      assertThat(client.setCookieHeader("AFFINITY")).as("fresh cookie for %s", value).isNotNull();
      assertThat(cookies.read(client, "AFFINITY")).as("fresh cookie opens").isPresent();
    }
    assertThat(counters.rejectedCount(Rejection.TAMPERED)).isGreaterThanOrEqualTo(1);
    assertThat(counters.rejectedCount(Rejection.EXPIRED)).isEqualTo(1);
    assertThat(counters.rejectedCount(Rejection.WRONG_NAME)).isEqualTo(1);
    assertThat(counters.rejectedCount(Rejection.OVERSIZED)).isEqualTo(0); // 5000 chars is under the 16 KB limit: tampered/not base64
    assertThat(counters.rejectedTotal()).isGreaterThanOrEqualTo(bad.size() - 1);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void killedTargetFailsOverWithRewrittenCookieAndPreviousTargetHeader(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    backends.get(pinned).kill();
    ContentResponse r = client.get("/cart");
    assertThat(r.getStatus()).isEqualTo(200);
    String now = r.getContentAsString();
    assertThat(now).isNotEqualTo(pinned);
    assertThat(r.getHeaders().get("X-Seen-Previous")).isEqualTo(pinned);
    assertThat(cookies.read(client, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo(now);
    // The client stays on its new target afterwards, and the header is not repeated.
    for (int i = 0; i < 5; i++) {
      ContentResponse again = client.get("/cart");
      assertThat(again.getContentAsString()).isEqualTo(now);
      assertThat(again.getHeaders().get("X-Seen-Previous")).isEqualTo("-");
    }
    Target killed = balancer.balancer().router().target(pinned);
    assertThat(killed.isAvailable(clock.instant())).isFalse();
    assertThat(balancer.balancer().router().target(now).rePins()).isEqualTo(1);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void clientsCannotForgeThePreviousTargetHeader(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    UserAgent client = browser();
    ContentResponse r = client.send(http.newRequest(balancer.uri().resolve("/")).headers(h -> h.put(AffinityBalancer.PREVIOUS_TARGET_HEADER, "evil")));
    assertThat(r.getHeaders().get("X-Seen-Previous")).isEqualTo("-");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void allTargetsUnhealthyFailsOpen(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    for (Backends.Backend b : backends.all()) {
      b.healthStatus = 503;
    }
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    for (Target t : balancer.balancer().router().groups().get(0).targets()) {
      assertThat(t.health().state()).isEqualTo(dev.affinity.balancer.TargetHealth.State.UNHEALTHY);
    }
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 6; i++) {
      ContentResponse r = browser().get("/");
      assertThat(r.getStatus()).isEqualTo(200);
      seen.merge(r.getContentAsString(), 1, Integer::sum);
    }
    assertThat(seen).containsOnlyKeys("a", "b", "c");
    // One healthy target takes all new clients again.
    backends.get("b").healthStatus = 200;
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    for (int i = 0; i < 6; i++) {
      assertThat(browser().get("/").getContentAsString()).isEqualTo("b");
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void noReachableTargetAnswers503WithRetryAfter(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    for (Backends.Backend b : backends.all()) {
      b.kill();
    }
    for (int i = 0; i < 3; i++) {
      ContentResponse r = browser().get("/");
      assertThat(r.getStatus()).isEqualTo(503);
      assertThat(r.getHeaders().get(HttpHeader.RETRY_AFTER)).isEqualTo("5");
      assertThat(r.getMediaType()).isEqualTo("text/plain");
      assertThat(r.getContentAsString()).startsWith("503 Service Unavailable").doesNotContain("Exception").doesNotContain("at org.");
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void deadTargetComesBackAfterHealthChecksPass(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    backends.get(pinned).kill();
    String moved = client.get("/").getContentAsString();
    assertThat(moved).isNotEqualTo(pinned);
    backends.get(pinned).restart();
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    assertThat(balancer.balancer().router().target(pinned).isAvailable(clock.instant())).isTrue();
    // The moved client stays where it is now: no flapping back.
    assertThat(client.get("/").getContentAsString()).isEqualTo(moved);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void applicationStickinessFollowsTheApplicationCookie(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.application("JSESSIONID", Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.defaults(), "a", "b", "c");
    UserAgent client = browser();
    ContentResponse login = client.get("/login");
    String target = login.getContentAsString();
    assertThat(client.jar).containsKeys("JSESSIONID", "AFFINITYAPP");
    assertThat(cookies.read(client, "AFFINITYAPP")).get().extracting(AffinityTicket::targetId).isEqualTo(target);
    for (int i = 0; i < 20; i++) {
      assertThat(client.get("/").getContentAsString()).isEqualTo(target);
    }
    // Without the application's cookie, AFFINITYAPP alone does not pin.
    client.jar.remove("JSESSIONID");
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 6; i++) {
      seen.merge(client.get("/").getContentAsString(), 1, Integer::sum);
    }
    assertThat(seen.keySet()).hasSizeGreaterThan(1);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void applicationStickinessFailoverKeepsClientOnNewTarget(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.application("JSESSIONID", Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.defaults(), "a", "b", "c");
    UserAgent client = browser();
    String first = client.get("/login").getContentAsString();
    backends.get(first).kill();
    ContentResponse r = client.get("/");
    String second = r.getContentAsString();
    assertThat(second).isNotEqualTo(first);
    assertThat(r.getHeaders().get("X-Seen-Previous")).isEqualTo(first);
    for (int i = 0; i < 5; i++) {
      assertThat(client.get("/").getContentAsString()).isEqualTo(second);
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void corsCompanionIsIssuedAndAccepted(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.builder().cors(true).build(), "a", "b", "c");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    assertThat(client.setCookieHeader("AFFINITYCORS")).contains("SameSite=None").contains("Secure").contains("HttpOnly");
    assertThat(client.setCookieHeader("AFFINITY")).contains("SameSite=Lax");
    // A cross-site request carries only the companion.
    UserAgent crossSite = browser();
    crossSite.jar.put("AFFINITYCORS", client.jar.get("AFFINITYCORS"));
    for (int i = 0; i < 10; i++) {
      assertThat(crossSite.get("/").getContentAsString()).isEqualTo(pinned);
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void twelveKilobyteTicketShardedOverCookiesSurvivesTheRoundTrip(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    byte[] extra = new byte[9 * 1024];
    new java.util.Random(7).nextBytes(extra);
    AffinityTicket ticket = AffinityTicket.of("c", "web", START, START.plusSeconds(3600), extra);
    List<SetCookie> set = cookies.issue("AFFINITY", ticket, Expiry.sliding(Duration.ofHours(1)), false, CookieSource.empty());
    assertThat(set).hasSizeGreaterThanOrEqualTo(4);
    int total = 0;
    UserAgent client = browser();
    for (SetCookie c : set) {
      assertThat(c.toHeaderValue().length()).isLessThanOrEqualTo(4096);
      client.jar.put(c.name(), c.value());
      total += c.value().length();
    }
    assertThat(total).isGreaterThan(12 * 1024);
    for (int i = 0; i < 5; i++) {
      ContentResponse r = client.get("/");
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("c");
    }
    assertThat(backends.get("c").lastHeaders.get("cookie")).contains("AFFINITY-0=").contains("AFFINITY-3=");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void routeCookieFromTheApplicationWinsAndUnknownTargetsAreIgnored(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    String other = pinned.equals("a") ? "b" : "a";
    client.jar.put("AFFINITYROUTE", cookies.codec().seal("AFFINITYROUTE", AffinityTicket.of(other, "", START, START.plusSeconds(600))));
    for (int i = 0; i < 5; i++) {
      assertThat(client.get("/").getContentAsString()).isEqualTo(other);
    }
    client.jar.put("AFFINITYROUTE", cookies.codec().seal("AFFINITYROUTE", AffinityTicket.of("nowhere", "", START, START.plusSeconds(600))));
    assertThat(client.get("/").getContentAsString()).isEqualTo(pinned);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void neverAnOpenProxy(TargetPath path) throws Exception {
    startDuration(path, "a");
    AtomicInteger strayConnections = new AtomicInteger();
    try (ServerSocket stray = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        while (!stray.isClosed()) {
          try (Socket s = stray.accept()) {
            strayConnections.incrementAndGet();
          } catch (Exception ignored) {
            return;
          }
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
      int strayPort = stray.getLocalPort();
      String[] attempts = {
          "GET http://127.0.0.1:" + strayPort + "/steal HTTP/1.1\r\nHost: 127.0.0.1:" + strayPort + "\r\nConnection: close\r\n\r\n",
          "GET /x HTTP/1.1\r\nHost: 127.0.0.1:" + strayPort + "\r\nConnection: close\r\n\r\n",
          "CONNECT 127.0.0.1:" + strayPort + " HTTP/1.1\r\nHost: 127.0.0.1:" + strayPort + "\r\nConnection: close\r\n\r\n",
          "GET //127.0.0.1:" + strayPort + "/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      };
      for (String attempt : attempts) {
        String response = raw(attempt);
        assertThat(response).doesNotStartWith("HTTP/1.1 5");
        if (attempt.startsWith("CONNECT")) {
          assertThat(response).startsWith("HTTP/1.1 405");
        } else if (attempt.startsWith("GET //")) {
          // Jetty refuses the ambiguous path itself.
          assertThat(response).startsWith("HTTP/1.1 400");
        } else {
          assertThat(response).startsWith("HTTP/1.1 200").endsWith("a");
        }
      }
      assertThat(strayConnections).hasValue(0);
    }
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void forwardingHeadersAreAppendedToWhatEarlierProxiesSent(TargetPath path) throws Exception {
    startDuration(path, "a");
    String authority = balancer.uri().getAuthority();
    browser().get("/");
    Map<String, String> seen = backends.get("a").lastHeaders;
    assertThat(seen.get("via")).matches("1\\.1 \\S+");
    assertThat(seen.get("forwarded")).isEqualTo("by=127.0.0.1;for=127.0.0.1;host=\"" + authority + "\";proto=http");
    assertThat(seen.get("x-forwarded-for")).isEqualTo("127.0.0.1");
    assertThat(seen.get("x-forwarded-proto")).isEqualTo("http");
    assertThat(seen.get("x-forwarded-host")).isEqualTo(authority);

    // Behind another proxy (a trusted one: an untrusted client's forwarding headers are dropped,
    // TrustedProxiesBalancerTest): each list keeps the earlier hops in front, as one field.
    balancer.balancer().setTrustedProxies(dev.affinity.balancer.TrustedProxies.of("127.0.0.1"));
    UserAgent client = browser();
    client.send(http.newRequest(balancer.uri().resolve("/")).headers(h -> h
        .add("Via", "1.0 edge").add("Via", " ").add("Via", "1.1 cdn")
        .put("Forwarded", "for=203.0.113.9;proto=https")
        .put("X-Forwarded-For", "203.0.113.9")));
    assertThat(seen.get("via")).startsWith("1.0 edge, 1.1 cdn, 1.1 ");
    assertThat(seen.get("forwarded")).isEqualTo("for=203.0.113.9;proto=https, by=127.0.0.1;for=127.0.0.1;host=\"" + authority + "\";proto=http");
    assertThat(seen.get("x-forwarded-for")).isEqualTo("203.0.113.9, 127.0.0.1");
    path.assertTaken(balancer.balancer());
  }

  @Test
  void forwardedValuesAreQuotedOnlyWhereRfc7239NeedsIt() {
    assertThat(Upstream.forwardedElement("10.0.0.1", "192.0.2.60", "example.com", "https"))
        .isEqualTo("by=10.0.0.1;for=192.0.2.60;host=example.com;proto=https");
    assertThat(Upstream.forwardedElement("[2001:db8::1]", "_hidden", "example.com:8443", "http"))
        .isEqualTo("by=\"[2001:db8::1]\";for=_hidden;host=\"example.com:8443\";proto=http");
    assertThat(Upstream.appendForwardedValue(new StringBuilder(), null)).hasToString("\"\"");
    assertThat(Upstream.appendForwardedValue(new StringBuilder(), "a\"b\\c\u0001d")).hasToString("\"a\\\"b\\\\cd\"");
  }

  @OverBothPaths
  void statusJsonReportsTargetsAndCounters(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    UserAgent client = browser();
    client.get("/");
    client.get("/");
    client.jar.put("AFFINITY", "junk");
    client.get("/");
    ContentResponse status = http.GET(balancer.uri().resolve("/affinity/status.json"));
    assertThat(status.getStatus()).isEqualTo(200);
    assertThat(status.getMediaType()).isEqualTo("application/json");
    String json = status.getContentAsString();
    assertThat(json).contains("\"name\":\"web\"").contains("\"id\":\"a\"").contains("\"id\":\"b\"")
        .contains("\"stickyHits\":1").contains("\"newPins\":1").contains("\"invalid\":1").contains("\"health\":\"healthy\"");
    assertThat(http.GET(balancer.uri().resolve("/affinity/nope")).getStatus()).isEqualTo(404);
    path.assertTaken(balancer.balancer());
  }

}
