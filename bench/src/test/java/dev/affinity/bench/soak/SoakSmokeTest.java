package dev.affinity.bench.soak;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The soak in CI: 60 s of the same driver (real targets, the real launcher in a child JVM, the same
 * normal and hostile mix) at a low rate, six 10 s intervals, two target kills. The long run is
 * {@code bench/soak.sh}; this one shows that nothing the mix does leaks threads or descriptors or
 * reaches a client as an error.
 */
class SoakSmokeTest {

  @Test
  void sixtySecondsOfHostileMixAndTwoKills() throws Exception {
    Path out = Path.of("target", "soak-smoke");
    Soak.Settings settings = Soak.Settings.parse(
        "--seconds", System.getProperty("soak.seconds", "60"),
        "--interval-seconds", "10",
        "--baseline", "2",
        "--rate", System.getProperty("soak.rate", "60"),
        "--clients", "100",
        "--websockets", "4",
        "--ws-session-seconds", "15",
        "--slowloris", "4",
        "--churn-every-seconds", "25",
        "--down-seconds", "6",
        "--out", out.toString(),
        "--balancer-jvm", "-Xms32m -Xmx128m -XX:+UseG1GC -XX:TieredStopAtLevel=1",
        "--balancer-classpath", System.getProperty("java.class.path"));

    Soak.Result r = new Soak(settings).run();

    String summary = r.summary();
    assertThat(r.kills()).as(summary).isEqualTo(2);
    for (Kind kind : Kind.values()) {
      assertThat(r.total().get(kind).count()).as("%s ran\n%s", kind, summary).isPositive();
    }
    assertThat(r.idempotentErrors()).as(summary).isZero();
    assertThat(r.hostileServerErrors()).as(summary).isZero();
    assertThat(r.forgedAccepted()).as(summary).isZero();
    assertThat(r.observedRePins()).as("the kills moved clients\n%s", summary).isPositive();
    assertThat(r.rePinsAccounted()).as(summary).isTrue();
    Soak.Interval warm = r.interval(settings.baseline());
    Soak.Interval end = r.intervals().get(r.intervals().size() - 1);
    assertThat(end.threads()).as("threads after warm-up vs at the end\n%s", summary)
        .isLessThanOrEqualTo(Math.max(Math.round(warm.threads() * 1.25), warm.threads() + 20));
    assertThat(end.fds()).as("open descriptors after warm-up vs at the end\n%s", summary)
        .isLessThanOrEqualTo(Math.max(Math.round(warm.fds() * 1.25), warm.fds() + 30));
    assertThat(r.balancerExit()).as("the balancer's exit status after SIGTERM\n%s", summary).isZero();
  }
}
