package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Each persistence key the loader accepts reaches core's policy (the socket-level proof is in jetty-handler's tests). */
class PersistenceConfigTest {
  private static StickinessPolicy policy(String stickiness) {
    String yaml = """
        targetGroups:
          - name: blue
            stickiness: %s
            targets:
              - { id: blue-1, uri: "http://127.0.0.1:9001" }
        """.formatted(stickiness);
    return BalancerConfigLoader.parse(yaml, "p.yaml").targetGroups().get(0).stickiness().toPolicy();
  }

  @Test
  void typeCookieIsAnAliasOfDuration() {
    assertThat(policy("{ type: cookie }").type()).isEqualTo(StickinessPolicy.Type.DURATION);
    assertThat(policy("{ type: COOKIE }").type()).isEqualTo(StickinessPolicy.Type.DURATION);
  }

  @Test
  void headerTypeWithItsSessionName() {
    StickinessPolicy p = policy("{ type: header, sessionName: X-Affinity-Session }");
    assertThat(p.type()).isEqualTo(StickinessPolicy.Type.HEADER);
    assertThat(p.sessionName()).isEqualTo("X-Affinity-Session");
    assertThat(policy("{ type: header }").sessionName()).as("the router's default").isNull();
  }

  @Test
  void sessionNameRenamesTheCookieOfDurationAndApplicationToo() {
    assertThat(policy("{ type: duration, sessionName: SHOPPIN }").sessionName()).isEqualTo("SHOPPIN");
    assertThat(policy("{ type: application, cookie: JSESSIONID, sessionName: APPPIN }").sessionName()).isEqualTo("APPPIN");
  }

  @Test
  void idleTimeoutAloneSlides() {
    Expiry e = policy("{ type: duration, idleTimeout: PT30M }").expiry();
    assertThat(e.mode()).isEqualTo(Expiry.Mode.SLIDING);
    assertThat(e.duration()).isEqualTo(Duration.ofMinutes(30));
    assertThat(e.absoluteTimeout()).isNull();
  }

  @Test
  void absoluteTimeoutAloneIsFixed() {
    Expiry e = policy("{ type: duration, absoluteTimeout: PT8H }").expiry();
    assertThat(e.mode()).isEqualTo(Expiry.Mode.FIXED);
    assertThat(e.duration()).isEqualTo(Duration.ofHours(8));
  }

  @Test
  void bothTimeoutsSlideUpToTheAbsoluteEnd() {
    Expiry e = policy("{ type: header, idleTimeout: PT30M, absoluteTimeout: PT8H }").expiry();
    assertThat(e.mode()).isEqualTo(Expiry.Mode.SLIDING);
    assertThat(e.duration()).isEqualTo(Duration.ofMinutes(30));
    assertThat(e.absoluteTimeout()).isEqualTo(Duration.ofHours(8));
  }

  @Test
  void lifetimeSessionDropsMaxAgeAndPermanentKeepsIt() {
    assertThat(policy("{ type: duration, idleTimeout: PT30M, lifetime: session }").expiry().sessionCookie()).isTrue();
    assertThat(policy("{ type: duration, duration: PT1H, lifetime: session }").expiry().sessionCookie()).isTrue();
    assertThat(policy("{ type: duration, duration: PT1H, sliding: false, lifetime: session }").expiry().mode()).isEqualTo(Expiry.Mode.FIXED);
    assertThat(policy("{ type: duration, lifetime: permanent }").expiry().sessionCookie()).isFalse();
  }

  @Test
  void strictIsCarriedOver() {
    assertThat(policy("{ type: header, strict: true }").isStrict()).isTrue();
    assertThat(policy("{ type: duration }").isStrict()).isFalse();
  }
}
