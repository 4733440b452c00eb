package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.MutableClock;
import dev.affinity.cookie.SetCookie;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.BalancerConfigLoader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DNS discovery against a real DNS server (dnsmasq on a loopback port) whose records the tests change:
 * the time between queries is a {@link ManualScheduler} and "now" a clock the tests move, the queries
 * themselves are real.
 */
class DnsDiscoveryTest {
  private static final Duration INTERVAL = Duration.ofSeconds(5);
  private static final Duration DEREGISTRATION_DELAY = Duration.ofSeconds(60);

  @TempDir
  Path dir;

  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private final ManualScheduler scheduler = new ManualScheduler();
  private Dnsmasq dns;
  private AffinityServer server;
  private DnsDiscovery discovery;
  private Topology topology;
  private String yaml;

  @AfterEach
  void stop() throws Exception {
    if (discovery != null) {
      discovery.stop();
    }
    if (dns != null) {
      dns.close();
    }
  }

  /** A client's cookie jar, kept as a browser keeps it. */
  private static final class Jar implements CookieSource {
    final Map<String, String> cookies = new HashMap<>();

    void apply(List<SetCookie> setCookies) {
      for (SetCookie c : setCookies) {
        if (c.isRemoval()) {
          cookies.remove(c.name());
        } else {
          cookies.put(c.name(), c.value());
        }
      }
    }

    @Override
    public String value(String name) {
      return cookies.get(name);
    }
  }


  private static List<String> addresses(String name, int... lastOctets) {
    List<String> records = new ArrayList<>();
    for (int o : lastOctets) {
      records.add(Dnsmasq.host(name, "127.0.0." + o));
    }
    return records;
  }

  private static String ids(int port, int... lastOctets) {
    return String.join(",", IntStream.of(lastOctets).mapToObj(o -> "127.0.0." + o + "_" + port).toList());
  }

  /** Starts a balancer (not listening: the routing is core's) whose group {@code web} has {@code discovery}. */
  private void balancer(String discoveryYaml, String groupExtra) throws Exception {
    yaml = "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { enabled: false }\n"
        + "    deregistrationDelay: " + DEREGISTRATION_DELAY + "\n"
        + groupExtra
        + "    discovery: " + discoveryYaml + "\n";
    BalancerConfig config = BalancerConfigLoader.parse(yaml, "dns.yaml");
    BalancerFactory factory = new BalancerFactory(clock, CodecMetrics.counting());
    server = factory.server(config);
    topology = new Topology(factory, server, config);
    discovery = new DnsDiscovery(topology, scheduler, clock);
    discovery.start();
    scheduler.advance(Duration.ZERO);
  }

  /** Time passes: the clock and the scheduler together. */
  private void pass(Duration d) {
    clock.advance(d);
    scheduler.advance(d);
  }

  private TargetGroup group() {
    return server.balancer().router().group("web");
  }

  /** Target ids of the group, sorted; draining ones with a trailing {@code ~}. */
  private String targets() {
    return String.join(",", group().targets().stream().map(t -> t.id() + (t.isDraining() ? "~" : "")).sorted().toList());
  }

  private String route(Jar jar) {
    RouteDecision d = server.balancer().router().route(jar, false);
    jar.apply(d.setCookies());
    assertThat(d.target()).as("a target for the client").isNotNull();
    return d.target().id();
  }

  @Test
  void aRecordsWithThePortBecomeTargetsIdentifiedByAddressAndPort() throws Exception {
    dns = Dnsmasq.start(dir, 60);
    dns.records(addresses("web.test", 11, 12));
    balancer("{ dns: web.test, type: A, port: 8080, interval: PT5S, resolvers: [ \"" + dns.address() + "\" ] }", "");

    assertThat(targets()).isEqualTo(ids(8080, 11, 12));
    Target t = group().target("127.0.0.11_8080");
    assertThat(t.uri()).hasToString("http://127.0.0.11:8080");
    assertThat(t.weight()).isEqualTo(1);
  }

