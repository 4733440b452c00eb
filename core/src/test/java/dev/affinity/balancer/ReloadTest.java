package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A configuration reload keeps the pins of targets that remain and drains the ones it removes. */
class ReloadTest {
  private final MutableClock clock = new MutableClock();
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());

  private TargetGroup.Builder web() {
    return TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .deregistrationDelay(Duration.ofSeconds(300)).slowStart(Duration.ofSeconds(60));
  }


  @Test
  void reloadCarriesOverRemainingTargetsAndDrainsRemovedOnes() {
    TargetGroup v1 = web().target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    Router r1 = Router.builder(cookies).group(v1).build();
    CookieJar onA = new CookieJar();
    CookieJar onB = new CookieJar();
    while (onA.cookies.isEmpty() || onB.cookies.isEmpty()) {
      CookieJar jar = new CookieJar();
      RouteDecision d = r1.route(jar, false);
      jar.apply(d.setCookies());
      if (d.target().id().equals("a") && onA.cookies.isEmpty()) {
        onA.cookies.putAll(jar.cookies);
      } else if (d.target().id().equals("b") && onB.cookies.isEmpty()) {
        onB.cookies.putAll(jar.cookies);
      }
    }
    Target b = v1.target("b");
    long bRequests = b.requests();

    // v2: a removed, b reweighted, c added.
    TargetGroup v2 = web().reloading(v1, clock.instant())
        .target("b", URI.create("http://127.0.0.1:9002"), 3).target("c", URI.create("http://127.0.0.1:9003"), 1).build();
    Router r2 = Router.builder(cookies).group(v2).build();
    assertThat(v2.target("b")).isSameAs(b);
    assertThat(b.weight()).isEqualTo(3);
    assertThat(b.requests()).isEqualTo(bRequests);
    assertThat(v2.target("a").isDraining()).isTrue();
    assertThat(r2.route(onB, false).target().id()).isEqualTo("b");
    assertThat(r2.route(onA, false).target().id()).as("pinned to a removed target, within the delay").isEqualTo("a");
    // New clients never go to the removed target, and the new one ramps from zero.
    for (int i = 0; i < 20; i++) {
      assertThat(r2.route(new CookieJar(), false).target().id()).isEqualTo("b");
    }
    clock.advance(Duration.ofSeconds(300));
    RouteDecision moved = r2.route(onA, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.previousTargetId()).isEqualTo("a");

    // The next reload forgets a target whose delay is over.
    TargetGroup v3 = web().reloading(v2, clock.instant()).target("b", URI.create("http://127.0.0.1:9002"), 3)
        .target("c", URI.create("http://127.0.0.1:9003"), 1).build();
    assertThat(v3.target("a")).isNull();
    assertThat(v3.target("c")).isSameAs(v2.target("c"));
  }

  @Test
  void adminDrainSurvivesAReloadButReAddingARemovedTargetUndrainsIt() {
    TargetGroup v1 = web().target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    v1.target("a").drain(clock.instant());
    TargetGroup v2 = web().reloading(v1, clock.instant()).target("a", URI.create("http://127.0.0.1:9001"), 1).build();
    assertThat(v2.target("a").isDraining()).as("drained by an operator, not by the reload").isTrue();
    assertThat(v2.target("b").isDraining()).isTrue();
    TargetGroup v3 = web().reloading(v2, clock.instant()).target("a", URI.create("http://127.0.0.1:9001"), 1)
        .target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    assertThat(v3.target("b").isDraining()).isFalse();
    assertThat(v3.target("a").isDraining()).isTrue();
  }
}
