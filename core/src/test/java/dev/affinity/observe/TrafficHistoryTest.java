package dev.affinity.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.MutableClock;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrafficHistoryTest {
  private final MutableClock clock = new MutableClock();
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
      CookiePolicy.defaults());

  private TargetGroup.Builder web() {
    return TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .deregistrationDelay(Duration.ofSeconds(30));
  }

  /** A client that keeps its cookies, as a browser does. */
  private static final class Client implements CookieSource {
    final Map<String, String> jar = new HashMap<>();

    String get(Router router) {
      RouteDecision d = router.route(this, false);
      d.target().started();
      d.target().finished();
      for (SetCookie c : d.setCookies()) {
        jar.put(c.name(), c.value());
      }
      return d.target().id();
    }

    @Override
    public String value(String name) {
      return jar.get(name);
    }
  }

  @Test
  void samplesAreRatesAndPinnedSharesOfTheInterval() {
    Router router = Router.builder(cookies).group(web()
        .target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build()).build();
    TrafficHistory history = TrafficHistory.create();
    history.sample(router, clock.instant());
    assertThat(history.samples("web", "a").size()).as("the first call only sets the baseline").isZero();

    // Two clients: one pinned to a makes 30 requests, the one on b makes 10, in one 5 s interval.
    Client onA = new Client();
    Client onB = new Client();
    String first = onA.get(router);
    String second = onB.get(router);
    assertThat(first).isNotEqualTo(second);
    Client heavy = first.equals("a") ? onA : onB;
    Client light = heavy == onA ? onB : onA;
    for (int i = 1; i < 30; i++) {
      heavy.get(router);
    }
    for (int i = 1; i < 10; i++) {
      light.get(router);
    }
    clock.advance(Duration.ofSeconds(5));
    history.sample(router, clock.instant());
    TrafficHistory.Samples a = history.samples("web", "a");
    TrafficHistory.Samples b = history.samples("web", "b");
    assertThat(a.epochSeconds()).containsExactly(clock.instant().getEpochSecond());
    assertThat(a.requestsPerSecond()[0]).isCloseTo(30 / 5.0, within(1e-9));
    assertThat(b.requestsPerSecond()[0]).isCloseTo(10 / 5.0, within(1e-9));
    assertThat(a.pinnedShare()[0]).isCloseTo(0.75, within(1e-9));
    assertThat(b.pinnedShare()[0]).isCloseTo(0.25, within(1e-9));

    // A quiet interval: no requests, and no share rather than a made-up 0 %.
    clock.advance(Duration.ofSeconds(5));
    history.sample(router, clock.instant());
    a = history.samples("web", "a");
    assertThat(a.size()).isEqualTo(2);
    assertThat(a.requestsPerSecond()[1]).isZero();
    assertThat(a.pinnedShare()[1]).isNaN();
  }

  @Test
  void theRingKeepsOnlyTheSpanOldestFirst() {
    Router router = Router.builder(cookies).group(web().target("a", URI.create("http://127.0.0.1:9001"), 1).build()).build();
    TrafficHistory history = TrafficHistory.create(Duration.ofSeconds(5), Duration.ofSeconds(20), Duration.ofMinutes(1));
    history.sample(router, clock.instant());
    Client client = new Client();
    for (int n = 1; n <= 6; n++) {
      for (int i = 0; i < n * 5; i++) {
        client.get(router);
      }
      clock.advance(Duration.ofSeconds(5));
      history.sample(router, clock.instant());
    }
    TrafficHistory.Samples a = history.samples("web", "a");
    assertThat(a.size()).isEqualTo(4);
    assertThat(a.requestsPerSecond()).containsExactly(3, 4, 5, 6);
    assertThat(a.epochSeconds()[3]).isEqualTo(clock.instant().getEpochSecond());
    assertThat(a.epochSeconds()[0]).isEqualTo(clock.instant().minusSeconds(15).getEpochSecond());
    assertThat(a.pinnedShare()).containsExactly(1, 1, 1, 1);
  }

  @Test
  void aRouterChangeRecordsWhoJoinedAndWhoLeftForAWhile() {
    TargetGroup v1 = web().target("a", URI.create("http://127.0.0.1:9001"), 1).target("b", URI.create("http://127.0.0.1:9002"), 1).build();
    Router r1 = Router.builder(cookies).group(v1).build();
    TrafficHistory history = TrafficHistory.create(Duration.ofSeconds(5), Duration.ofMinutes(10), Duration.ofMinutes(5));
    history.sample(r1, clock.instant());
    Client client = new Client();
    client.get(r1);
    clock.advance(Duration.ofSeconds(5));
    history.sample(r1, clock.instant());

    // b removed by a reload (it drains, still a member), c added.
    clock.advance(Duration.ofSeconds(1));
    TargetGroup v2 = web().reloading(v1, clock.instant())
        .target("a", URI.create("http://127.0.0.1:9001"), 1).target("c", URI.create("http://127.0.0.1:9003"), 1).build();
    Router r2 = Router.builder(cookies).group(v2).build();
    history.routerChanged(r1, r2, clock.instant());
    assertThat(history.joinedAt("web", "c")).isEqualTo(clock.instant());
    assertThat(history.joinedAt("web", "a")).isNull();
    assertThat(history.departed("web", clock.instant())).as("b drains first: still a member").isEmpty();

    // After its deregistration delay the next rebuild drops b: it has left, and is listed so for 5 minutes.
    clock.advance(Duration.ofSeconds(30));
    Instant left = clock.instant();
    TargetGroup v3 = web().reloading(v2, left)
        .target("a", URI.create("http://127.0.0.1:9001"), 1).target("c", URI.create("http://127.0.0.1:9003"), 1).build();
    Router r3 = Router.builder(cookies).group(v3).build();
    history.routerChanged(r2, r3, left);
    assertThat(history.departed("web", left)).containsExactly(new TrafficHistory.Departure("web", "b", "http://127.0.0.1:9002", left));
    assertThat(history.samples("web", "b").size()).as("its history stays while it is listed").isEqualTo(1);
    assertThat(history.departed("web", left.plus(Duration.ofMinutes(5)).minusMillis(1))).hasSize(1);
    history.sample(r3, left.plus(Duration.ofMinutes(5)));
    assertThat(history.departed("web", left.plus(Duration.ofMinutes(5)))).isEmpty();
    assertThat(history.samples("web", "b").size()).isZero();

    // A target that comes back is no longer listed as departed, and joined again.
    Instant back = clock.instant().plus(Duration.ofMinutes(6));
    history.routerChanged(r3, r1, back);
    assertThat(history.joinedAt("web", "b")).isEqualTo(back);
    assertThat(history.departed("web", back)).extracting(TrafficHistory.Departure::targetId).containsExactly("c");
  }

  @Test
  void badSettingsAreRefusedNamingTheValue() {
    assertThatThrownBy(() -> TrafficHistory.create(Duration.ofMillis(500), Duration.ofMinutes(1), Duration.ZERO))
        .hasMessageContaining("PT0.5S");
    assertThatThrownBy(() -> TrafficHistory.create(Duration.ofSeconds(5), Duration.ofSeconds(2), Duration.ZERO))
        .hasMessageContaining("PT2S");
    assertThatThrownBy(() -> TrafficHistory.create(Duration.ofSeconds(1), Duration.ofHours(1), Duration.ZERO))
        .hasMessageContaining("PT1H");
    assertThatThrownBy(() -> TrafficHistory.create(Duration.ofSeconds(5), Duration.ofMinutes(1), Duration.ofHours(2)))
        .hasMessageContaining("keepLeft").hasMessageContaining("PT2H");
  }
}
