package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import dev.affinity.cookie.Rejection;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Session persistence as Gateway API defines it, on the injected clock and without sockets. */
class PersistenceTest {
  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-23T10:00:00Z"));
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());

  /** A client that keeps no cookies but sends one header back, as an API or gRPC client does. */
  static final class HeaderClient implements ClientRequest {
    final Map<String, String> headers = new HashMap<>();

    @Override
    public String header(String name) {
      return headers.get(name.toLowerCase(java.util.Locale.ROOT));
    }

    @Override
    public String value(String name) {
      return null;
    }

    void keep(RouteDecision d) {
      if (d.sessionHeaderName() != null) {
        headers.put(d.sessionHeaderName().toLowerCase(java.util.Locale.ROOT), d.sessionHeaderValue());
      }
    }
  }

  private static TargetGroup.Builder group(String name, StickinessPolicy policy, String... ids) {
    TargetGroup.Builder b = TargetGroup.builder(name).stickiness(policy);
    int port = name.hashCode() & 0x3FFF;
    for (String id : ids) {
      b.target(id, URI.create("http://127.0.0.1:" + (20000 + port++)), 1);
    }
    return b;
  }

  private Router router(TargetGroup... groups) {
    Router.Builder b = Router.builder(cookies);
    for (TargetGroup g : groups) {
      b.group(g);
    }
    return b.build();
  }

  @Test
  void headerPersistenceHandsTheTokenBackInAHeaderAndHonoursIt() {
    TargetGroup api = group("api", StickinessPolicy.header(null, Expiry.sliding(Duration.ofMinutes(30))), "a1", "a2", "a3").build();
    Router router = router(api);
    HeaderClient client = new HeaderClient();
    RouteDecision first = router.route(client, false);
    assertThat(first.outcome()).isEqualTo(RouteDecision.Outcome.NEW_CLIENT);
    assertThat(first.setCookies()).as("no cookie: the client keeps none").isEmpty();
    assertThat(first.sessionHeaderName()).isEqualTo("X-AFFINITY-Session");
    client.keep(first);
    for (int i = 0; i < 100; i++) {
      RouteDecision next = router.route(client, false);
      assertThat(next.outcome()).isEqualTo(RouteDecision.Outcome.STICKY_HIT);
      assertThat(next.target()).isSameAs(first.target());
      client.keep(next);
    }
    // A garbled token is treated as absent, counted as invalid, and replaced.
    client.headers.put("x-affinity-session", "garbage");
    RouteDecision fresh = router.route(client, false);
    assertThat(fresh.outcome()).isEqualTo(RouteDecision.Outcome.NEW_CLIENT);
    assertThat(fresh.cookieRejection()).isEqualTo(Rejection.NOT_BASE64);
    assertThat(fresh.sessionHeaderValue()).isNotNull();
  }

  @Test
  void eachGroupNamesItsOwnTokenAndATokenOpensOnlyUnderTheNameItWasSealedFor() {
    TargetGroup api = group("api", StickinessPolicy.header("X-Session", Expiry.sliding(Duration.ofMinutes(30))), "a1", "a2").build();
    TargetGroup web = group("web", StickinessPolicy.duration(Expiry.sliding(Duration.ofMinutes(30))), "w1", "w2").build();
    Router router = router(web, api);
    Forward toApi = Forward.to("api");
    HeaderClient client = new HeaderClient();
    RouteDecision d = Router.builder(cookies).group(web).group(api).plan(toApi, null).build().route(client, false, toApi, null);
    // The cookie name of web ("AFFINITY") and the header name differ, so are the sealed names.
    assertThat(cookies.codec().open("AFFINITY", d.sessionHeaderValue())).isEmpty();
    assertThat(router.sessionName(api)).isEqualTo("X-Session");
    assertThat(router.sessionName(web)).isEqualTo("AFFINITY");
  }

  @Test
  void anIdleSessionEndsEvenThoughItsCookieWouldLiveOn() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), null, false);
    TargetGroup web = group("web", StickinessPolicy.duration(expiry), "w1", "w2", "w3", "w4").build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    // Active every 20 minutes for two hours: the pin holds, refreshed by each request.
    for (int i = 0; i < 6; i++) {
      clock.advance(Duration.ofMinutes(20));
      RouteDecision d = router.route(jar, false);
      assertThat(d.target()).isSameAs(first.target());
      jar.apply(d.setCookies());
    }
    // 31 idle minutes: the sealed expiry has passed; the balancer, not the cookie jar, ends the session.
    clock.advance(Duration.ofMinutes(31));
    RouteDecision after = router.route(jar, false);
    assertThat(after.outcome()).isEqualTo(RouteDecision.Outcome.NEW_CLIENT);
    assertThat(after.cookieRejection()).isEqualTo(Rejection.EXPIRED);
  }

  @Test
  void anAbsoluteTimeoutEndsTheSessionWhateverTheActivity() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(2), false);
    TargetGroup web = group("web", StickinessPolicy.duration(expiry), "w1", "w2", "w3", "w4").build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    Instant pinnedAt = clock.instant();
    int hits = 0;
    while (clock.instant().isBefore(pinnedAt.plus(Duration.ofHours(2)).minusSeconds(300))) {
      clock.advance(Duration.ofMinutes(5));
      RouteDecision d = router.route(jar, false);
      assertThat(d.outcome()).isEqualTo(RouteDecision.Outcome.STICKY_HIT);
      // Each refresh keeps the absolute end: the cookie never outlives it.
      if (!d.setCookies().isEmpty()) {
        assertThat(d.ticket().expiresAt()).isBeforeOrEqualTo(pinnedAt.plus(Duration.ofHours(2)));
        assertThat(d.setCookies().get(0).maxAge()).isLessThanOrEqualTo(Duration.ofMinutes(30));
      }
      jar.apply(d.setCookies());
      hits++;
    }
    assertThat(hits).isGreaterThan(20);
    clock.set(pinnedAt.plus(Duration.ofHours(2)).plusSeconds(1));
    RouteDecision after = router.route(jar, false);
    assertThat(after.outcome()).isEqualTo(RouteDecision.Outcome.NEW_CLIENT);
    assertThat(after.cookieRejection()).isEqualTo(Rejection.EXPIRED);
  }

  @Test
  void anAbsoluteTimeoutSurvivesAFailoverRepin() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(1), false);
    TargetGroup web = group("web", StickinessPolicy.duration(expiry), "w1", "w2").build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    for (int i = 0; i < 2; i++) {
      clock.advance(Duration.ofMinutes(20));
      jar.apply(router.route(jar, false).setCookies());
    }
    first.target().health().ejected(clock.instant(), "down");
    RouteDecision moved = router.route(jar, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.ticket().expiresAt()).isEqualTo(first.ticket().issuedAt().plus(Duration.ofHours(1)));
  }

  @Test
  void sessionLifetimeSetsNoMaxAgeButTheSealedTimeoutStillHolds() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(10), null, true);
    TargetGroup web = group("web", StickinessPolicy.duration(expiry), "w1", "w2").build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    assertThat(first.setCookies()).isNotEmpty().allSatisfy(c -> assertThat(c.maxAge()).isNull());
    jar.apply(first.setCookies());
    clock.advance(Duration.ofMinutes(11));
    assertThat(router.route(jar, false).cookieRejection()).isEqualTo(Rejection.EXPIRED);
    Expiry fixedSession = Expiry.timeouts(null, Duration.ofMinutes(10), true);
    assertThat(fixedSession.mode()).isEqualTo(Expiry.Mode.FIXED);
    assertThat(fixedSession.sessionCookie()).isTrue();
  }

  @Test
  void strictPersistenceAnswers503InsteadOfMovingTheClient() {
    StickinessPolicy strict = StickinessPolicy.header(null, Expiry.sliding(Duration.ofMinutes(30))).strict(true);
    TargetGroup api = group("api", strict, "a1", "a2").build();
    Router router = router(api);
    Forwarder forwarder = new Forwarder(() -> router);
    HeaderClient client = new HeaderClient();
    RouteDecision first = router.route(client, false);
    client.keep(first);
    first.target().health().ejected(clock.instant(), "down");
    Attempt attempt = forwarder.begin(client, false, "GET", true);
    assertThat(attempt.target()).isNull();
    assertThat(attempt.decision().isStrictRefusal()).isTrue();
    Attempt.Next answer = attempt.unavailable();
    assertThat(answer.status()).isEqualTo(503);
    assertThat(answer.retryAfterSeconds()).isPositive();
    // Not strict: the same client is moved.
    TargetGroup loose = group("api", StickinessPolicy.header(null, Expiry.sliding(Duration.ofMinutes(30))), "a1", "a2").build();
    Router looseRouter = router(loose);
    loose.target(first.target().id()).health().ejected(clock.instant(), "down");
    RouteDecision moved = looseRouter.route(client, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
  }

  @Test
  void strictPersistenceDoesNotFailOverARefusedConnectOfAPinnedClient() {
    StickinessPolicy strict = StickinessPolicy.duration(Expiry.sliding(Duration.ofMinutes(30))).strict(true);
    TargetGroup web = group("web", strict, "w1", "w2").build();
    Router router = router(web);
    Forwarder forwarder = new Forwarder(() -> router);
    CookieJar jar = new CookieJar();
    Attempt first = forwarder.begin(jar, false, "GET", true);
    jar.apply(first.decision().setCookies());
    first.finished();
    // A new client whose first target refuses is moved: it holds no state anywhere yet.
    Attempt.Next newClient = forwarder.begin(new CookieJar(), false, "GET", true)
        .failed(Attempt.Failure.refused("connection refused"), false);
    assertThat(newClient.action()).isEqualTo(Attempt.Next.Action.RETRY);
    newClient.attempt().finished();
    // A pinned client whose target refuses is told 503.
    Attempt pinned = forwarder.begin(jar, false, "GET", true);
    assertThat(pinned.decision().outcome()).isEqualTo(RouteDecision.Outcome.STICKY_HIT);
    Attempt.Next next = pinned.failed(Attempt.Failure.refused("connection refused"), false);
    assertThat(next.action()).isEqualTo(Attempt.Next.Action.ANSWER);
    assertThat(next.status()).isEqualTo(503);
  }

  @Test
  void aDrainingTargetWithinItsDelayStillServesStrictClients() {
    StickinessPolicy strict = StickinessPolicy.duration(Expiry.sliding(Duration.ofMinutes(30))).strict(true);
    TargetGroup web = group("web", strict, "w1", "w2").deregistrationDelay(Duration.ofMinutes(5)).build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    first.target().drain(clock.instant());
    clock.advance(Duration.ofMinutes(4));
    assertThat(router.route(jar, false).target()).isSameAs(first.target());
    clock.advance(Duration.ofMinutes(2));
    RouteDecision after = router.route(jar, false);
    assertThat(after.isStrictRefusal()).isTrue();
    assertThat(after.target()).isNull();
  }

  @Test
  void persistenceBeatsWeightsEvenAtWeightZero() {
    StickinessPolicy duration = StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
    TargetGroup blue = group("blue", duration, "b1", "b2").build();
    TargetGroup green = group("green", duration, "g1", "g2").build();
    Router before = Router.builder(cookies).group(blue).group(green).forward("blue", 50).forward("green", 50).build();
    CookieJar greenClient = null;
    for (int i = 0; i < 200 && greenClient == null; i++) {
      CookieJar jar = new CookieJar();
      RouteDecision d = before.route(jar, false);
      if (d.group() == green) {
        jar.apply(d.setCookies());
        greenClient = jar;
      }
    }
    assertThat(greenClient).isNotNull();
    // green goes to weight 0: no new clients, but its clients stay, on their target.
    Router after = Router.builder(cookies).group(blue).group(green).forward("blue", 1).forward("green", 0).build();
    String pinnedTo = cookies.read(greenClient, "AFFINITY.green").get().targetId();
    for (int i = 0; i < 50; i++) {
      RouteDecision d = after.route(greenClient, false);
      assertThat(d.group()).isSameAs(green);
      assertThat(d.target().id()).isEqualTo(pinnedTo);
    }
    for (int i = 0; i < 50; i++) {
      assertThat(after.route(new CookieJar(), false).group()).isSameAs(blue);
    }
  }

  @Test
  void aTargetOfWeightZeroKeepsItsPinnedClients() {
    StickinessPolicy duration = StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
    TargetGroup web = group("web", duration, "w1").target("w0", URI.create("http://127.0.0.1:29999"), 0).build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    jar.apply(cookies.issue("AFFINITY", Expiry.sliding(Duration.ofHours(1)).newTicket("w0", "web", clock.instant()),
        Expiry.sliding(Duration.ofHours(1)), false, jar));
    assertThat(router.route(jar, false).target().id()).isEqualTo("w0");
    for (int i = 0; i < 20; i++) {
      assertThat(router.route(new CookieJar(), false).target().id()).isEqualTo("w1");
    }
  }

  @Test
  void aClientForwardedToTwoGroupsByRulesKeepsOnePinInEach() {
    StickinessPolicy app = StickinessPolicy.application("JSESSIONID", Expiry.sliding(Duration.ofHours(1)));
    TargetGroup web = group("web", app, "w1", "w2", "w3").build();
    TargetGroup api = group("api", app, "a1", "a2", "a3").build();
    Forward toWeb = Forward.to("web");
    Forward toApi = Forward.to("api");
    Router router = Router.builder(cookies).group(web).group(api).plan(toWeb, null).plan(toApi, null).build();
    CookieJar jar = new CookieJar();
    jar.cookies.put("JSESSIONID", "s1");
    RouteDecision w = router.route(jar, false, toWeb, null);
    jar.apply(router.onResponse(w, true, jar, false));
    RouteDecision a = router.route(jar, false, toApi, null);
    jar.apply(router.onResponse(a, true, jar, false));
    assertThat(jar.cookies).containsKeys("AFFINITYAPP", "AFFINITYAPP.api");
    for (int i = 0; i < 20; i++) {
      assertThat(router.route(jar, false, toWeb, null).target()).isSameAs(w.target());
      assertThat(router.route(jar, false, toApi, null).target()).isSameAs(a.target());
    }
  }

  @Test
  void aRulesOverrideIsScopedToItsPathAndLeavesTheGroupsOwnPinAlone() {
    StickinessPolicy duration = StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
    TargetGroup web = group("web", duration, "w1", "w2", "w3").build();
    Forward toWeb = Forward.to("web");
    StickinessPolicy shop = StickinessPolicy.duration(Expiry.fixed(Duration.ofMinutes(10))).withSessionName("SHOP").withCookiePath("/shop/");
    Router router = Router.builder(cookies).group(web).plan(toWeb, shop).build();
    CookieJar jar = new CookieJar();
    RouteDecision d = router.route(jar, false, toWeb, shop);
    assertThat(d.setCookies()).extracting(SetCookie::name).containsExactly("SHOP");
    assertThat(d.setCookies().get(0).path()).isEqualTo("/shop/");
    assertThat(d.setCookies().get(0).maxAge()).isEqualTo(Duration.ofMinutes(10));
    // Without the override the group's own cookie, Path=/.
    RouteDecision plain = router.route(new CookieJar(), false);
    assertThat(plain.setCookies()).extracting(SetCookie::name).containsExactly("AFFINITY");
    assertThat(plain.setCookies().get(0).path()).isEqualTo("/");
    assertThatThrownBy(() -> router.route(jar, false, Forward.to("web"), null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was not planned");
  }

  @Test
  void anApplicationRouteCookieReachesOnlyTheGroupsARuleForwardsTo() {
    StickinessPolicy none = StickinessPolicy.none();
    TargetGroup web = group("web", none, "w1").build();
    TargetGroup api = group("api", none, "a1").build();
    Forward toApi = Forward.to("api");
    Router router = Router.builder(cookies).group(web).group(api).plan(toApi, null).build();
    CookieJar jar = new CookieJar();
    jar.apply(cookies.issue("AFFINITYROUTE", Expiry.sliding(Duration.ofHours(1)).newTicket("w1", "", clock.instant()),
        Expiry.sliding(Duration.ofHours(1)), false, jar));
    assertThat(router.route(jar, false).target().id()).as("the default route reaches every group").isEqualTo("w1");
    assertThat(router.route(jar, false, toApi, null).target().id()).isEqualTo("a1");
  }

  @Test
  void badPoliciesAreRefusedNamingTheValue() {
    Expiry e = Expiry.sliding(Duration.ofHours(1));
    assertThatThrownBy(() -> StickinessPolicy.header("X Session", e)).hasMessageContaining("\"X Session\"");
    assertThatThrownBy(() -> StickinessPolicy.duration(e).withCookiePath("shop")).hasMessageContaining("\"shop\"");
    assertThatThrownBy(() -> StickinessPolicy.none().strict(true)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Expiry.timeouts(null, null, false)).hasMessageContaining("neither");
    assertThatThrownBy(() -> Forward.builder().group("a", 0).build()).hasMessageContaining("above 0");
  }

  @Test
  void aPinOutlivingItsInstanceMovesOnceUnlessSessionsAreShared() {
    StickinessPolicy duration = StickinessPolicy.duration(Expiry.fixed(Duration.ofHours(1)));
    TargetGroup web = group("web", duration, "w1", "w2", "w3").build();
    Router router = router(web);
    CookieJar jar = new CookieJar();
    RouteDecision first = router.route(jar, false);
    jar.apply(first.setCookies());
    Target pinned = first.target();
    assertThat(pinned.instanceSeen("i-1", clock.instant())).as("the first id seen is no change").isFalse();
    clock.advance(Duration.ofMinutes(1));
    assertThat(pinned.instanceSeen("i-1", clock.instant())).isFalse();
    assertThat(router.route(jar, false).target()).isSameAs(pinned);
    clock.advance(Duration.ofMinutes(1));
    assertThat(pinned.instanceSeen("i-2", clock.instant())).isTrue();
    clock.advance(Duration.ofSeconds(1));
    RouteDecision moved = router.route(jar, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.previousTargetId()).isEqualTo(pinned.id());
    // A fresh pin, even for a fixed expiry: the session it kept is gone, so its clock starts again (at the
    // start of the current refresh granule, 36 s for an hour, as tickets sealed for sharing are).
    assertThat(moved.ticket().issuedAt()).isAfter(clock.instant().minusSeconds(36)).isBeforeOrEqualTo(clock.instant());
    jar.apply(moved.setCookies());
    for (int i = 0; i < 10; i++) {
      assertThat(router.route(jar, false).outcome()).as("once").isEqualTo(RouteDecision.Outcome.STICKY_HIT);
    }
    TargetGroup shared = group("web", duration, "w1", "w2", "w3").sharedSessions(true).build();
    Router sharedRouter = router(shared);
    CookieJar other = new CookieJar();
    RouteDecision kept = sharedRouter.route(other, false);
    other.apply(kept.setCookies());
    kept.target().instanceSeen("a", clock.instant());
    clock.advance(Duration.ofSeconds(1));
    kept.target().instanceSeen("b", clock.instant());
    clock.advance(Duration.ofSeconds(1));
    assertThat(sharedRouter.route(other, false).target()).as("shared sessions: nothing was lost").isSameAs(kept.target());
  }
}
