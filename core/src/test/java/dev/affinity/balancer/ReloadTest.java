package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A configuration reload keeps the pins of targets that remain and drains the ones it removes. */
class ReloadTest {
  private Instant now = Instant.parse("2026-11-23T10:00:00Z");
  private final Clock clock = new Clock() {
    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  };
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());

  private TargetGroup.Builder web() {
    return TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .deregistrationDelay(Duration.ofSeconds(300)).slowStart(Duration.ofSeconds(60));
  }

  private static final class Jar implements CookieSource {
    final Map<String, String> cookies = new HashMap<>();

    void apply(List<SetCookie> setCookies) {
      setCookies.forEach(c -> cookies.put(c.name(), c.value()));
    }

    @Override
    public String value(String name) {
      return cookies.get(name);
    }
  }

  @Test
  void reloadCarriesOverRemainingTargetsAndDrainsRemovedOnes() {
    TargetGroup v1 = web().target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    Router r1 = Router.builder(cookies).group(v1).build();
    Jar onA = new Jar();
    Jar onB = new Jar();
    while (onA.cookies.isEmpty() || onB.cookies.isEmpty()) {
      Jar jar = new Jar();
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
    TargetGroup v2 = web().reloading(v1, now)
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
      assertThat(r2.route(new Jar(), false).target().id()).isEqualTo("b");
    }
    now = now.plusSeconds(300);
    RouteDecision moved = r2.route(onA, false);
    assertThat(moved.outcome()).isEqualTo(RouteDecision.Outcome.REPIN);
    assertThat(moved.previousTargetId()).isEqualTo("a");

    // The next reload forgets a target whose delay is over.
    TargetGroup v3 = web().reloading(v2, now).target("b", URI.create("http://127.0.0.1:9002"), 3)
        .target("c", URI.create("http://127.0.0.1:9003"), 1).build();
    assertThat(v3.target("a")).isNull();
    assertThat(v3.target("c")).isSameAs(v2.target("c"));
  }

  @Test
  void adminDrainSurvivesAReloadButReAddingARemovedTargetUndrainsIt() {
    TargetGroup v1 = web().target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    v1.target("a").drain(now);
    TargetGroup v2 = web().reloading(v1, now).target("a", URI.create("http://127.0.0.1:9001"), 1).build();
    assertThat(v2.target("a").isDraining()).as("drained by an operator, not by the reload").isTrue();
    assertThat(v2.target("b").isDraining()).isTrue();
    TargetGroup v3 = web().reloading(v2, now).target("a", URI.create("http://127.0.0.1:9001"), 1)
        .target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    assertThat(v3.target("b").isDraining()).isFalse();
    assertThat(v3.target("a").isDraining()).isTrue();
  }
}
