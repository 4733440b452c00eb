package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.HttpCookie;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three balancers, as a fleet behind one DNS name would run them: the same YAML (the same {@code keys},
 * the same {@code discovery:} name), each its own process state, and no state shared between them but
 * the DNS server (a real dnsmasq) and the clients' cookies. A client whose requests alternate among the
 * three stays on its target — no balancer re-pins it — before and after the DNS records scale up, because
 * target ids come from the records (the same on every instance) and any instance opens any other's
 * cookie. Time is real here (each launcher's DNS thread); each change is awaited with a bound.
 */
class DnsFleetTest {
  private static final String SERVICE = "_web._tcp.fleet.test";
  private static final int CLIENTS = 30;

  @TempDir
  Path dir;
  private Backends backends;
  private Dnsmasq dns;
  private HttpClient http;
  private final List<BalancerLauncher.Running> fleet = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    backends = Backends.start("web-1", "web-2", "web-3", "web-4");
    dns = Dnsmasq.start(dir, 1);
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (BalancerLauncher.Running running : fleet) {
      running.close();
    }
    http.stop();
    dns.close();
    backends.close();
  }

  private List<String> records(String... ids) {
    List<String> records = new ArrayList<>();
    for (String id : ids) {
      records.add(Dnsmasq.host(id + ".test", "127.0.0.1"));
      records.add(Dnsmasq.srv(SERVICE, id + ".test", backends.uri(id).getPort(), 10, 1));
    }
    return records;
  }

  private static TargetGroup group(BalancerLauncher.Running running) {
    return running.server().balancer().router().group("web");
  }

  /** The target ids each balancer routes to, as a set per balancer. */
  private List<Set<String>> targetsSeen() {
    List<Set<String>> seen = new ArrayList<>();
    for (BalancerLauncher.Running running : fleet) {
      seen.add(group(running).targets().stream().filter(t -> !t.isDraining()).map(Target::id).collect(Collectors.toCollection(TreeSet::new)));
    }
    return seen;
  }

  /** Awaits (bounded: each launcher's next DNS query is a real event) every balancer routing to {@code count} targets. */
  private void awaitTargets(int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!targetsSeen().stream().allMatch(s -> s.size() == count)) {
      assertThat(System.nanoTime()).as("%s targets on every balancer within 15 s, got %s", count, targetsSeen()).isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  private long rePins() {
    return fleet.stream().flatMap(r -> group(r).targets().stream()).mapToLong(Target::rePins).sum();
  }

  /** A browser on one host name: one cookie jar, whichever balancer (port) a request goes to, as browsers keep cookies per host. */
  private final class Client {
    final Map<String, String> jar = new LinkedHashMap<>();

    String get(URI balancer) throws Exception {
      var request = http.newRequest(balancer.resolve("/"));
      if (!jar.isEmpty()) {
        String cookies = jar.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; "));
        request.headers(h -> h.put(HttpHeader.COOKIE, cookies));
      }
      ContentResponse response = request.timeout(20, TimeUnit.SECONDS).send();
      assertThat(response.getStatus()).isEqualTo(200);
      for (String header : response.getHeaders().getValuesList(HttpHeader.SET_COOKIE)) {
        for (HttpCookie c : HttpCookie.parse("Set-Cookie: " + header)) {
          if (c.getMaxAge() == 0) {
            jar.remove(c.getName());
          } else {
            jar.put(c.getName(), c.getValue());
          }
        }
      }
      return response.getContentAsString();
    }
  }

  @Test
  void threeBalancersOnOneDnsNameSeeTheSameTargetsAndNeverRePinAClientThatAlternates() throws Exception {
    dns.records(records("web-1", "web-2", "web-3"));
    String yaml = "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { path: /health, interval: PT1M, timeout: PT2S }\n"
        + "    discovery: { dns: " + SERVICE + ", type: SRV, interval: PT1S, timeout: PT0.5S, resolvers: [ \"" + dns.address() + "\" ] }\n";
    for (int i = 1; i <= 3; i++) {
      Path file = Files.writeString(dir.resolve("balancer-" + i + ".yaml"), yaml);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      BalancerLauncher.Running running = BalancerLauncher.run(new String[] {file.toString()},
          new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
          new ManualScheduler());
      assertThat(running.exitCode()).as(out.toString(StandardCharsets.UTF_8)).isZero();
      fleet.add(running);
    }
    List<URI> balancers = fleet.stream().map(r -> r.server().uri()).toList();
    assertThat(balancers).doesNotHaveDuplicates();
    awaitTargets(3);
    List<Set<String>> seen = targetsSeen();
    assertThat(seen.get(1)).isEqualTo(seen.get(0));
    assertThat(seen.get(2)).isEqualTo(seen.get(0));
    assertThat(seen.get(0)).contains("web-1.test_" + backends.uri("web-1").getPort());

    // Each client's first request goes to a different balancer; then it goes round the three.
    List<Client> clients = new ArrayList<>();
    List<String> pinned = new ArrayList<>();
    Set<String> reached = new TreeSet<>();
    int requests = 0;
    for (int c = 0; c < CLIENTS; c++) {
      Client client = new Client();
      String backend = client.get(balancers.get(c % 3));
      requests++;
      clients.add(client);
      pinned.add(backend);
      reached.add(backend);
    }
    assertThat(reached).containsExactly("web-1", "web-2", "web-3");
    for (int round = 1; round <= 6; round++) {
      for (int c = 0; c < CLIENTS; c++) {
        assertThat(clients.get(c).get(balancers.get((c + round) % 3))).as("client %s, round %s", c, round).isEqualTo(pinned.get(c));
        requests++;
      }
    }
    assertThat(rePins()).as("re-pins on the three balancers together").isZero();

    // Scale up: web-4 joins the records; every balancer sees it, nobody moves, new clients reach it.
    dns.records(records("web-1", "web-2", "web-3", "web-4"));
    awaitTargets(4);
    seen = targetsSeen();
    assertThat(seen.get(1)).isEqualTo(seen.get(0));
    assertThat(seen.get(2)).isEqualTo(seen.get(0));
    for (int round = 1; round <= 6; round++) {
      for (int c = 0; c < CLIENTS; c++) {
        assertThat(clients.get(c).get(balancers.get((c + round) % 3))).as("client %s after the scale-up, round %s", c, round)
            .isEqualTo(pinned.get(c));
        requests++;
      }
    }
    Set<String> newClients = new TreeSet<>();
    for (int c = 0; c < 12; c++) {
      Client client = new Client();
      String backend = client.get(balancers.get(c % 3));
      newClients.add(backend);
      for (int round = 1; round <= 3; round++) {
        assertThat(client.get(balancers.get((c + round) % 3))).isEqualTo(backend);
      }
      requests += 4;
    }
    assertThat(newClients).contains("web-4");
    assertThat(rePins()).as("re-pins on the three balancers together, after the scale-up").isZero();
    System.out.printf("DnsFleetTest: 3 balancers, %d clients alternating, %d requests, %d re-pins, targets %s%n",
        CLIENTS + 12, requests, rePins(), seen.get(0));
  }
}
