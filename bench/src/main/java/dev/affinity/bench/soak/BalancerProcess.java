package dev.affinity.bench.soak;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The real balancer in a child JVM (the launcher jar, or its main class on a class path), with a GC log,
 * watched from outside through {@code /proc} and {@code jcmd} so that watching does not change what
 * runs inside it.
 */
final class BalancerProcess implements AutoCloseable {
  static final String ADMIN_PATH = "/affinity";
  private static final Pattern HEAP_USED = Pattern.compile("heap\\s+total\\s+\\d+K,\\s+used\\s+(\\d+)K");

  private final Process process;
  private final URI uri;
  private final Path log;

  private BalancerProcess(Process process, URI uri, Path log) {
    this.process = process;
    this.uri = uri;
    this.log = log;
  }

  /**
   * Writes the YAML file and the logs into {@code dir} and starts the balancer.
   *
   * @param launch how to start the launcher after {@code java} and the JVM options: {@code -jar JAR}, or
   *     {@code -cp CLASSPATH dev.affinity.standalone.BalancerLauncher}
   */
  static BalancerProcess start(Path dir, List<String> launch, List<String> jvmOptions, List<URI> targets,
      Settings settings) throws IOException {
    requireNonNull(dir, "dir");
    requireNonNull(launch, "launch");
    int port = freePort();
    Path yaml = dir.resolve("balancer.yaml");
    Files.writeString(yaml, yaml(port, targets, settings), StandardCharsets.UTF_8);
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-Xlog:gc:file=" + dir.resolve("gc.log") + ":uptime,level,tags");
    command.addAll(launch);
    command.add(yaml.toString());
    Path log = dir.resolve("balancer.log");
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new BalancerProcess(p, URI.create("http://127.0.0.1:" + port), log);
  }

  /** The file the soak runs the balancer with: health checks and passive health on, tight head timeout. */
  static String yaml(int port, List<URI> targets, Settings s) {
    StringBuilder y = new StringBuilder();
    y.append("listen: { host: 127.0.0.1, port: ").append(port).append(" }\n");
    y.append("keys:\n  - { id: soak1, secret: \"c29hay1rZXktMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0=\" }\n");
    y.append("targetGroups:\n  - name: soak\n");
    y.append("    stickiness: { type: duration, duration: PT1H }\n");
    y.append("    healthCheck: { path: /health, interval: PT1S, timeout: PT0.5S, healthyThreshold: 2, unhealthyThreshold: 2 }\n");
    y.append("    passiveHealth: { consecutive5xx: 5, consecutiveTimeouts: 3, ejectFor: ").append(s.ejectFor())
        .append(", maxEjectFor: PT60S, maxEjectedPercent: 50 }\n");
    y.append("    targets:\n");
    for (int i = 0; i < targets.size(); i++) {
      y.append("      - { id: t").append(i + 1).append(", uri: \"").append(targets.get(i)).append("\" }\n");
    }
    y.append("admin: { path: ").append(ADMIN_PATH).append(" }\n");
    y.append("websocket: { idleTimeout: PT60S }\n");
    y.append("upstream: { timeout: PT10S, connectTimeout: PT1S }\n");
    y.append("limits: { idleTimeout: PT30S, requestHeaderTimeout: ").append(s.headTimeout())
        .append(", maxRequestHeaderBytes: 32768, threads: 64 }\n");
    y.append("shutdown: { grace: PT5S }\n");
    return y.toString();
  }

  URI uri() {
    return uri;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  Path log() {
    return log;
  }

  /** Threads, open descriptors, resident memory and CPU ticks (user + system) from {@code /proc}. */
  ProcSample sample() {
    long pid = pid();
    try {
      long threads = -1;
      long rssKb = -1;
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("Threads:")) {
          threads = Long.parseLong(line.substring(8).trim());
        } else if (line.startsWith("VmRSS:")) {
          rssKb = Long.parseLong(line.substring(6).replace("kB", "").trim());
        }
      }
      long fds;
      try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
        fds = s.count();
      }
      return new ProcSample(threads, fds, rssKb, cpuTicks(pid));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read /proc/" + pid + " (did the balancer exit?)", e);
    }
  }

  /** utime + stime of a process, in clock ticks. */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  /**
   * Forces a full GC ({@code jcmd PID GC.run}, which is {@code System.gc()}: a full collection under
   * G1) and returns the heap in use right after it, in KB ({@code GC.heap_info}), in one jcmd call.
   */
  long heapAfterFullGcKb(Path dir) throws IOException, InterruptedException {
    Path commands = dir.resolve("jcmd-commands.txt");
    Files.writeString(commands, "GC.run\nGC.heap_info\n");
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid()), "-f", commands.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("jcmd " + pid() + " failed: " + out.strip());
    }
    Matcher m = HEAP_USED.matcher(out);
    if (!m.find()) {
      throw new IOException("jcmd GC.heap_info: no \"heap total …K, used …K\" in: " + out.strip());
    }
    return Long.parseLong(m.group(1));
  }

  /** Sends SIGTERM and waits for the graceful stop; kills the JVM if it does not end in time. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  int exitCode() {
    return process.exitValue();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  record ProcSample(long threads, long fds, long rssKb, long cpuTicks) {
  }

  /** What the balancer's file depends on in a run. */
  record Settings(Duration ejectFor, Duration headTimeout) {
    Settings {
      requireNonNull(ejectFor, "ejectFor");
      requireNonNull(headTimeout, "headTimeout");
    }
  }
}
