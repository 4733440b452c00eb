package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpHeader;

/** Gateway API session persistence through a real balancer, over both paths, on the injected clock. */
class PersistenceBalancerTest extends BalancerTestBase {
  private static final String SESSION = "X-Affinity-Session";

  private ContentResponse get(String header, String value) throws Exception {
    return http.newRequest(balancer.uri().resolve("/api"))
        .headers(h -> {
          if (value != null) {
            h.put(header, value);
          }
        })
        .timeout(5, TimeUnit.SECONDS).send();
  }

  @OverBothPaths
  void headerPersistenceSticksAClientThatKeepsNoCookies(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.header(SESSION, Expiry.sliding(Duration.ofMinutes(30)))),
        CookiePolicy.defaults(), "a", "b", "c");
    ContentResponse first = get(SESSION, null);
    assertThat(first.getStatus()).isEqualTo(200);
    assertThat(first.getHeaders().get(HttpHeader.SET_COOKIE)).as("no cookie for a header session").isNull();
    String token = first.getHeaders().get(SESSION);
    assertThat(token).isNotBlank();
    String pinned = first.getHeaders().get("X-Backend");
    for (int i = 0; i < 30; i++) {
      ContentResponse r = get(SESSION, token);
      assertThat(r.getHeaders().get("X-Backend")).isEqualTo(pinned);
    }
    // Header names are case-insensitive; a garbled token is a new client, never an error.
    assertThat(get(SESSION.toLowerCase(java.util.Locale.ROOT), token).getHeaders().get("X-Backend")).isEqualTo(pinned);
    ContentResponse garbled = get(SESSION, token.substring(1));
    assertThat(garbled.getStatus()).isEqualTo(200);
    assertThat(garbled.getHeaders().get(SESSION)).isNotEqualTo(token);
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void strictPersistenceAnswers503WhenThePinnedTargetIsGone(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.header(SESSION, Expiry.sliding(Duration.ofMinutes(30))).strict(true)),
        CookiePolicy.defaults(), "a", "b");
    ContentResponse first = get(SESSION, null);
    String token = first.getHeaders().get(SESSION);
    String pinned = first.getHeaders().get("X-Backend");
    backends.get(pinned).kill();
    ContentResponse refused = get(SESSION, token);
    assertThat(refused.getStatus()).isEqualTo(503);
    assertThat(refused.getHeaders().get(HttpHeader.RETRY_AFTER)).isNotNull();
    assertThat(refused.getHeaders().get(SESSION)).as("the pin is not moved").isNull();
    // A new client is placed on the target that is left.
    ContentResponse fresh = get(SESSION, null);
    assertThat(fresh.getStatus()).isEqualTo(200);
    assertThat(fresh.getHeaders().get("X-Backend")).isNotEqualTo(pinned);
    // Once the target is back, its strict client is served there again.
    backends.get(pinned).restart();
    dev.affinity.balancer.TargetHealth health = balancer.balancer().router().target(pinned).health();
    health.checkPassed(clock.instant());
    health.checkPassed(clock.instant());
    assertThat(get(SESSION, token).getHeaders().get("X-Backend")).isEqualTo(pinned);
  }

  @OverBothPaths
  void withoutStrictTheSameClientIsMovedOnce(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.header(SESSION, Expiry.sliding(Duration.ofMinutes(30)))),
        CookiePolicy.defaults(), "a", "b");
    ContentResponse first = get(SESSION, null);
    String pinned = first.getHeaders().get("X-Backend");
    backends.get(pinned).kill();
    ContentResponse moved = get(SESSION, first.getHeaders().get(SESSION));
    assertThat(moved.getStatus()).isEqualTo(200);
    assertThat(moved.getHeaders().get("X-Backend")).isNotEqualTo(pinned);
    String token = moved.getHeaders().get(SESSION);
    assertThat(token).as("the moved pin comes back in the header").isNotNull();
    for (int i = 0; i < 10; i++) {
      assertThat(get(SESSION, token).getHeaders().get("X-Backend")).isEqualTo(moved.getHeaders().get("X-Backend"));
    }
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
  }

  @OverBothPaths
  void theIdleTimeoutIsTheBalancersNotTheCookieJars(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(8), true))),
        CookiePolicy.defaults(), "a", "b", "c", "d");
    UserAgent browser = browser();
    ContentResponse first = browser.get("/");
    assertThat(first.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).anySatisfy(c -> assertThat(c)
        .startsWith("AFFINITY=").doesNotContain("Max-Age").doesNotContain("Expires"));
    String pinned = first.getHeaders().get("X-Backend");
    clock.advance(Duration.ofMinutes(29));
    assertThat(browser.get("/").getHeaders().get("X-Backend")).isEqualTo(pinned);
    long rejectedBefore = counters.rejections().getOrDefault(dev.affinity.cookie.Rejection.EXPIRED, 0L);
    // The browser still holds its (session) cookie, but 31 minutes without a request end the pin.
    clock.advance(Duration.ofMinutes(31));
    ContentResponse after = browser.get("/");
    assertThat(after.getStatus()).isEqualTo(200);
    assertThat(counters.rejections().get(dev.affinity.cookie.Rejection.EXPIRED)).isEqualTo(rejectedBefore + 1);
    assertThat(after.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).as("pinned afresh")
        .anySatisfy(c -> assertThat(c).startsWith("AFFINITY="));
  }

  /**
   * Addresses are reused: a target restarted at the same address is another process, without the
   * sessions of the old one. Its health check says so ({@code X-Affinity-Instance}); the clients pinned
   * to the old instance move once, and those pinned after the restart stay.
   */
  @OverBothPaths
  void aTargetThatComesBackAsAnotherInstanceMovesItsOldPinsOnce(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.defaults(), "a", "b");
    backends.reportInstances();
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    UserAgent before = browser();
    String pinned = before.get("/").getHeaders().get("X-Backend");
    backends.get(pinned).kill();
    backends.get(pinned).restart();
    clock.advance(Duration.ofSeconds(1));
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    assertThat(balancer.balancer().router().target(pinned).instanceId()).isEqualTo(pinned + "#2");
    ContentResponse moved = before.get("/");
    assertThat(moved.getStatus()).isEqualTo(200);
    assertThat(moved.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).as("pinned afresh").anySatisfy(c -> assertThat(c).startsWith("AFFINITY="));
    assertThat(balancer.balancer().router().target(moved.getHeaders().get("X-Backend")).rePins()).isEqualTo(1);
    String now = moved.getHeaders().get("X-Backend");
    for (int i = 0; i < 10; i++) {
      assertThat(before.get("/").getHeaders().get("X-Backend")).as("moved once, then sticky").isEqualTo(now);
    }
    // A client pinned to the new instance stays there.
    UserAgent after = null;
    for (int i = 0; i < 20 && after == null; i++) {
      UserAgent candidate = browser();
      if (pinned.equals(candidate.get("/").getHeaders().get("X-Backend"))) {
        after = candidate;
      }
    }
    assertThat(after).as("a new client landed on the restarted target").isNotNull();
    for (int i = 0; i < 5; i++) {
      assertThat(after.get("/").getHeaders().get("X-Backend")).isEqualTo(pinned);
    }
  }

  @OverBothPaths
  void sharedSessionsKeepTheirTargetAcrossANewInstance(TargetPath path) throws Exception {
    start(path, g -> g.sharedSessions(true).stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))),
        CookiePolicy.defaults(), "a", "b");
    backends.reportInstances();
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    UserAgent client = browser();
    String pinned = client.get("/").getHeaders().get("X-Backend");
    backends.get(pinned).kill();
    backends.get(pinned).restart();
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    for (int i = 0; i < 5; i++) {
      assertThat(client.get("/").getHeaders().get("X-Backend")).isEqualTo(pinned);
    }
  }
}
