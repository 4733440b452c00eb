package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouterTest {
  private static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  private final MutableClock clock = new MutableClock(START);
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());
  private final HealthCheckSettings health =
      new HealthCheckSettings(true, "/health", Duration.ofSeconds(10), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10));

  private TargetGroup group(StickinessPolicy stickiness, String... ids) {
    TargetGroup.Builder b = TargetGroup.builder("web").stickiness(stickiness).healthCheck(health).deregistrationDelay(Duration.ofSeconds(60));
    int port = 9001;
    for (String id : ids) {
      b.target(id, URI.create("http://127.0.0.1:" + port++), 1);
    }
    return b.build();
  }

  private Router router(TargetGroup group) {
    return Router.builder(cookies).group(group).build();
  }

  private static StickinessPolicy duration() {
    return StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
  }


  @Test
  void newClientIsPinnedAndStays() {
    Router router = router(group(duration(), "a", "b", "c"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    assertThat(first.outcome()).isEqualTo(RouteDecision.Outcome.NEW_CLIENT);
    assertThat(first.setCookies()).extracting(SetCookie::name).containsExactly("AFFINITY");
    jar.apply(first.setCookies());
    for (int i = 0; i < 50; i++) {
      RouteDecision next = router.route(jar, false);
      assertThat(next.outcome()).isEqualTo(RouteDecision.Outcome.STICKY_HIT);
      assertThat(next.target()).isSameAs(first.target());
      assertThat(next.setCookies()).isEmpty();
    }
    assertThat(first.target().stickyHits()).isEqualTo(50);
    assertThat(first.target().newPins()).isEqualTo(1);
  }

  @Test
  void unhealthyPinnedTargetMovesClientAndReportsPrevious() {
    Router router = router(group(duration(), "a", "b", "c"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    first.target().health().ejected(clock.instant(), "refused");
    RouteDecision moved = router.route(jar, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.previousTargetId()).isEqualTo(first.target().id());
    assertThat(moved.target()).isNotSameAs(first.target());
    jar.apply(moved.setCookies());
    assertThat(cookies.read(jar, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo(moved.target().id());
    assertThat(router.route(jar, false).target()).isSameAs(moved.target());
    assertThat(moved.target().rePins()).isEqualTo(1);
  }

  @Test
  void failoverPicksAnotherTargetAndRewritesCookie() {
    Router router = router(group(duration(), "a", "b"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    RouteDecision next = router.failover(router.route(jar, false), jar, false);
    assertThat(next.target()).isNotSameAs(first.target());
    assertThat(next.previousTargetId()).isEqualTo(first.target().id());
    jar.apply(next.setCookies());
    assertThat(cookies.read(jar, "AFFINITY")).get().extracting(AffinityTicket::targetId).isEqualTo(next.target().id());
  }

  @Test
  void failoverWithSingleTargetHasNowhereToGo() {
    Router router = router(group(duration(), "a"));
    RouteDecision first = router.route(new CookieJar(), false);
    assertThat(router.failover(first, new CookieJar(), false)).isNull();
  }

  @Test
  void allUnhealthyFailsOpenAndEmptyGroupHasNoTarget() {
    TargetGroup group = group(duration(), "a", "b");
    for (Target t : group.targets()) {
      t.health().ejected(clock.instant(), "down");
    }
    Router router = router(group);
    RouteDecision decision = router.route(new CookieJar(), false);
    assertThat(decision.target()).isNotNull();
    Router empty = router(TargetGroup.builder("empty").build());
    assertThat(empty.route(new CookieJar(), false).outcome()).isEqualTo(RouteDecision.Outcome.NO_TARGET);
  }

  @Test
  void pinnedClientsStayOnDrainingTargetUntilDeregistrationDelayEnds() {
    Router router = router(group(duration(), "a", "b"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    first.target().drain(clock.instant());
    // New clients avoid the draining target.
    for (int i = 0; i < 10; i++) {
      assertThat(router.route(new CookieJar(), false).target()).isNotSameAs(first.target());
    }
    clock.advance(Duration.ofSeconds(59));
    assertThat(router.route(jar, false).target()).isSameAs(first.target());
    clock.advance(Duration.ofSeconds(1));
    RouteDecision moved = router.route(jar, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.target()).isNotSameAs(first.target());
  }

  @Test
  void slidingCookieIsRefreshedOnlyAfterGranularity() {
    Router router = router(group(duration(), "a"));
    CookieJar jar = new CookieJar();
    jar.apply(router.route(jar, false).setCookies());
    clock.advance(Duration.ofSeconds(36));
    assertThat(router.route(jar, false).setCookies()).isEmpty();
    clock.advance(Duration.ofMillis(1));
    RouteDecision refreshed = router.route(jar, false);
    assertThat(refreshed.setCookies()).hasSize(1);
    // Sealed for sharing (CookiePolicy.sealReuse, on by default): moved back to the granule's start, never later.
    assertThat(refreshed.ticket().expiresAt())
        .isAfter(clock.instant().plus(Duration.ofHours(1)).minusSeconds(36))
        .isBeforeOrEqualTo(clock.instant().plus(Duration.ofHours(1)));
  }

  @Test
  void routeCookieWinsOverDurationCookieAndUnknownIdIsIgnored() {
    Router router = router(group(duration(), "a", "b"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    String other = first.target().id().equals("a") ? "b" : "a";
    jar.cookies.put("AFFINITYROUTE", cookies.codec().seal("AFFINITYROUTE", AffinityTicket.of(other, "", START, START.plusSeconds(60))));
    RouteDecision routed = router.route(jar, false);
    assertThat(routed.outcome()).isEqualTo(RouteDecision.Outcome.ROUTE_COOKIE);
    assertThat(routed.target().id()).isEqualTo(other);
    jar.cookies.put("AFFINITYROUTE", cookies.codec().seal("AFFINITYROUTE", AffinityTicket.of("ghost", "", START, START.plusSeconds(60))));
    assertThat(router.route(jar, false).target()).isSameAs(first.target());
  }

  @Test
  void applicationStickinessPinsWhenTheResponseSetsTheAppCookie() {
    Router router = router(group(StickinessPolicy.application("JSESSIONID", Expiry.sliding(Duration.ofHours(1))), "a", "b", "c"));
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    assertThat(first.setCookies()).isEmpty();
    assertThat(router.onResponse(first, false, jar, false)).isEmpty();
    List<SetCookie> pin = router.onResponse(first, true, jar, false);
    assertThat(pin).extracting(SetCookie::name).containsExactly("AFFINITYAPP");
    jar.apply(pin);
    jar.cookies.put("JSESSIONID", "s1");
    for (int i = 0; i < 10; i++) {
      RouteDecision d = router.route(jar, false);
      assertThat(d.target()).isSameAs(first.target());
      assertThat(router.onResponse(d, true, jar, false)).as("already pinned there: no new cookie").isEmpty();
    }
  }

  @Test
  void roundRobinSpreadsEvenlyAndWeightedRandomFollowsWeights() {
    TargetGroup rr = group(StickinessPolicy.none(), "a", "b", "c");
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      seen.merge(rr.choose(clock.instant(), null).id(), 1, Integer::sum);
    }
    assertThat(seen).containsEntry("a", 100).containsEntry("b", 100).containsEntry("c", 100);

    TargetGroup weighted = TargetGroup.builder("w").algorithm(BalancingAlgorithm.weightedRandom())
        .target("heavy", URI.create("http://127.0.0.1:1"), 9).target("light", URI.create("http://127.0.0.1:2"), 1).build();
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 20_000; i++) {
      counts.merge(weighted.choose(clock.instant(), null).id(), 1, Integer::sum);
    }
    assertThat(counts.get("heavy")).isBetween(17_400, 18_600);
  }

  @Test
  void leastOutstandingRequestsPrefersTheIdleTarget() {
    TargetGroup g = TargetGroup.builder("l").algorithm(BalancingAlgorithm.leastOutstandingRequests())
        .target("busy", URI.create("http://127.0.0.1:1"), 1).target("idle", URI.create("http://127.0.0.1:2"), 1).build();
    Target busy = g.target("busy");
    busy.started();
    busy.started();
    for (int i = 0; i < 10; i++) {
      assertThat(g.choose(clock.instant(), null).id()).isEqualTo("idle");
    }
  }

  @Test
  void configurationMistakesAreRefusedWithTheValueNamed() {
    assertThatThrownBy(() -> BalancingAlgorithm.named("fastest")).hasMessageContaining("\"fastest\"");
    assertThatThrownBy(() -> TargetGroup.builder("bad name")).hasMessageContaining("\"bad name\"");
    assertThatThrownBy(() -> TargetGroup.builder("g").target("a", URI.create("ftp://x:1"), 1).build())
        .hasMessageContaining("ftp://x:1");
    assertThatThrownBy(() -> TargetGroup.builder("g").target("a", URI.create("http://x:1"), 1).target("a", URI.create("http://x:2"), 1))
        .hasMessageContaining("\"a\" appears twice");
    TargetGroup g1 = TargetGroup.builder("g1").target("a", URI.create("http://x:1"), 1).build();
    TargetGroup g2 = TargetGroup.builder("g2").target("a", URI.create("http://x:2"), 1).build();
    assertThatThrownBy(() -> Router.builder(cookies).group(g1).group(g2).build()).hasMessageContaining("\"a\"");
    assertThatThrownBy(() -> Router.builder(cookies).group(g1).forward("nope", 1).build()).hasMessageContaining("\"nope\"");
  }

  @Test
  void stickyLookupDoesNotScanTargets() {
    TargetGroup.Builder b = TargetGroup.builder("big").stickiness(duration());
    for (int i = 0; i < 1000; i++) {
      b.target("t" + i, URI.create("http://127.0.0.1:" + (10000 + i)), 1);
    }
    Router router = router(b.build());
    CookieJar jar = new CookieJar();
    jar.cookies.put("AFFINITY", cookies.codec().seal("AFFINITY", AffinityTicket.of("t999", "big", clock.instant(), clock.instant().plusSeconds(3600))));
    assertThat(router.route(jar, false).target().id()).isEqualTo("t999");
    assertThat(router.target("t500").id()).isEqualTo("t500");
  }

}
