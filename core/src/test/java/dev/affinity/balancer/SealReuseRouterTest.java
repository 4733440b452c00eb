package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The router's cookies sealed once per target and granule ({@code CookiePolicy.sealReuse}), and what it must not change. */
class SealReuseRouterTest {
  private static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  private final MutableClock clock = new MutableClock(START.plusSeconds(5));

  private Router router(boolean sealReuse, StickinessPolicy stickiness, String... ids) {
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
        CookiePolicy.builder().sealReuse(sealReuse).build());
    TargetGroup.Builder group = TargetGroup.builder("web").stickiness(stickiness);
    int port = 9001;
    for (String id : ids) {
      group.target(id, URI.create("http://127.0.0.1:" + port++), 1);
    }
    return Router.builder(cookies).group(group.build()).build();
  }

  private static StickinessPolicy sliding() {
    return StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
  }

  private static String value(RouteDecision decision) {
    List<SetCookie> set = decision.setCookies();
    assertThat(set).extracting(SetCookie::name).containsExactly("AFFINITY");
    return set.get(0).value();
  }

  @Test
  void newClientsOnOneTargetWithinAGranuleGetOneValue() {
    Router router = router(true, sliding(), "a");
    RouteDecision first = router.route(new CookieJar(), false);
    clock.advance(Duration.ofSeconds(10));
    RouteDecision second = router.route(new CookieJar(), false);
    assertThat(value(second)).isSameAs(value(first));
    assertThat(second.ticket()).isEqualTo(first.ticket());
  }

  @Test
  void staleSlidingCookiesAreRefreshedToOneValueAndStillRoute() {
    Router router = router(true, sliding(), "a", "b");
    CookieJar one = new CookieJar();
    CookieJar two = new CookieJar();
    one.apply(router.route(one, false).setCookies());
    two.apply(router.route(two, false).setCookies());
    String pinnedOne = router.route(one, false).target().id();
    String pinnedTwo = router.route(two, false).target().id();
    assertThat(pinnedOne).isNotEqualTo(pinnedTwo); // round robin: a client on each
    clock.advance(Duration.ofMinutes(5)); // past the 36 s granule: every request refreshes the cookies they keep sending
    RouteDecision a1 = router.route(one, false);
    RouteDecision a2 = router.route(one, false);
    RouteDecision b1 = router.route(two, false);
    assertThat(a1.outcome()).isEqualTo(RouteDecision.Outcome.STICKY_HIT);
    assertThat(a1.target().id()).isEqualTo(pinnedOne);
    assertThat(b1.target().id()).isEqualTo(pinnedTwo);
    assertThat(value(a2)).as("the same client again").isSameAs(value(a1));
    assertThat(value(b1)).as("another target").isNotEqualTo(value(a1));
    // A third client pinned to the first one's target, stale as well, gets the first one's value.
    CookieJar three = new CookieJar();
    three.cookies.put("AFFINITY", one.cookies.get("AFFINITY"));
    assertThat(value(router.route(three, false))).isSameAs(value(a1));
  }

  @Test
  void withReuseOffEveryResponseSealsAfresh() {
    Router router = router(false, sliding(), "a");
    String first = value(router.route(new CookieJar(), false));
    String second = value(router.route(new CookieJar(), false));
    assertThat(second).isNotEqualTo(first);
  }

  @Test
  void aPinOnATargetWhoseInstanceJustChangedIsNotDatedBeforeTheChange() {
    StickinessPolicy fixed = StickinessPolicy.duration(Expiry.fixed(Duration.ofHours(1)));
    Router router = router(true, fixed, "a");
    Target a = router.target("a");
    a.instanceSeen("i-1", clock.instant());
    clock.advance(Duration.ofSeconds(10));
    assertThat(a.instanceSeen("i-2", clock.instant())).isTrue();
    clock.advance(Duration.ofSeconds(1)); // the same 36 s granule as the change
    CookieJar jar = new CookieJar();
    RouteDecision placed = router.route(jar, false);
    assertThat(placed.ticket().issuedAt()).as("sealed as it is").isEqualTo(clock.instant());
    jar.apply(placed.setCookies());
    for (int i = 0; i < 5; i++) {
      assertThat(router.route(jar, false).outcome()).as("kept, not placed afresh again").isEqualTo(RouteDecision.Outcome.STICKY_HIT);
    }
    clock.advance(Duration.ofSeconds(36)); // a later granule: shared again
    RouteDecision later = router.route(new CookieJar(), false);
    assertThat(later.ticket().issuedAt().toEpochMilli() % 36_000).isZero();
    assertThat(later.ticket().issuedAt()).isAfterOrEqualTo(a.instanceChangedAt());
  }

  @Test
  void groupPinsAndEachGroupsOwnPinsAreSharedToo() {
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
        CookiePolicy.defaults());
    TargetGroup blue = TargetGroup.builder("blue").stickiness(sliding()).target("b1", URI.create("http://127.0.0.1:9001"), 1).build();
    TargetGroup green = TargetGroup.builder("green").stickiness(sliding()).target("g1", URI.create("http://127.0.0.1:9002"), 1).build();
    Router router = Router.builder(cookies).group(blue).group(green).forward("blue", 0).forward("green", 1)
        .groupStickiness(Expiry.sliding(Duration.ofHours(2))).build();
    RouteDecision first = router.route(new CookieJar(), false);
    clock.advance(Duration.ofSeconds(3));
    RouteDecision second = router.route(new CookieJar(), false);
    // The group pin (AFFINITYTG) and green's own pin (AFFINITY.green: not the first group) of two new clients.
    assertThat(first.setCookies()).extracting(SetCookie::name).containsExactly("AFFINITYTG", "AFFINITY.green");
    assertThat(second.setCookies()).extracting(SetCookie::value)
        .containsExactlyElementsOf(first.setCookies().stream().map(SetCookie::value).toList());
  }

  @Test
  void headerPersistenceTokensAreSharedToo() {
    Router router = router(true, StickinessPolicy.header("X-Session", Expiry.sliding(Duration.ofHours(1))), "a");
    RouteDecision first = router.route(new CookieJar(), false);
    RouteDecision second = router.route(new CookieJar(), false);
    assertThat(first.sessionHeaderValue()).isNotNull().isSameAs(second.sessionHeaderValue());
    assertThat(first.ticket().issuedAt().toEpochMilli() % 36_000).isZero();
  }
}
