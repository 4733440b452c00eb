package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Targets are killed and restarted one after another, again and again, while clients are busy: on
 * both paths to a target (the direct relay and {@code HttpClient}) no client ever sees an error.
 * Each kill lands at a different moment of some exchange (connecting, request written, answer on
 * its way, connection idle in a pool), which a single kill rarely covers. Bounded: six kills, about
 * three seconds of load per path.
 */
class TargetChurnTest extends BalancerTestBase {
  private static final List<String> IDS = List.of("a", "b", "c");

  @OverBothPaths
  void noClientSeesAnErrorWhileTargetsComeAndGo(TargetPath path) throws Exception {
    int clientCount = 24;
    // Health checked every 100 ms, taken back after two good checks: a restarted target is back
    // before the next kill.
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofMillis(100), Duration.ofMillis(90), 2, 1, 200, 399, Duration.ofSeconds(1))),
        CookiePolicy.defaults(), IDS.toArray(String[]::new));

    List<UserAgent> clients = new ArrayList<>();
    for (int i = 0; i < clientCount; i++) {
      UserAgent client = browser();
      assertThat(client.get("/").getStatus()).isEqualTo(200);
      clients.add(client);
    }
    BusyClients busy = BusyClients.start(clients, "/cart", (client, body) -> IDS.contains(body));
    Random random = new Random(11);
    int kills = 6;
    for (int i = 0; i < kills; i++) {
      Backends.Backend victim = backends.get(IDS.get(i % IDS.size()));
      Thread.sleep(100 + random.nextInt(150));
      victim.kill();
      Thread.sleep(100 + random.nextInt(150));
      victim.restart();
      Thread.sleep(250);
    }
    assertThat(busy.stop()).isTrue();

    assertThat(busy.errors()).as("client-visible errors over %d requests and %d kills", busy.requests(), kills).isEmpty();
    assertThat(busy.requests()).isGreaterThan(clientCount * 10);
    long rePins = 0;
    for (Target t : balancer.balancer().router().groups().get(0).targets()) {
      rePins += t.rePins();
    }
    // Kills moved clients, at most every client once per kill.
    assertThat(rePins).isPositive().isLessThanOrEqualTo((long) clientCount * kills);
    // Every target comes back through its checks. Rounds on demand: a 90 ms check may time out on a
    // loaded machine (and one failure takes a target out), so one round is not always enough.
    // A kill's failed answers may have ejected a target passively (PassiveHealth); that ejection runs out
    // on the balancer's clock, which this test holds still: move it past any ejection first.
    clock.advance(Duration.ofMinutes(10));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (IDS.stream().anyMatch(id -> !balancer.balancer().router().target(id).isAvailable(clock.instant()))
        && System.nanoTime() < deadline) {
      balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    }
    for (String id : IDS) {
      assertThat(balancer.balancer().router().target(id).isAvailable(clock.instant())).as("target %s back", id).isTrue();
    }
  }
}