  @Test
  void srvRecordsOfTheLowestPriorityTakeNewClientsByWeightAndHigherPrioritiesAreKeptAtWeightZero() throws Exception {
    dns = Dnsmasq.start(dir, 60);
    dns.records(List.of(
        Dnsmasq.host("a.test", "127.0.0.21"), Dnsmasq.host("b.test", "127.0.0.22"), Dnsmasq.host("c.test", "127.0.0.23"),
        Dnsmasq.srv("_web._tcp.svc.test", "a.test", 9001, 10, 60),
        Dnsmasq.srv("_web._tcp.svc.test", "b.test", 9002, 10, 20),
        Dnsmasq.srv("_web._tcp.svc.test", "c.test", 9003, 20, 50),
        // A target name that does not resolve is left out, not a failure.
        Dnsmasq.srv("_web._tcp.svc.test", "gone.test", 9004, 10, 5)));
    balancer("{ dns: _web._tcp.svc.test, type: SRV, resolvers: [ \"" + dns.address() + "\" ] }", "    algorithm: weighted_random\n");

    assertThat(targets()).isEqualTo("a.test_9001,b.test_9002,c.test_9003");
    assertThat(group().target("a.test_9001").weight()).isEqualTo(60);
    assertThat(group().target("a.test_9001").uri()).hasToString("http://127.0.0.21:9001");
    assertThat(group().target("b.test_9002").weight()).isEqualTo(20);
    assertThat(group().target("c.test_9003").weight()).as("a backup: no new clients").isEqualTo(0);

    Map<String, Integer> placed = new TreeMap<>();
    for (int i = 0; i < 2000; i++) {
      placed.merge(route(new Jar()), 1, Integer::sum);
    }
    assertThat(placed).doesNotContainKey("c.test_9003");
    // 60:20 is 3:1 of 2000 new clients; weighted random, so within a margin.
    assertThat(placed.get("a.test_9001")).isBetween(1380, 1620);
  }

  @Test
  void srvWeightsMapToTargetWeights() {
    assertThat(DnsQuery.weight(0, 0)).as("all 0: equal shares").isEqualTo(1);
    assertThat(DnsQuery.weight(0, 10)).as("0 beside others: the smallest share").isEqualTo(1);
    assertThat(DnsQuery.weight(10, 10)).isEqualTo(10);
    assertThat(DnsQuery.weight(65535, 65535)).as("scaled to core's 999").isEqualTo(999);
    assertThat(DnsQuery.weight(32768, 65535)).isEqualTo(500);
    assertThat(DnsQuery.targetId("fd00:0:0:0:0:0:0:1", 443)).isEqualTo("fd00-0-0-0-0-0-0-1_443");
    String longName = "a".repeat(60) + ".test";
    assertThat(DnsQuery.targetId(longName, 8080)).hasSize(64).startsWith("a".repeat(55) + "-")
        .isEqualTo(DnsQuery.targetId(longName, 8080)).isNotEqualTo(DnsQuery.targetId(longName, 8081));
  }

