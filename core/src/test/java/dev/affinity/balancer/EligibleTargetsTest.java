package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * New clients are placed from a kept list of eligible targets; every change that alters the list
 * must be seen on the very next placement.
 */
class EligibleTargetsTest {
  private static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");
  private static final HealthCheckSettings PASSIVE_ONLY = new HealthCheckSettings(
      false, "/", Duration.ofSeconds(10), Duration.ofSeconds(5), 2, 2, 200, 399, Duration.ofSeconds(30));

  private static TargetGroup group(int n, HealthCheckSettings health) {
    TargetGroup.Builder b = TargetGroup.builder("g").healthCheck(health);
    for (int i = 0; i < n; i++) {
      b.target("t" + i, URI.create("http://127.0.0.1:" + (10000 + i)), 1);
    }
    return b.build();
  }

  /** Target ids chosen by {@code rounds} placements. */
  private static Set<String> chosen(TargetGroup g, Instant now, int rounds) {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < rounds; i++) {
      ids.add(g.choose(now, null).id());
    }
    return ids;
  }

  @Test
  void everyKindOfChangeIsSeenByTheNextPlacement() {
    TargetGroup g = group(1000, HealthCheckSettings.defaults());
    assertThat(chosen(g, T0, 1000)).hasSize(1000);
    Target t7 = g.target("t7");

    t7.drain(T0);
    assertThat(chosen(g, T0, 2000)).hasSize(999).doesNotContain("t7");
    t7.undrain();
    assertThat(chosen(g, T0, 1000)).hasSize(1000);

    // Active checks: unhealthy after two failures, back after two passes.
    t7.health().checkFailed(T0, "503");
    assertThat(chosen(g, T0, 1000)).contains("t7");
    t7.health().checkFailed(T0, "503");
    assertThat(chosen(g, T0, 2000)).doesNotContain("t7");
    t7.health().checkPassed(T0);
    t7.health().checkPassed(T0);
    assertThat(chosen(g, T0, 1000)).contains("t7");

    // A refused connection ejects at once.
    t7.health().ejected(T0, "connection refused");
    assertThat(chosen(g, T0, 2000)).doesNotContain("t7");
  }

  @Test
  void aPassiveEjectionRunsOutWithTheClockAlone() {
    TargetGroup g = group(3, PASSIVE_ONLY);
    Target t1 = g.target("t1");
    t1.health().ejected(T0, "connection refused");
    assertThat(chosen(g, T0.plusSeconds(29), 30)).containsExactlyInAnyOrder("t0", "t2");
    // No call changed anything: only the clock moved past the ejection.
    assertThat(chosen(g, T0.plusSeconds(30), 30)).containsExactlyInAnyOrder("t0", "t1", "t2");
  }

  @Test
  void aWeightChangeOnReloadIsSeen() {
    TargetGroup g = group(3, HealthCheckSettings.defaults());
    g.target("t2").reconfigure(0, HealthCheckSettings.defaults());
    assertThat(chosen(g, T0, 30)).containsExactlyInAnyOrder("t0", "t1");
    g.target("t2").reconfigure(1, HealthCheckSettings.defaults());
    assertThat(chosen(g, T0, 30)).containsExactlyInAnyOrder("t0", "t1", "t2");
  }
}
