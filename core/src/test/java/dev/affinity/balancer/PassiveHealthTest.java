package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.Attempt.Failure;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Passive health on the injected clock: what counts, ejection, the way back, the multiplier and the cap. */
class PassiveHealthTest {
  private static final Instant START = Instant.parse("2026-12-02T10:00:00Z");
  private final MutableClock clock = new MutableClock(START);
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());
  // Active checks on (as in production): a passive ejection ends on the clock all the same.
  private final HealthCheckSettings health =
      new HealthCheckSettings(true, "/health", Duration.ofSeconds(10), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10));
  private final AtomicReference<Router> router = new AtomicReference<>();
  private final Forwarder forwarder = new Forwarder(router::get);

  private void start(PassiveHealth passive, String... ids) {
    TargetGroup.Builder b = TargetGroup.builder("web").healthCheck(health).passiveHealth(passive)
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))));
    int port = 9001;
    for (String id : ids) {
      b.target(id, URI.create("http://127.0.0.1:" + port++), 1);
    }
    router.set(Router.builder(cookies).group(b.build()).build());
  }

  private Target target(String id) {
    return router.get().target(id);
  }

  /** A client pinned to {@code id}. */
  private CookieJar pinnedTo(String id) {
    for (int i = 0; i < 40; i++) {
      CookieJar jar = new CookieJar();
      Attempt a = forwarder.begin(jar, false, "GET", true);
      jar.apply(a.answered(200, name -> null));
      a.finished();
      if (a.target().id().equals(id)) {
        return jar;
      }
    }
    throw new AssertionError("never pinned to " + id);
  }

  /** One request from {@code jar}, answered {@code status} by whichever target it reached; returns that attempt. */
  private Attempt request(CookieJar jar, int status) {
    Attempt a = forwarder.begin(jar, false, "GET", true);
    jar.apply(a.answered(status, name -> null));
    a.finished();
    return a;
  }

  @Test
  void fiveFailing5xxInARowEjectTheTargetItsPinnedClientMovesOnceAndItComesBackAfterEjectFor() {
    start(PassiveHealth.defaults(), "a", "b");
    CookieJar client = pinnedTo("a");
    for (int i = 0; i < 4; i++) {
      assertThat(request(client, 503).target().id()).isEqualTo("a");
    }
    assertThat(target("a").health().consecutiveFailedAnswers()).isEqualTo(4);
    assertThat(target("a").isAvailable(clock.instant())).isTrue();
    request(client, 500);
    assertThat(target("a").health().isEjected(clock.instant())).isTrue();
    assertThat(target("a").health().ejections()).isEqualTo(1);
    assertThat(target("a").health().ejectedUntil()).isEqualTo(START.plusSeconds(30));
    assertThat(target("a").health().ejectionReason()).contains("5 failed answers in a row", "answered 500");
    assertThat(target("a").health().state()).as("the active state is its own").isEqualTo(TargetHealth.State.HEALTHY);

    Attempt moved = request(client, 200);
    assertThat(moved.target().id()).isEqualTo("b");
    assertThat(moved.decision().outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.previousTargetId()).isEqualTo("a");
    Attempt again = request(client, 200);
    assertThat(again.target().id()).isEqualTo("b");
    assertThat(again.previousTargetId()).as("moved once").isNull();

    clock.advance(Duration.ofSeconds(29));
    assertThat(target("a").isAvailable(clock.instant())).isFalse();
    clock.advance(Duration.ofSeconds(1));
    assertThat(target("a").isAvailable(clock.instant())).isTrue();
    assertThat(request(client, 200).target().id()).as("the moved client stays where it went").isEqualTo("b");
    Set<String> newClients = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      newClients.add(request(new CookieJar(), 200).target().id());
    }
    assertThat(newClients).as("new clients reach the target again").contains("a", "b");
  }

  @Test
  void anAnswerThatDoesNotCountStartsTheCountAgainAnd501And505DoNotCount() {
    start(PassiveHealth.defaults(), "a", "b");
    CookieJar client = pinnedTo("a");
    for (int status : new int[] {502, 503, 504, 599, 404, 502, 503, 504, 501, 505, 500}) {
      request(client, status);
    }
    assertThat(target("a").health().consecutiveFailedAnswers()).as("404 and 501 reset; 505 too").isEqualTo(1);
    assertThat(target("a").health().ejections()).isZero();
    assertThat(PassiveHealth.countsAgainst(500)).isTrue();
    assertThat(PassiveHealth.countsAgainst(501)).isFalse();
    assertThat(PassiveHealth.countsAgainst(505)).isFalse();
    assertThat(PassiveHealth.countsAgainst(499)).isFalse();
    assertThat(PassiveHealth.countsAgainst(101)).isFalse();
  }

  @Test
  void theBalancersOwn502And504CountAndTimeoutsEjectAfterTheirOwnCount() {
    start(PassiveHealth.defaults(), "a", "b");
    CookieJar client = pinnedTo("a");
    // A kept-alive connection closed under a request is how keep-alive goes: not counted.
    Attempt a = forwarder.begin(client, false, "GET", true);
    a.failed(Failure.closedBeforeAnswer(true), false);
    assertThat(target("a").health().consecutiveFailedAnswers()).isZero();
    // ...but the resend that follows goes on a new connection: its close counts.
    Attempt resend = forwarder.begin(client, false, "GET", true).failed(Failure.closedBeforeAnswer(true), false).attempt();
    assertThat(resend.target().id()).isEqualTo("a");
    resend.failed(Failure.closedBeforeAnswer(true), false);
    assertThat(target("a").health().consecutiveFailedAnswers()).isEqualTo(1);
    request(pinnedTo("a"), 200);
    assertThat(target("a").health().consecutiveFailedAnswers()).isZero();
    for (int i = 0; i < 2; i++) {
      Attempt timedOut = forwarder.begin(client, false, "GET", true);
      assertThat(timedOut.failed(Failure.timedOut(), false).status()).isEqualTo(504);
    }
    assertThat(target("a").health().consecutiveTimeouts()).isEqualTo(2);
    Attempt bad = forwarder.begin(client, false, "POST", false);
    assertThat(bad.failed(Failure.badAnswer(), false).status()).isEqualTo(502);
    assertThat(target("a").health().consecutiveTimeouts()).as("it answered, if badly").isZero();
    assertThat(target("a").health().consecutiveFailedAnswers()).isEqualTo(3);
    for (int i = 0; i < 2; i++) {
      forwarder.begin(client, false, "GET", true).failed(Failure.timedOut(), false);
    }
    assertThat(target("a").health().ejections()).as("5 failed, 2 of them timeouts").isEqualTo(1);

    clock.advance(Duration.ofSeconds(30));
    CookieJar other = pinnedTo("a");
    for (int i = 0; i < 3; i++) {
      forwarder.begin(other, false, "GET", true).failed(Failure.timedOut(), false);
    }
    assertThat(target("a").health().ejections()).isEqualTo(2);
    assertThat(target("a").health().ejectionReason()).contains("3 timeouts in a row");
  }

  @Test
  void ejectionsInARowLastLongerUpToMaxEjectForAndTheStreakDecaysInRotation() {
    start(new PassiveHealth(2, 0, Duration.ofSeconds(30), Duration.ofSeconds(75), 50), "a", "b");
    Target a = target("a");
    TargetGroup group = router.get().groups().get(0);
    Duration[] expected = {Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(75)};
    for (Duration d : expected) {
      group.observeAnswer(a, 503, clock.instant());
      group.observeAnswer(a, 503, clock.instant());
      assertThat(a.health().ejectedUntil()).isEqualTo(clock.instant().plus(d));
      clock.set(a.health().ejectedUntil());
    }
    // Three ejections in a row; 90 s in rotation (three times ejectFor) brings the streak to zero.
    clock.advance(Duration.ofSeconds(90));
    group.observeAnswer(a, 503, clock.instant());
    group.observeAnswer(a, 503, clock.instant());
    assertThat(a.health().ejectedUntil()).isEqualTo(clock.instant().plusSeconds(30));
    assertThat(a.health().ejections()).isEqualTo(4);
  }

  @Test
  void ejectionNeverTakesMoreThanTheCapOutAndAOneTargetGroupIsNeverEmptied() {
    start(PassiveHealth.defaults(), "a", "b", "c", "d");
    TargetGroup group = router.get().groups().get(0);
    for (int round = 0; round < 10; round++) {
      for (Target t : group.targets()) {
        group.observeAnswer(t, 503, clock.instant());
      }
    }
    long ejected = group.targets().stream().filter(t -> t.health().isEjected(clock.instant())).count();
    assertThat(ejected).as("half of four").isEqualTo(2);
    assertThat(group.isLive(clock.instant())).isTrue();

    // Once the first two come back, the next failing answers eject the other two.
    clock.advance(Duration.ofSeconds(30));
    for (int i = 0; i < 5; i++) {
      for (Target t : group.targets()) {
        group.observeAnswer(t, 503, clock.instant());
      }
    }
    assertThat(group.targets().stream().filter(t -> t.health().isEjected(clock.instant())).count()).isEqualTo(2);
    assertThat(group.targets().stream().mapToLong(t -> t.health().ejections()).sum()).isEqualTo(4);

    start(PassiveHealth.defaults(), "solo");
    TargetGroup one = router.get().groups().get(0);
    for (int i = 0; i < 20; i++) {
      one.observeAnswer(target("solo"), 503, clock.instant());
    }
    assertThat(target("solo").health().ejections()).as("half of one target is none").isZero();
  }

  @Test
  void aRefusedConnectionDuringAnEjectionDoesNotEndItEarly() {
    // Active checks off: a refused connection's own ejection runs out on the clock (one interval, 10 s).
    TargetGroup.Builder b = TargetGroup.builder("web").passiveHealth(PassiveHealth.defaults())
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofSeconds(10), Duration.ofSeconds(2), 2, 2, 200, 399,
            Duration.ofSeconds(10)))
        .target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1);
    router.set(Router.builder(cookies).group(b.build()).build());
    TargetGroup group = router.get().groups().get(0);
    for (int i = 0; i < 5; i++) {
      group.observeAnswer(target("a"), 503, clock.instant());
    }
    target("a").health().ejected(clock.instant(), "connection refused");
    clock.advance(Duration.ofSeconds(10));
    assertThat(target("a").isAvailable(clock.instant())).as("the refusal's 10 s are over, the ejection's 30 s are not").isFalse();
    assertThat(group.choose(clock.instant(), null).id()).isEqualTo("b");
    clock.advance(Duration.ofSeconds(20));
    assertThat(target("a").isAvailable(clock.instant())).isTrue();
  }

  @Test
  void offCountsNothing() {
    start(PassiveHealth.off(), "a", "b");
    CookieJar client = pinnedTo("a");
    for (int i = 0; i < 20; i++) {
      request(client, 503);
    }
    assertThat(target("a").health().ejections()).isZero();
    assertThat(target("a").isAvailable(clock.instant())).isTrue();
  }

  @Test
  void settingsNameTheBadValue() {
    assertThatThrownBy(() -> new PassiveHealth(-1, 3, Duration.ofSeconds(30), Duration.ofSeconds(300), 50))
        .hasMessage("consecutive5xx must be between 0 (off) and 1000, got -1");
    assertThatThrownBy(() -> new PassiveHealth(5, 1001, Duration.ofSeconds(30), Duration.ofSeconds(300), 50))
        .hasMessage("consecutiveTimeouts must be between 0 (off) and 1000, got 1001");
    assertThatThrownBy(() -> new PassiveHealth(5, 3, Duration.ZERO, Duration.ofSeconds(300), 50))
        .hasMessage("ejectFor must be between 1 millisecond and 1 day, got PT0S");
    assertThatThrownBy(() -> new PassiveHealth(5, 3, Duration.ofSeconds(30), Duration.ofSeconds(10), 50))
        .hasMessage("maxEjectFor must be between ejectFor (PT30S) and 1 day, got PT10S");
    assertThatThrownBy(() -> new PassiveHealth(5, 3, Duration.ofSeconds(30), Duration.ofSeconds(300), 101))
        .hasMessage("maxEjectedPercent must be between 0 and 100, got 101");
    assertThatThrownBy(() -> TargetGroup.builder("web").timeouts(Duration.ZERO, null))
        .hasMessage("timeout of target group web must be positive, got PT0S");
  }
}
