package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.TargetGroup;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import dev.affinity.jetty.UserAgent;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher runs DNS discovery for a group with {@code discovery:}: real backends found through SRV
 * records of a real dnsmasq, requests over real sockets. Time here is real (the launcher's own DNS
 * thread); the test awaits each change with a bound. Scaling with exact counts and manual time is
 * {@link DnsDiscoveryTest}'s.
 */
class DnsLauncherTest {
  private static final String SERVICE = "_web._tcp.shop.test";

  @TempDir
  Path dir;
  private Backends backends;
  private Dnsmasq dns;
  private HttpClient http;
  private BalancerLauncher.Running running;

  @BeforeEach
  void setUp() throws Exception {
    backends = Backends.start("web-1", "web-2", "web-3");
    dns = Dnsmasq.start(dir, 1);
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (running != null) {
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

  private TargetGroup group() {
    return running.server().balancer().router().group("web");
  }

  /** Awaits (bounded, a real event: the launcher's next DNS query) the group's live targets becoming {@code count}. */
  private void awaitTargets(int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (group().targets().stream().filter(t -> !t.isDraining()).count() != count) {
      assertThat(System.nanoTime()).as("%s live targets within 15 s, got %s", count, group().targets()).isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  @Test
  void aGroupFedBySrvRecordsFollowsTheDnsServer() throws Exception {
    dns.records(records("web-1", "web-2"));
    Path file = Files.writeString(dir.resolve("balancer.yaml"), "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { path: /health, interval: PT1M, timeout: PT2S }\n"
        + "    discovery: { dns: " + SERVICE + ", type: SRV, interval: PT1S, timeout: PT0.5S, resolvers: [ \"" + dns.address() + "\" ] }\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), new ManualScheduler());
    assertThat(running.exitCode()).as(out.toString(StandardCharsets.UTF_8)).isZero();
    awaitTargets(2);
    assertThat(group().target("web-1.test_" + backends.uri("web-1").getPort())).isNotNull();

    List<UserAgent> clients = new ArrayList<>();
    List<String> pinned = new ArrayList<>();
    Set<String> reached = new TreeSet<>();
    for (int i = 0; i < 10; i++) {
      UserAgent client = new UserAgent(http, running.server().uri());
      String backend = client.get("/").getContentAsString();
      clients.add(client);
      pinned.add(backend);
      reached.add(backend);
    }
    assertThat(reached).containsExactly("web-1", "web-2");

    // Scale up: web-3 appears in DNS; nobody moves, new clients reach it.
    dns.records(records("web-1", "web-2", "web-3"));
    awaitTargets(3);
    for (int i = 0; i < clients.size(); i++) {
      assertThat(clients.get(i).get("/").getContentAsString()).as("client %s after the scale-up", i).isEqualTo(pinned.get(i));
    }
    Set<String> newClients = new TreeSet<>();
    for (int i = 0; i < 6; i++) {
      newClients.add(new UserAgent(http, running.server().uri()).get("/").getContentAsString());
    }
    assertThat(newClients).contains("web-3");

    // Resolver outage: a socket on the resolver's port takes the queries and never answers. After three
    // unanswered queries the targets are all still there and keep serving their clients.
    dns.stop();
    try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), dns.port()))) {
      silent.setSoTimeout(15_000);
      for (int i = 0; i < 3; i++) {
        silent.receive(new DatagramPacket(new byte[512], 512));
      }
    }
    assertThat(group().targets()).hasSize(3).noneMatch(t -> t.isDraining());
    for (int i = 0; i < clients.size(); i++) {
      assertThat(clients.get(i).get("/").getContentAsString()).as("client %s after the outage", i).isEqualTo(pinned.get(i));
    }
  }
}
