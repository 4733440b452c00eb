package dev.affinity.jetty;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (Debian's {@code haproxy}, which .ci/run installs) run by a test with a generated
 * configuration on loopback ports, in the foreground, stopped with the test.
 */
final class Haproxy implements AutoCloseable {
  static final Path BINARY = Path.of(System.getProperty("affinity.haproxy", "/usr/sbin/haproxy"));
  static final Path OPENSSL = Path.of("/usr/bin/openssl");

  private final Process process;
  private final Path log;

  private Haproxy(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static boolean installed() {
    return Files.isExecutable(BINARY);
  }

  /** Starts HAProxy on {@code config} and returns once every one of {@code listening} accepts connections. */
  static Haproxy start(Path dir, String config, List<InetSocketAddress> listening) throws Exception {
    Path file = dir.resolve("haproxy.cfg");
    Files.writeString(file, config);
    Path log = dir.resolve("haproxy.log");
    Process process = new ProcessBuilder(BINARY.toString(), "-db", "-f", file.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    Haproxy haproxy = new Haproxy(process, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (InetSocketAddress address : listening) {
      while (!accepts(address)) {
        if (!process.isAlive()) {
          throw new IllegalStateException("haproxy exited: " + haproxy.log() + "\nconfiguration:\n" + config);
        }
        if (System.nanoTime() > deadline) {
          haproxy.close();
          throw new IllegalStateException("haproxy did not listen on " + address + " within 10 s: " + haproxy.log());
        }
        Thread.onSpinWait();
      }
    }
    return haproxy;
  }

  private static boolean accepts(InetSocketAddress address) {
    try (Socket s = new Socket()) {
      s.connect(address, 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** An IPv4 address of this machine that is not loopback (a "remote" client's source), or {@code null}. */
  static InetAddress nonLoopbackAddress() throws IOException {
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!nic.isUp() || nic.isLoopback()) {
        continue;
      }
      for (InetAddress a : Collections.list(nic.getInetAddresses())) {
        if (a instanceof java.net.Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          return a;
        }
      }
    }
    return null;
  }

  /** A self-signed certificate and its key in one PEM file, as HAProxy's {@code crt} takes them. */
  static Path selfSignedPem(Path dir) throws Exception {
    Path key = dir.resolve("site.key");
    Path crt = dir.resolve("site.crt");
    Process openssl = new ProcessBuilder(OPENSSL.toString(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", key.toString(), "-out", crt.toString(), "-days", "2", "-subj", "/CN=localhost")
        .redirectErrorStream(true).redirectOutput(dir.resolve("openssl.log").toFile()).start();
    if (!openssl.waitFor(30, TimeUnit.SECONDS) || openssl.exitValue() != 0) {
      throw new IllegalStateException("openssl failed: " + Files.readString(dir.resolve("openssl.log")));
    }
    Path pem = dir.resolve("site.pem");
    Files.writeString(pem, Files.readString(crt) + Files.readString(key));
    return pem;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
