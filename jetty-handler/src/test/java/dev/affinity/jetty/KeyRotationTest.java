package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.Rejection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Rotating keys on a running balancer: a new primary is added while the old key still opens, so no
 * client is re-pinned; active clients' sliding cookies are re-sealed with the new key as they come
 * back; once the old key is retired, only cookies nobody refreshed fall back to being balanced anew —
 * never an error.
 */
class KeyRotationTest extends BalancerTestBase {
  private static final String K2 = Base64.getEncoder().encodeToString("0123456789abcdef0123456789abcdef".getBytes());

  private Router routerWith(Keyring keys, Router previous) {
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keys).clock(clock).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("web")
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    for (String id : List.of("a", "b", "c")) {
      group.target(id, backends.uri(id), 1);
    }
    if (previous != null) {
      group.reloading(previous.groups().get(0), clock.instant());
    }
    return Router.builder(cookies).group(group.build()).build();
  }

  private long rePins() {
    long total = 0;
    for (Target t : balancer.balancer().router().groups().get(0).targets()) {
      total += t.rePins();
    }
    return total;
  }

  @OverBothPaths
  void rotationDropsNoActiveClient(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    Keyring onlyK1 = keyring;
    List<UserAgent> active = new ArrayList<>();
    List<UserAgent> idle = new ArrayList<>();
    List<String> pinnedActive = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      UserAgent client = browser();
      String target = client.get("/").getContentAsString();
      if (i % 2 == 0) {
        active.add(client);
        pinnedActive.add(target);
      } else {
        idle.add(client);
      }
    }

    // Step 1: k2 becomes primary, k1 still opens. Nobody is re-pinned.
    balancer.balancer().router(routerWith(Keyring.builder().addKey("k2", K2).addKey("k1", SECRET).build(), balancer.balancer().router()));
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < active.size(); i++) {
        assertThat(active.get(i).get("/").getContentAsString()).isEqualTo(pinnedActive.get(i));
      }
    }
    assertThat(rePins()).isZero();
    // Active clients come back after the refresh granularity: their cookies are re-sealed with k2.
    clock.advance(Duration.ofSeconds(40));
    for (int i = 0; i < active.size(); i++) {
      assertThat(active.get(i).get("/").getContentAsString()).isEqualTo(pinnedActive.get(i));
      assertThat(active.get(i).jar.get("AFFINITY")).isNotNull();
    }
    Keyring onlyK2 = Keyring.builder().addKey("k2", K2).build();
    AffinityCookies k2Only = AffinityCookies.of(AffinityCookieCodec.builder().keyring(onlyK2).clock(clock).build(), CookiePolicy.defaults());
    for (UserAgent client : active) {
      assertThat(k2Only.read(client, "AFFINITY")).as("re-sealed under k2").isPresent();
    }

    // Step 2: k1 is retired. Active clients stay put; idle clients' k1 cookies are balanced anew, with a 200.
    balancer.balancer().router(routerWith(onlyK2, balancer.balancer().router()));
    long unknownBefore = counters.rejectedCount(Rejection.UNKNOWN_KEY);
    for (int i = 0; i < active.size(); i++) {
      assertThat(active.get(i).get("/").getContentAsString()).isEqualTo(pinnedActive.get(i));
    }
    for (UserAgent client : idle) {
      assertThat(client.get("/").getStatus()).isEqualTo(200);
      assertThat(client.setCookieHeader("AFFINITY")).as("a fresh cookie under k2").isNotNull();
      assertThat(k2Only.read(client, "AFFINITY")).isPresent();
    }
    assertThat(rePins()).isZero();
    assertThat(counters.rejectedCount(Rejection.UNKNOWN_KEY) - unknownBefore).isEqualTo(idle.size());
    assertThat(AffinityCookies.of(AffinityCookieCodec.builder().keyring(onlyK1).clock(clock).build(), CookiePolicy.defaults())
        .read(idle.get(0), "AFFINITY")).as("k1 no longer seals anything").isEmpty();
    path.assertTaken(balancer.balancer());
  }
}
