package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A balancer JVM as systemd would run it: {@code java -cp <the test class path> BalancerLauncher ARGS}, its
 * output (stdout and stderr) collected; {@link #start} returns once it prints "balancing on".
 */
final class LauncherProcess implements AutoCloseable {
  static final long WAIT_SECONDS = 30;
  private static final Pattern BALANCING_ON = Pattern.compile("balancing on http://127\\.0\\.0\\.1:(\\d+)");

  final Process process;
  final StringBuffer output;
  private final Thread reader;
  final int port;

  private LauncherProcess(Process process, StringBuffer output, Thread reader, int port) {
    this.process = process;
    this.output = output;
    this.reader = reader;
    this.port = port;
  }

  static LauncherProcess start(Path file) throws Exception {
    return start(file.toString());
  }

  /** Starts the launcher with {@code args} and waits (bounded) for it to serve. */
  static LauncherProcess start(String... args) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // C1 only and the serial collector: a JVM that starts in seconds on two cores shared with other builds (the
    // balancer's throughput is not what these tests measure).
    List<String> command = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), BalancerLauncher.class.getName()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    StringBuffer output = new StringBuffer();
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (var lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = lines.readLine()) != null; ) {
          output.append(line).append('\n');
          Matcher m = BALANCING_ON.matcher(line);
          if (m.find()) {
            port.complete(Integer.parseInt(m.group(1)));
          }
        }
      } catch (IOException e) {
        // the process is gone
      }
      port.completeExceptionally(new IllegalStateException("the balancer exited before listening:\n" + output));
    }, "balancer-output");
    reader.setDaemon(true);
    reader.start();
    return new LauncherProcess(process, output, reader, port.get(WAIT_SECONDS, TimeUnit.SECONDS));
  }

  long pid() {
    return process.pid();
  }

  void signal(String name) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
    assertThat(kill.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(kill.exitValue()).isZero();
  }

  /** Waits for the exit, and for the last of its output. */
  int exitStatus() throws Exception {
    assertThat(process.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).as("the balancer exited; output:%n%s", output).isTrue();
    reader.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    return process.exitValue();
  }

  @Override
  public void close() throws Exception {
    if (process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(WAIT_SECONDS, TimeUnit.SECONDS);
    }
  }
}
