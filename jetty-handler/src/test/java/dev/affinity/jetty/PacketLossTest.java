package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/**
 * 5 % packet loss each way between the balancer (this JVM, in the root network namespace) and a
 * target ({@link PacketLossTarget}, a JVM started with {@code ip netns exec} in a namespace of its
 * own), over a veth pair the test creates as root with a unique name, and removes afterwards even
 * when the test fails. The loss is {@code tc qdisc … netem loss 5%} on each end; where the kernel has
 * no netem (a minimal VM kernel: "Specified qdisc kind is unknown"), it is iptables' {@code statistic}
 * match dropping 5 % of the packets each end receives from the veth. Every request must succeed
 * (TCP retransmits), within the timeouts; p50, p99 and the total time are reported. Skipped, naming
 * what failed, when not root or when {@code ip}, {@code ip netns add}, or both loss mechanisms refuse.
 */
class PacketLossTest extends BalancerTestBase {
  private static final double LOSS = 0.05;
  private static final int REQUESTS = 150;
  private static final int BODY_BYTES = 32 * 1024;
  private static final Duration UPSTREAM_TIMEOUT = Duration.ofSeconds(10);

  private static String namespace;
  private static String hostSide;
  private static String nsSide;
  private static String targetAddress;
  private static String lossBy;
  private static String rootDropRule;
  private static Process target;

