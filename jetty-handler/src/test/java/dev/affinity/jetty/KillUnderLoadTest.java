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
import java.util.concurrent.TimeUnit;

/**
 * A target is killed while clients are busy and later restarted: no client sees an error, every
 * client that was on it is moved exactly once, nobody flaps back, and the counters agree.
 * Bounded: {@code affinity.load.seconds} (default 4) of load from {@code affinity.load.clients}
 * (default 24) clients on loopback.
 */
class KillUnderLoadTest extends BalancerTestBase {

  @OverBothPaths
  void killAndRestartATargetUnderLoad(TargetPath path) throws Exception {
    int seconds = Integer.getInteger("affinity.load.seconds", 4);
    int clientCount = Integer.getInteger("affinity.load.clients", 24);
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofMillis(300), Duration.ofMillis(250), 2, 2, 200, 399, Duration.ofSeconds(1))),
        CookiePolicy.defaults(), "a", "b", "c");
    // Set before the first request, when the client's pool for the balancer is made.
    http.setMaxConnectionsPerDestination(clientCount * 2);

    List<UserAgent> clients = new ArrayList<>();
    List<List<String>> servedBy = new ArrayList<>();
    for (int i = 0; i < clientCount; i++) {
      UserAgent client = browser();
      List<String> history = new ArrayList<>();
      history.add(client.get("/").getContentAsString());
      clients.add(client);
      servedBy.add(history);
    }
    String victim = "b";
    long affected = servedBy.stream().filter(h -> h.get(0).equals(victim)).count();
    assertThat(affected).isPositive();

    BusyClients busy = BusyClients.start(clients, "/cart", (client, target) -> {
      List<String> history = servedBy.get(client);
      if (!target.equals(history.get(history.size() - 1))) {
        history.add(target);
      }
      return true;
    });
    long millis = seconds * 1000L;
    Thread.sleep(millis / 3);
    backends.get(victim).kill();
    Thread.sleep(millis / 3);
    backends.get(victim).restart();
    Thread.sleep(millis / 3);
    assertThat(busy.stop()).isTrue();

    assertThat(busy.requests()).isGreaterThan(clientCount * 5);
    assertThat(busy.errors()).as("client-visible errors").isEmpty();
    long moved = 0;
    for (List<String> history : servedBy) {
      if (history.get(0).equals(victim)) {
        assertThat(history).as("a client of the killed target moves exactly once").hasSize(2);
        assertThat(history.get(1)).isNotEqualTo(victim);
        moved++;
      } else {
        assertThat(history).as("other clients never move").hasSize(1);
      }
    }
    long rePins = 0;
    for (Target t : balancer.balancer().router().groups().get(0).targets()) {
      rePins += t.rePins();
    }
    assertThat(rePins).isEqualTo(moved).isEqualTo(affected);
    // The restarted target is healthy again and takes new clients.
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    balancer.healthChecker().checkAll().get(5, TimeUnit.SECONDS);
    assertThat(balancer.balancer().router().target(victim).isAvailable(clock.instant())).isTrue();
    System.out.printf("kill under load: %d clients, %d requests in %d s, %d errors, %d clients moved once, %d re-pins%n",
        clientCount, busy.requests(), seconds, busy.errors().size(), moved, rePins);
  }
}