  /**
   * The scaling scenario: 1000 pinned clients on 3 targets; DNS scales to 6 and none of them
   * moves while new clients spread over all 6; DNS goes back to 3 and exactly the clients of the removed
   * targets move, each once, after the deregistration delay; a resolver outage changes nothing.
   */
  @Test
  void scaleUpScaleDownAndAResolverOutageMoveOnlyTheClientsOfRemovedTargets() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11, 12, 13));
    balancer("{ dns: web.test, port: 8080, interval: PT5S, timeout: PT0.2S, resolvers: [ \"" + dns.address() + "\" ] }",
        "    slowStart: PT30S\n    boundedLoad: { factor: 1.25 }\n");
    assertThat(targets()).isEqualTo(ids(8080, 11, 12, 13));
    // The first answer's targets ramp too (they joined a running balancer); let them settle.
    pass(Duration.ofSeconds(30));

    Map<Jar, String> pinned = new LinkedHashMap<>();
    for (int i = 0; i < 1000; i++) {
      Jar jar = new Jar();
      pinned.put(jar, route(jar));
    }

    // Scale up to 6.
    dns.records(addresses("web.test", 11, 12, 13, 14, 15, 16));
    pass(INTERVAL);
    assertThat(targets()).isEqualTo(ids(8080, 11, 12, 13, 14, 15, 16));
    assertThat(moved(pinned)).as("pinned clients moved by the scale-up").isZero();
    // The new targets ramp under slow start: at its start they take no new clients.
    Map<String, Integer> early = spread(pinned, 300);
    assertThat(early.keySet()).containsOnly("127.0.0.11_8080", "127.0.0.12_8080", "127.0.0.13_8080");
    pass(Duration.ofSeconds(30));
    Map<String, Integer> placed = spread(pinned, 600);
    assertThat(placed).hasSize(6);
    double mean = 600 / 6.0;
    int max = placed.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
    assertThat(max / mean).as("max/mean of new clients over 6 targets %s", placed).isLessThanOrEqualTo(1.25);
    System.out.printf("dns scale-up: 1000 pinned, 0 moved; 600 new clients over 6 targets %s, max/mean %.2f%n", placed, max / mean);
    assertThat(moved(pinned)).isZero();

    // Scale down to 3: two of the first three and one of the new ones go.
    dns.records(addresses("web.test", 11, 14, 15));
    pass(INTERVAL);
    assertThat(targets()).isEqualTo("127.0.0.11_8080,127.0.0.12_8080~,127.0.0.13_8080~,127.0.0.14_8080,127.0.0.15_8080,"
        + "127.0.0.16_8080~");
    assertThat(moved(pinned)).as("within the deregistration delay, draining targets keep their clients").isZero();
    List<String> removed = List.of("127.0.0.12_8080", "127.0.0.13_8080", "127.0.0.16_8080");
    long onRemoved = pinned.values().stream().filter(removed::contains).count();
    assertThat(onRemoved).isGreaterThan(400);

    pass(DEREGISTRATION_DELAY);
    Map<Jar, String> before = new LinkedHashMap<>(pinned);
    int movedNow = moved(pinned);
    assertThat(movedNow).as("exactly the clients of the removed targets").isEqualTo((int) onRemoved);
    pinned.forEach((jar, target) -> {
      assertThat(removed).as("where a moved client went").doesNotContain(target);
      if (!removed.contains(before.get(jar))) {
        assertThat(target).isEqualTo(before.get(jar));
      }
    });
    assertThat(moved(pinned)).as("each moved client moved once").isZero();
    System.out.printf("dns scale-down: %d clients, %d on the 3 removed targets, %d moved, then 0%n", pinned.size(), onRemoved,
        movedNow);

    // Resolver outage: the last good answer stays, nobody moves.
    String beforeOutage = targets();
    dns.stop();
    for (int i = 0; i < 12; i++) {
      pass(INTERVAL);
    }
    assertThat(targets()).as("a minute of resolver outage").isEqualTo(beforeOutage);
    assertThat(moved(pinned)).isZero();
    dns.start();
    pass(INTERVAL);
    assertThat(targets()).isEqualTo(beforeOutage);
  }

  /** Routes every client once more; returns how many went elsewhere than before (and notes where they are now). */
  private int moved(Map<Jar, String> pinned) {
    int moved = 0;
    for (Map.Entry<Jar, String> e : pinned.entrySet()) {
      String now = route(e.getKey());
      if (!now.equals(e.getValue())) {
        moved++;
        e.setValue(now);
      }
    }
    return moved;
  }

  /** Places {@code n} new clients (added to {@code pinned}); returns how many each target took. */
  private Map<String, Integer> spread(Map<Jar, String> pinned, int n) {
    Map<String, Integer> placed = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      Jar jar = new Jar();
      String target = route(jar);
      pinned.put(jar, target);
      placed.merge(target, 1, Integer::sum);
    }
    return placed;
  }

  @Test
  void anNxdomainRemovesTheTargetsOnlyAfterHoldNx() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11, 12));
    balancer("{ dns: web.test, port: 8080, interval: PT5S, resolvers: [ \"" + dns.address() + "\" ], hold: { nx: PT30S } }", "");
    assertThat(targets()).isEqualTo(ids(8080, 11, 12));

    dns.records(List.of(Dnsmasq.host("other.test", "127.0.0.99")));
    // The first NXDOMAIN is seen at the next query, 5 s on; the hold counts from there.
    for (int s = 0; s < 30; s += 5) {
      pass(INTERVAL);
      assertThat(targets()).as("%s s after the first NXDOMAIN", s).isEqualTo(ids(8080, 11, 12));
    }
    pass(INTERVAL);
    assertThat(targets()).as("30 s after the first NXDOMAIN").isEqualTo("127.0.0.11_8080~,127.0.0.12_8080~");

    // Back: the targets return (undrained, same ids).
    dns.records(addresses("web.test", 11, 12));
    pass(INTERVAL);
    assertThat(targets()).isEqualTo(ids(8080, 11, 12));
  }

  @Test
  void anEmptyAnswerThatEndsWithinHoldNxChangesNothing() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11));
    balancer("{ dns: web.test, port: 8080, interval: PT5S, resolvers: [ \"" + dns.address() + "\" ], hold: { nx: PT20S } }", "");
    // The name still exists, with an IPv6 address only: NOERROR and no A records.
    dns.records(List.of(Dnsmasq.host("web.test", "fd00::11")));
    pass(INTERVAL);
    pass(INTERVAL);
    pass(INTERVAL);
    assertThat(targets()).isEqualTo(ids(8080, 11));
    dns.records(addresses("web.test", 11));
    pass(INTERVAL);
    // The hold starts afresh: another 15 s of empty answers still keep the target.
    dns.records(List.of(Dnsmasq.host("web.test", "fd00::11")));
    pass(INTERVAL);
    pass(INTERVAL);
    pass(INTERVAL);
    assertThat(targets()).isEqualTo(ids(8080, 11));
    pass(INTERVAL);
    pass(INTERVAL);
    assertThat(targets()).isEqualTo("127.0.0.11_8080~");
  }

  @Test
  void aDeadResolverBeforeALiveOneIsPassedOver() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11, 12));
    int dead = Dnsmasq.freePort();
    balancer("{ dns: web.test, port: 8080, timeout: PT0.2S, resolvers: [ \"127.0.0.1:" + dead + "\", \"" + dns.address() + "\" ] }", "");
    assertThat(targets()).isEqualTo(ids(8080, 11, 12));
  }

  @Test
  void theTimeoutBoundsTheWaitForEachResolver() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11));
    // A resolver that takes the query and never answers, before a live one.
    try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      long start = System.nanoTime();
      balancer("{ dns: web.test, port: 8080, timeout: PT0.3S, resolvers: [ \"127.0.0.1:" + silent.getLocalPort() + "\", \""
          + dns.address() + "\" ] }", "");
      long tookMillis = (System.nanoTime() - start) / 1_000_000;
      assertThat(targets()).isEqualTo(ids(8080, 11));
      silent.setSoTimeout(1);
      silent.receive(new DatagramPacket(new byte[512], 512));  // it was asked first
      assertThat(tookMillis).as("the silent resolver was given 0.3 s, not the default 2 s").isBetween(300L, 1900L);
    }
  }

  @Test
  void aTtlShorterThanTheIntervalAsksSooner() throws Exception {
    dns = Dnsmasq.start(dir, 2);
    dns.records(addresses("web.test", 11));
    balancer("{ dns: web.test, port: 8080, interval: PT30S, resolvers: [ \"" + dns.address() + "\" ] }", "");
    dns.records(addresses("web.test", 11, 12));
    pass(Duration.ofMillis(1900));
    assertThat(targets()).isEqualTo(ids(8080, 11));
    pass(Duration.ofMillis(100));
    assertThat(targets()).as("asked again after the 2 s TTL, not the 30 s interval").isEqualTo(ids(8080, 11, 12));
  }

  @Test
  void anIntervalShorterThanTheTtlAsksAtTheInterval() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(addresses("web.test", 11));
    balancer("{ dns: web.test, port: 8080, interval: PT7S, resolvers: [ \"" + dns.address() + "\" ] }", "");
    dns.records(addresses("web.test", 11, 12));
    pass(Duration.ofMillis(6900));
    assertThat(targets()).isEqualTo(ids(8080, 11));
    pass(Duration.ofMillis(100));
    assertThat(targets()).isEqualTo(ids(8080, 11, 12));
  }

  @Test
  void aReloadThatChangesOrRemovesDiscoveryIsFollowed() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(List.of(Dnsmasq.host("web.test", "127.0.0.11"), Dnsmasq.host("api.test", "127.0.0.31"),
        Dnsmasq.host("api.test", "127.0.0.32")));
    balancer("{ dns: web.test, port: 8080, resolvers: [ \"" + dns.address() + "\" ], hold: { nx: PT10S } }", "");
    assertThat(targets()).isEqualTo(ids(8080, 11));

    // Another name: asked at once; the old name's target drains.
    reload(yaml.replace("dns: web.test", "dns: api.test"));
    assertThat(targets()).isEqualTo("127.0.0.11_8080~," + ids(8080, 31, 32));

    // Only the hold changes while the name answers NXDOMAIN: the hold keeps its start.
    dns.records(List.of(Dnsmasq.host("web.test", "127.0.0.11")));
    pass(INTERVAL); // the first NXDOMAIN
    pass(INTERVAL);
    reload(yaml.replace("dns: web.test", "dns: api.test").replace("nx: PT10S", "nx: PT12S"));
    pass(INTERVAL);
    assertThat(targets()).as("10 s after the first NXDOMAIN").contains(ids(8080, 31, 32));
    pass(Duration.ofSeconds(2));
    assertThat(targets()).as("12 s after the first NXDOMAIN, across the reload").isEqualTo("127.0.0.11_8080~,127.0.0.31_8080~,"
        + "127.0.0.32_8080~");

    // Discovery removed: no more queries; the group keeps what the YAML gives it.
    dns.records(List.of(Dnsmasq.host("api.test", "127.0.0.33")));
    reload(yaml.replace("    discovery: ", "    targets: [ { id: fixed-1, uri: \"http://127.0.0.1:9001\" } ]\n    # was: "));
    pass(INTERVAL);
    assertThat(discovery.discovering()).isEmpty();
    assertThat(group().target("127.0.0.33_8080")).isNull();
    assertThat(group().target("fixed-1")).isNotNull();
  }

  private void reload(String next) {
    topology.apply(BalancerConfigLoader.parse(next, "dns.yaml"), server.balancer().router().cookies());
    scheduler.advance(Duration.ZERO);
  }

  @Test
  void aaaaRecordsAndTheHttpsScheme() throws Exception {
    dns = Dnsmasq.start(dir, 3600);
    dns.records(List.of(Dnsmasq.host("web.test", "fd00::1")));
    balancer("{ dns: web.test, type: AAAA, port: 8443, scheme: https, resolvers: [ \"" + dns.address() + "\" ] }", "");
    assertThat(targets()).isEqualTo("fd00-0-0-0-0-0-0-1_8443");
    assertThat(group().target("fd00-0-0-0-0-0-0-1_8443").uri()).hasToString("https://[fd00:0:0:0:0:0:0:1]:8443");
  }
}