  /** Runs a command; returns its exit status and output (stdout and stderr together). */
  private static Object[] run(String... command) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException notThere) {
      // No such program here: an answer the callers turn into a skip naming it.
      return new Object[] {-1, notThere.getMessage()};
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Object[] {-1, "timed out"};
    }
    return new Object[] {p.exitValue(), out};
  }

  /** Runs a command that must succeed, or skips the test naming it (setup) / fails it. */
  private static String must(boolean skipOnFailure, String... command) throws IOException, InterruptedException {
    Object[] r = run(command);
    String what = String.join(" ", command) + " failed (" + r[0] + "): " + r[1];
    if (skipOnFailure) {
      Assumptions.assumeTrue((int) r[0] == 0, what);
    } else {
      assertThat((int) r[0]).as(what).isZero();
    }
    return (String) r[1];
  }

  private static String[] inNamespace(String... command) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    all.addAll(List.of(command));
    return all.toArray(String[]::new);
  }

  @BeforeAll
  static void namespaceWithLoss() throws Exception {
    Object[] id = run("id", "-u");
    Assumptions.assumeTrue((int) id[0] == 0 && "0".equals(id[1]), "PacketLossTest needs root (network namespaces, veth, tc); id -u said " + id[1]);
    Assumptions.assumeTrue((int) run("ip", "-V")[0] == 0, "PacketLossTest needs iproute2's ip (the .ci/run package iproute2)");
    int n = ThreadLocalRandom.current().nextInt(1, 250);
    String suffix = Long.toString(ProcessHandle.current().pid() % 10_000) + n;
    namespace = "afpl" + suffix;
    hostSide = "afh" + suffix;
    nsSide = "afn" + suffix;
    String net = "10.251." + n + ".";
    targetAddress = net + "2";
    must(true, "ip", "netns", "add", namespace);
    try {
      must(true, "ip", "link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
      must(true, "ip", "link", "set", nsSide, "netns", namespace);
      must(true, "ip", "addr", "add", net + "1/30", "dev", hostSide);
      must(true, "ip", "link", "set", hostSide, "up");
      must(true, inNamespace("ip", "addr", "add", targetAddress + "/30", "dev", nsSide));
      must(true, inNamespace("ip", "link", "set", nsSide, "up"));
      must(true, inNamespace("ip", "link", "set", "lo", "up"));
      String percent = (int) (LOSS * 100) + "%";
      Object[] netem = run("tc", "qdisc", "add", "dev", hostSide, "root", "netem", "loss", percent);
      if ((int) netem[0] == 0) {
        must(true, inNamespace("tc", "qdisc", "add", "dev", nsSide, "root", "netem", "loss", percent));
        lossBy = "tc netem loss " + percent + " on both ends of the veth";
      } else {
        String probability = Double.toString(LOSS);
        Object[] inNs = run(inNamespace("iptables", "-A", "INPUT", "-i", nsSide, "-m", "statistic", "--mode", "random",
            "--probability", probability, "-j", "DROP"));
        Assumptions.assumeTrue((int) inNs[0] == 0, "no way to lose packets here: tc netem said \"" + netem[1]
            + "\" and iptables' statistic match said \"" + inNs[1] + "\"");
        rootDropRule = String.join(" ", "-i", hostSide, "-m", "statistic", "--mode", "random", "--probability", probability, "-j", "DROP");
        must(true, iptables("-A"));
        lossBy = "iptables statistic --probability " + probability + " DROP on what each end receives (tc netem: " + netem[1] + ")";
      }
      startTarget();
    } catch (Throwable t) {
      removeNamespace();
      throw t;
    }
  }

  private static String[] iptables(String action) {
    List<String> all = new ArrayList<>(List.of("iptables", action, "INPUT"));
    all.addAll(List.of(rootDropRule.split(" ")));
    return all.toArray(String[]::new);
  }

  private static void startTarget() throws Exception {
    Path classes = Path.of(PacketLossTarget.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String javaBinary = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    target = new ProcessBuilder(inNamespace(javaBinary, "-Xmx64m", "-cp", classes.toString(), PacketLossTarget.class.getName(),
        targetAddress, "8080")).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(target.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    assertThat(line).as("the target in namespace %s started", namespace).isEqualTo("listening");
    Thread drain = new Thread(() -> {
      try {
        out.transferTo(java.io.Writer.nullWriter());
      } catch (IOException gone) {
        // the target ended
      }
    }, "packet-loss-target-output");
    drain.setDaemon(true);
    drain.start();
  }

  @AfterAll
  static void removeNamespace() throws Exception {
    if (target != null) {
      target.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      target = null;
    }
    if (rootDropRule != null) {
      run(iptables("-D"));
      rootDropRule = null;
    }
    if (namespace != null) {
      // Deleting the namespace deletes its end of the veth, and with it the other end.
      run("ip", "netns", "del", namespace);
      run("ip", "link", "del", hostSide);
      assertThat(Files.exists(Path.of("/run/netns", namespace))).as("namespace %s removed", namespace).isFalse();
      namespace = null;
    }
  }

  /** Packets dropped so far by the loss mechanism, both ends. */
  private static long dropped() throws Exception {
    long sum = 0;
    Pattern number = lossBy.startsWith("tc") ? Pattern.compile("dropped (\\d+)") : Pattern.compile("^\\s*(\\d+)\\s+\\d+\\s+DROP", Pattern.MULTILINE);
    List<String> outputs = lossBy.startsWith("tc")
        ? List.of(must(false, "tc", "-s", "qdisc", "show", "dev", hostSide), must(false, inNamespace("tc", "-s", "qdisc", "show", "dev", nsSide)))
        : List.of(must(false, "iptables", "-L", "INPUT", "-v", "-x", "-n"), must(false, inNamespace("iptables", "-L", "INPUT", "-v", "-x", "-n")));
    for (String out : outputs) {
      Matcher m = number.matcher(out);
      while (m.find()) {
        sum += Long.parseLong(m.group(1));
      }
    }
    return sum;
  }

  /** Packets the two ends of the veth received so far (counted before any drop). */
  private static long received() throws Exception {
    return Long.parseLong(must(false, "cat", "/sys/class/net/" + hostSide + "/statistics/rx_packets"))
        + Long.parseLong(must(false, inNamespace("cat", "/sys/class/net/" + nsSide + "/statistics/rx_packets")));
  }

  @OverBothPaths
  void everyRequestSucceedsThroughFivePercentLossWithinTheTimeouts(TargetPath path) throws Exception {
    startBalancer(path, b -> {
      b.setUpstreamTimeout(UPSTREAM_TIMEOUT);
      // A lost SYN is sent again after 1 s, a second loss after 3 s: the default 2 s would call that refused.
      b.setConnectTimeout(Duration.ofSeconds(7));
    }, Map.of("t", URI.create("http://" + targetAddress + ":8080")));
    long droppedBefore = dropped();
    long receivedBefore = received();
    List<Long> millis = Collections.synchronizedList(new ArrayList<>());
    long start = System.nanoTime();
    for (int i = 0; i < REQUESTS; i++) {
      long one = System.nanoTime();
      ContentResponse r;
      if (path == TargetPath.HTTP_CLIENT && i % 10 == 9) {
        // A POST with a body now and then (bodies always take the HttpClient path).
        r = http.newRequest(balancer.uri().resolve("/upload")).method(HttpMethod.POST)
            .body(new BytesRequestContent(new byte[BODY_BYTES / 2])).timeout(30, TimeUnit.SECONDS).send();
        assertThat(r.getContentAsString()).isEqualTo("received " + BODY_BYTES / 2);
      } else {
        r = http.newRequest(balancer.uri().resolve("/data?bytes=" + BODY_BYTES)).timeout(30, TimeUnit.SECONDS).send();
        assertThat(r.getContent()).hasSize(BODY_BYTES);
      }
      assertThat(r.getStatus()).as("request %d", i).isEqualTo(200);
      millis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - one));
    }
    long total = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    long droppedNow = dropped() - droppedBefore;
    long receivedNow = received() - receivedBefore;
    List<Long> sorted = new ArrayList<>(millis);
    Collections.sort(sorted);
    long p50 = sorted.get(sorted.size() / 2);
    long p99 = sorted.get((int) Math.ceil(sorted.size() * 0.99) - 1);
    long max = sorted.get(sorted.size() - 1);
    System.out.printf("packet loss (%s, %s): %d requests all 200 in %d ms; p50 %d ms, p99 %d ms, max %d ms; %d of %d packets dropped"
            + " (%.1f %%); load average %.1f%n", path, lossBy, REQUESTS, total, p50, p99, max, droppedNow, receivedNow,
        100.0 * droppedNow / Math.max(1, receivedNow),
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    assertThat(droppedNow).as("the loss was real: packets were dropped").isPositive();
    assertThat(max).as("nothing waited past the upstream timeout").isLessThan(UPSTREAM_TIMEOUT.toMillis());
    assertThat(balancer.balancer().gatewayTimeoutResponses() + balancer.balancer().badGatewayResponses()
        + balancer.balancer().noTargetResponses()).isZero();
    path.assertTaken(balancer.balancer());
  }
}
