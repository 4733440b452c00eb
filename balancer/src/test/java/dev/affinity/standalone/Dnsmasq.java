package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A real DNS server for tests: dnsmasq on a free loopback port, answering only from the records the
 * test gives it (names under {@code .test}, anything else under it NXDOMAIN). {@link #records} rewrites
 * its file and restarts it on the same port (dnsmasq does not re-read {@code srv-host} on SIGHUP);
 * {@link #stop} makes the resolver go dark, {@link #start} brings it back.
 */
final class Dnsmasq implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final int ttlSeconds;
  private List<String> lines = List.of();
  private Process process;

  private Dnsmasq(Path dir, int port, int ttlSeconds) {
    this.dir = dir;
    this.port = port;
    this.ttlSeconds = ttlSeconds;
  }

  /** Started with no records; every record it serves has {@code ttlSeconds}. */
  static Dnsmasq start(Path dir, int ttlSeconds) throws Exception {
    Dnsmasq dns = new Dnsmasq(requireNonNull(dir, "dir"), freePort(), ttlSeconds);
    dns.start();
    return dns;
  }

  int port() {
    return port;
  }

  /** {@code 127.0.0.1:port}, as {@code resolvers:} takes it. */
  String address() {
    return "127.0.0.1:" + port;
  }

  /** An A (or AAAA) record. */
  static String host(String name, String address) {
    return "host-record=" + name + "," + address;
  }

  /** An SRV record. */
  static String srv(String name, String target, int port, int priority, int weight) {
    return "srv-host=" + name + "," + target + "," + port + "," + priority + "," + weight;
  }

  /** From now on it serves exactly {@code records} (from {@link #host} and {@link #srv}). */
  synchronized void records(List<String> records) throws Exception {
    lines = List.copyOf(records);
    if (process != null) {
      stop();
      start();
    }
  }

  synchronized void start() throws Exception {
    if (process != null) {
      return;
    }
    Path conf = dir.resolve("dnsmasq-" + port + ".conf");
    Files.write(conf, lines);
    List<String> command = new ArrayList<>(List.of("dnsmasq", "--keep-in-foreground", "--port=" + port,
        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=",
        "--local=/test/", "--local-ttl=" + ttlSeconds, "--log-facility=-", "--conf-file=" + conf));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("dnsmasq-" + port + ".log").toFile()));
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException("dnsmasq is needed by this test (Debian package dnsmasq-base; .ci/run installs it)", e);
    }
    awaitAnswering();
  }

  /** Stops the server: queries to its port go unanswered. */
  synchronized void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    process = null;
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }

  /** Awaits (a real event, bounded) the moment the server answers a query. */
  private void awaitAnswering() throws Exception {
    SimpleResolver resolver = new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    resolver.setTimeout(Duration.ofMillis(100));
    Record question = Record.newRecord(Name.fromString("ready.test."), Type.A, DClass.IN);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    IOException last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("dnsmasq exited with " + process.exitValue() + "; see " + dir.resolve("dnsmasq-" + port + ".log")
            + ":\n" + Files.readString(dir.resolve("dnsmasq-" + port + ".log")));
      }
      try {
        Message answer = resolver.send(Message.newQuery(question));
        if (answer.getRcode() == Rcode.NXDOMAIN || answer.getRcode() == Rcode.NOERROR) {
          return;
        }
      } catch (IOException e) {
        last = e;
      }
    }
    throw new IllegalStateException("dnsmasq did not answer on port " + port + " within 10 s", last);
  }

  /** A port free for both UDP and TCP on loopback (dnsmasq takes both). */
  static int freePort() throws IOException {
    for (int i = 0; i < 50; i++) {
      try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
        int port = udp.getLocalPort();
        try (ServerSocket tcp = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
          return port;
        } catch (IOException taken) {
          // Try another.
        }
      }
    }
    throw new IOException("no port free for both UDP and TCP on loopback");
  }
}
