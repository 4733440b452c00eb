package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.Attempt.AnswerCookie;
import dev.affinity.balancer.Attempt.Failure;
import dev.affinity.balancer.Attempt.Next;
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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The exchange lifecycle every adapter path shares: counting, the retry rule, ejection, cookies, the 503. */
class AttemptTest {
  private static final Instant START = Instant.parse("2026-12-01T10:00:00Z");
  private final MutableClock clock = new MutableClock(START);
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());
  private final HealthCheckSettings health =
      new HealthCheckSettings(true, "/health", Duration.ofSeconds(10), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10));
  private final AtomicReference<Router> router = new AtomicReference<>();
  private final Forwarder forwarder = new Forwarder(router::get);

  private void start(StickinessPolicy stickiness, String... ids) {
    TargetGroup.Builder b = TargetGroup.builder("web").stickiness(stickiness).healthCheck(health);
    int port = 9001;
    for (String id : ids) {
      b.target(id, URI.create("http://127.0.0.1:" + port++), 1);
    }
    router.set(Router.builder(cookies).group(b.build()).build());
  }

  private static StickinessPolicy duration() {
    return StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
  }

  private Target target(String id) {
    return router.get().target(id);
  }

  /** A client pinned to {@code id}. */
  private CookieJar pinnedTo(String id) {
    CookieJar jar = new CookieJar();
    for (int i = 0; i < 20; i++) {
      Attempt a = forwarder.begin(jar, false, "GET", true);
      jar.apply(a.answered(200, name -> null));
      a.finished();
      if (a.target().id().equals(id)) {
        return jar;
      }
      jar.cookies.clear();
    }
    throw new AssertionError("never pinned to " + id);
  }

  @Test
  void aTargetCountsTheAttemptInFlightUntilItFinishesOnce() {
    start(duration(), "a");
    Attempt a = forwarder.begin(new CookieJar(), false, "GET", true);
    assertThat(target("a").inFlight()).isEqualTo(1);
    assertThat(target("a").requests()).isEqualTo(1);
    a.finished();
    a.finished();
    assertThat(target("a").inFlight()).isZero();
    // A failure after the finish (a late callback) does not count it out twice.
    a.failed(Failure.badAnswer(), true);
    assertThat(target("a").inFlight()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "POST", "PATCH", "PUT"})
  void aRefusedConnectMovesToAnotherTargetWhateverTheMethodAndEjectsTheTarget(String method) {
    start(duration(), "a", "b");
    CookieJar jar = pinnedTo("a");
    Attempt first = forwarder.begin(jar, false, method, false);
    assertThat(first.target().id()).isEqualTo("a");

    Next next = first.failed(Failure.refused("Connection refused"), false);

    assertThat(next.action()).isEqualTo(Next.Action.RETRY);
    Attempt second = next.attempt();
    assertThat(second.target().id()).isEqualTo("b");
    assertThat(second.number()).isEqualTo(2);
    assertThat(second.previousTargetId()).isEqualTo("a");
    assertThat(second.movedClient()).isTrue();
    assertThat(second.answered(200, name -> null)).extracting(SetCookie::name).containsExactly("AFFINITY");
    assertThat(target("a").health().isHealthy(clock.instant())).as("ejected").isFalse();
    assertThat(target("a").inFlight()).isZero();
    assertThat(target("a").failures()).isEqualTo(1);
    assertThat(target("b").inFlight()).isEqualTo(1);
    assertThat(forwarder.failovers()).isEqualTo(1);
  }

  @Test
  void refusedEverywhereAnswers503WithRetryAfterAfterOneFailover() {
    start(duration(), "a", "b", "c", "d");
    Attempt attempt = forwarder.begin(new CookieJar(), false, "GET", true);
    int attempts = 1;
    Next next;
    while ((next = attempt.failed(Failure.refused("refused"), false)).action() == Next.Action.RETRY) {
      attempt = next.attempt();
      attempts++;
    }
    assertThat(attempts).isEqualTo(1 + Forwarder.MAX_FAILOVERS);
    assertThat(next.action()).isEqualTo(Next.Action.ANSWER);
    assertThat(next.status()).isEqualTo(503);
    assertThat(next.retryAfterSeconds()).isEqualTo(5);
    assertThat(next.reason()).contains("target group web");
    assertThat(forwarder.noTargetResponses()).isEqualTo(1);
    for (Target t : router.get().groups().get(0).targets()) {
      assertThat(t.inFlight()).as(t.id()).isZero();
    }
  }

  @Test
  void aKeptAliveConnectionClosedBeforeTheAnswerIsResentOnceToTheSameTargetThenMoved() {
    start(duration(), "a", "b");
    CookieJar jar = pinnedTo("a");
    Attempt first = forwarder.begin(jar, false, "GET", true);

    Next resend = first.failed(Failure.closedBeforeAnswer(true), false);
    assertThat(resend.action()).isEqualTo(Next.Action.RETRY);
    assertThat(resend.attempt().target().id()).as("the pin has not failed").isEqualTo("a");
    assertThat(resend.attempt().previousTargetId()).isNull();
    assertThat(target("a").health().isHealthy(clock.instant())).isTrue();
    assertThat(forwarder.resends()).isEqualTo(1);
    assertThat(forwarder.failovers()).isZero();

    Next moved = resend.attempt().failed(Failure.closedBeforeAnswer(true), false);
    assertThat(moved.action()).isEqualTo(Next.Action.RETRY);
    assertThat(moved.attempt().target().id()).isEqualTo("b");
    assertThat(moved.attempt().previousTargetId()).isEqualTo("a");
  }

  @Test
  void aRequestMovedOnGetsItsOwnResendOnTheNextTargetsStaleConnection() {
    start(duration(), "a", "b");
    Attempt first = forwarder.begin(pinnedTo("a"), false, "GET", true);
    Attempt resentToA = first.failed(Failure.closedBeforeAnswer(true), false).attempt();
    // a was killed: the resend on a new connection is refused, and the request moves to b.
    Attempt onB = resentToA.failed(Failure.refused("Connection refused"), false).attempt();
    assertThat(onB.target().id()).isEqualTo("b");

    // b's kept-alive connection closed while idle: b has not failed, so once more to b.
    Next next = onB.failed(Failure.closedBeforeAnswer(true), false);
    assertThat(next.action()).isEqualTo(Next.Action.RETRY);
    assertThat(next.attempt().target().id()).isEqualTo("b");
    assertThat(forwarder.resends()).isEqualTo(2);
    assertThat(forwarder.badGatewayResponses()).isZero();
    // A second close on b's new connection is b's fault: no failovers left, 502.
    Next last = next.attempt().failed(Failure.closedBeforeAnswer(true), false);
    assertThat(last.status()).isEqualTo(502);
  }

  @Test
  void aFreshConnectionClosedBeforeTheAnswerMovesAReplayableRequestToAnotherTarget() {
    start(duration(), "a", "b");
    Attempt first = forwarder.begin(pinnedTo("a"), false, "HEAD", true);
    Next next = first.failed(Failure.closedBeforeAnswer(false), false);
    assertThat(next.action()).isEqualTo(Next.Action.RETRY);
    assertThat(next.attempt().target().id()).isEqualTo("b");
    assertThat(target("a").health().isHealthy(clock.instant())).as("a closed connection does not eject").isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "PATCH", "GET-with-body"})
  void aRequestThatCannotBeReplayedIsNeverSentAgainOnceTheTargetMayHaveSeenIt(String shape) {
    start(duration(), "a", "b");
    boolean bodyless = !shape.equals("GET-with-body");
    String method = shape.startsWith("GET") ? "GET" : shape;
    Attempt first = forwarder.begin(pinnedTo("a"), false, method, bodyless);
    assertThat(first.replayable()).isFalse();
    Next next = first.failed(Failure.closedBeforeAnswer(true), false);
    assertThat(next.action()).isEqualTo(Next.Action.ANSWER);
    assertThat(next.status()).isEqualTo(502);
    assertThat(forwarder.badGatewayResponses()).isEqualTo(1);
    assertThat(forwarder.failovers()).isZero();
  }

  @Test
  void anAnswerCutBeforeAnyOfItReachedTheClientMovesAReplayableRequestElsewhereOnly() {
    start(duration(), "a", "b");
    Next moved = forwarder.begin(pinnedTo("a"), false, "GET", true).failed(Failure.cutAnswer(), false);
    assertThat(moved.action()).isEqualTo(Next.Action.RETRY);
    assertThat(moved.attempt().target().id()).isEqualTo("b");
    assertThat(target("a").failures()).isEqualTo(1);
    moved.attempt().finished();
    Next post = forwarder.begin(pinnedTo("a"), false, "POST", false).failed(Failure.cutAnswer(), false);
    assertThat(post.status()).isEqualTo(502);
    // Once answer bytes reached the client, all that can be done is to cut it short.
    assertThat(forwarder.begin(pinnedTo("a"), false, "GET", true).failed(Failure.cutAnswer(), true).action())
        .isEqualTo(Next.Action.ABORT);
  }

  @Test
  void nothingIsRetriedAfterATimeoutOrAnUnusableAnswer() {
    start(duration(), "a", "b");
    Next timeout = forwarder.begin(pinnedTo("a"), false, "GET", true).failed(Failure.timedOut(), false);
    assertThat(timeout.action()).isEqualTo(Next.Action.ANSWER);
    assertThat(timeout.status()).isEqualTo(504);
    assertThat(timeout.retryAfterSeconds()).isEqualTo(-1);
    Next garbage = forwarder.begin(pinnedTo("a"), false, "GET", true).failed(Failure.badAnswer(), false);
    assertThat(garbage.status()).isEqualTo(502);
    assertThat(forwarder.gatewayTimeoutResponses()).isEqualTo(1);
    assertThat(forwarder.badGatewayResponses()).isEqualTo(1);
    assertThat(forwarder.failovers()).isZero();
    assertThat(target("a").health().isHealthy(clock.instant())).isTrue();
  }

  @Test
  void onceAnswerBytesReachedTheClientTheOnlyWayIsToCutItShort() {
    start(duration(), "a", "b");
    Next next = forwarder.begin(new CookieJar(), false, "GET", true).failed(Failure.closedBeforeAnswer(true), true);
    assertThat(next.action()).isEqualTo(Next.Action.ABORT);
    assertThat(forwarder.failovers()).isZero();
    assertThat(forwarder.resends()).isZero();
  }

  @Test
  void aTargetRefusingAnUpgradeWithA4xxIsPassedOnAndAnythingElseIs502() {
    start(duration(), "a");
    Next forbidden = forwarder.begin(new CookieJar(), false, "GET", true).failed(Failure.upgradeRefused(403), false);
    assertThat(forbidden.status()).isEqualTo(403);
    Next odd = forwarder.begin(new CookieJar(), false, "GET", true).failed(Failure.upgradeRefused(200), false);
    assertThat(odd.status()).isEqualTo(502);
  }

  @Test
  void aBodyPastTheLimitIs413AndNeverTheTargetsFault() {
    start(duration(), "a", "b");
    forwarder.setMaxRequestBodyBytes(1000);
    Attempt a = forwarder.begin(new CookieJar(), false, "POST", false);
    Target chosen = a.target();
    Next next = a.failed(Failure.bodyTooLarge(), false);
    assertThat(next.action()).isEqualTo(Next.Action.ANSWER);
    assertThat(next.status()).isEqualTo(413);
    assertThat(next.reason()).contains("1000 bytes");
    assertThat(forwarder.tooLargeResponses()).isEqualTo(1);
    assertThat(chosen.inFlight()).isZero();
    assertThat(chosen.failures()).isZero();
    assertThat(forwarder.failovers()).isZero();
    assertThat(forwarder.badGatewayResponses()).isZero();
  }

  @Test
  void aClientThatLeavesMidBodyIsCutShortWithoutBlamingTheTarget() {
    start(duration(), "a");
    Attempt a = forwarder.begin(new CookieJar(), false, "POST", false);
    assertThat(a.failed(Failure.clientLeft(), false).action()).isEqualTo(Next.Action.ABORT);
    assertThat(target("a").failures()).isZero();
    // Past the limit once the answer began: all that can be done is to cut it short.
    Attempt b = forwarder.begin(new CookieJar(), false, "POST", false);
    assertThat(b.failed(Failure.bodyTooLarge(), true).action()).isEqualTo(Next.Action.ABORT);
    assertThat(target("a").failures()).isZero();
    assertThat(target("a").inFlight()).isZero();
  }

  @Test
  void aDeclaredLengthPastTheLimitIsRefusedBeforeAnyTargetIsChosen() {
    start(duration(), "a");
    assertThat(forwarder.refuseLength(10_000_000_000L)).isNull();
    forwarder.setMaxRequestBodyBytes(10);
    assertThat(forwarder.refuseLength(-1)).isNull();
    assertThat(forwarder.refuseLength(10)).isNull();
    Next refused = forwarder.refuseLength(11);
    assertThat(refused.status()).isEqualTo(413);
    assertThat(forwarder.tooLargeResponses()).isEqualTo(1);
    assertThat(target("a").requests()).isZero();
    assertThatThrownBy(() -> forwarder.setMaxRequestBodyBytes(-1)).hasMessageContaining("-1");
  }

  @Test
  void noTargetAtAllIsA503WithRetryAfter() {
    start(duration(), "a");
    target("a").drain(clock.instant());
    Attempt a = forwarder.begin(new CookieJar(), false, "GET", true);
    assertThat(a.target()).isNull();
    Next next = a.unavailable();
    assertThat(next.status()).isEqualTo(503);
    assertThat(next.retryAfterSeconds()).isEqualTo(5);
    assertThatThrownBy(() -> a.answered(200, name -> null)).isInstanceOf(IllegalStateException.class);
    a.finished();
  }

  @Test
  void applicationStickinessPinsOnlyWhenTheTargetSetsALiveApplicationCookie() {
    start(StickinessPolicy.application("JSESSIONID", Expiry.sliding(Duration.ofHours(1))), "a", "b");
    CookieJar jar = new CookieJar();
    Attempt nothing = forwarder.begin(jar, false, "GET", true);
    assertThat(nothing.answered(200, name -> null)).isEmpty();
    assertThat(forwarder.begin(jar, false, "GET", true)
        .answered(200, name -> new AnswerCookie(name, "gone", 0L, null))).as("Max-Age=0 is a deletion").isEmpty();
    assertThat(forwarder.begin(jar, false, "GET", true)
        .answered(200, name -> new AnswerCookie(name, "gone", null, START.minusSeconds(1)))).as("Expires in the past").isEmpty();
    assertThat(forwarder.begin(jar, false, "GET", true)
        .answered(200, name -> new AnswerCookie(name, "", null, null))).as("an empty value").isEmpty();
    assertThat(forwarder.begin(jar, false, "GET", true)
        .answered(200, name -> name.equals("OTHER") ? new AnswerCookie(name, "x", null, null) : null)).isEmpty();

    Attempt pin = forwarder.begin(jar, false, "GET", true);
    assertThat(pin.answered(200, name -> new AnswerCookie(name, "s1", 1800L, null)))
        .extracting(SetCookie::name).containsExactly("AFFINITYAPP");
    assertThat(pin.target().newPins()).isEqualTo(1);
  }

  @Test
  void noApplicationCookieIsLookedForWithoutApplicationStickiness() {
    start(duration(), "a");
    Attempt a = forwarder.begin(new CookieJar(), false, "GET", true);
    assertThat(a.answered(200, name -> {
      throw new AssertionError("looked for " + name);
    })).extracting(SetCookie::name).containsExactly("AFFINITY");
  }

  @Test
  void withActiveChecksOffAnAnswerAfterThePassiveEjectionBringsTheTargetBackOnTheInjectedClock() {
    TargetGroup g = TargetGroup.builder("web").stickiness(duration())
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofSeconds(10), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .target("a", URI.create("http://127.0.0.1:9001"), 1).build();
    router.set(Router.builder(cookies).group(g).build());
    Next next = forwarder.begin(new CookieJar(), false, "GET", true).failed(Failure.refused("refused"), false);
    assertThat(next.status()).isEqualTo(503);
    assertThat(target("a").health().state()).isEqualTo(TargetHealth.State.UNHEALTHY);
    clock.advance(Duration.ofSeconds(11));
    Attempt a = forwarder.begin(new CookieJar(), false, "GET", true);
    a.answered(200, name -> null);
    assertThat(target("a").health().state()).isEqualTo(TargetHealth.State.HEALTHY);
    assertThat(target("a").health().changedAt()).isEqualTo(START.plusSeconds(11));
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
  void idempotentBodylessMethodsAreReplayable(String method) {
    assertThat(Forwarder.isReplayable(method, true)).isTrue();
    assertThat(Forwarder.isReplayable(method, false)).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "PATCH", "CONNECT", "get", "PROPFIND"})
  void otherMethodsAreNot(String method) {
    assertThat(Forwarder.isReplayable(method, true)).isFalse();
  }
}
