package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's {@code --takeover} and {@code --pid-file} in process: what each argument accepts and refuses,
 * the port check that keeps a second balancer from sharing a port by mistake, the pid file's life, the
 * {@code tcp_migrate_req} warning and the successor's command line ({@code SIGTTIN}). {@link TakeoverTest}
 * runs the takeover itself between two balancer JVMs.
 */
class TakeoverLauncherTest {
  @TempDir
  Path dir;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private BalancerLauncher.Running running;

  @AfterEach
  void tearDown() throws Exception {
    if (running != null) {
      running.close();
    }
  }

  private Path yaml(int port) throws Exception {
    return Files.writeString(dir.resolve("balancer.yaml"), "listen: { host: 127.0.0.1, port: " + port + " }\n"
        + "keys: [ { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" } ]\n"
        + "targetGroups: [ { name: web, healthCheck: { enabled: false }, targets: [ { id: t1, uri: \"http://127.0.0.1:9\" } ] } ]\n");
  }

  private BalancerLauncher.Running launch(String... args) throws Exception {
    running = BalancerLauncher.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        new ManualScheduler());
    return running;
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aPortAnotherProcessListensOnIsRefusedWithoutTakeover() throws Exception {
    try (ServerSocket other = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Path file = yaml(other.getLocalPort());
      assertThat(launch(file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_START);
      assertThat(err()).contains("cannot listen on 127.0.0.1:" + other.getLocalPort() + ": another process listens there")
          .contains("--takeover");
    }
  }

  @Test
  void theListenersAndTheAdminPortShareTheirPortsSoThatASuccessorCanBindThem() throws Exception {
    int port = freePort();
    int adminPort = freePort();
    Path file = Files.writeString(yaml(port), "admin: { port: " + adminPort + " }\n", java.nio.file.StandardOpenOption.APPEND);
    launch(file.toString());
    assertThat(running.exitCode()).as(err()).isZero();
    assertThat(running.server().reusePort()).isTrue();
    for (int p : new int[] {port, adminPort}) {
      assertThat(Takeover.inUse(new InetSocketAddress("127.0.0.1", p))).as("a plain bind still sees port %s taken", p).isTrue();
      // What a successor's listener does: bind beside it with SO_REUSEPORT.
      try (var successor = java.nio.channels.ServerSocketChannel.open()) {
        successor.setOption(java.net.StandardSocketOptions.SO_REUSEPORT, true);
        successor.bind(new InetSocketAddress("127.0.0.1", p));
      }
    }
    running.close();
    running = null;

    // A busy admin port is refused like a busy listener.
    try (ServerSocket other = new ServerSocket(adminPort, 50, InetAddress.getLoopbackAddress())) {
      assertThat(launch(file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_START);
      assertThat(err()).contains("cannot listen on 127.0.0.1:" + adminPort + ": another process listens there");
    }
  }

  private static int freePort() throws java.io.IOException {
    try (ServerSocket free = new ServerSocket(0)) {
      return free.getLocalPort();
    }
  }

  @Test
  void aPidFileNamesTheProcessWhileItServesAndGoesWithIt() throws Exception {
    Path pidFile = dir.resolve("run/balancer.pid");
    Files.createDirectories(pidFile.getParent());
    launch("--pid-file", pidFile.toString(), yaml(0).toString());
    assertThat(running.exitCode()).as(err()).isZero();
    assertThat(Files.readString(pidFile)).isEqualTo(ProcessHandle.current().pid() + "\n");
    running.close();
    running = null;
    assertThat(pidFile).doesNotExist();

    // A successor's pid is left alone.
    launch("--pid-file", pidFile.toString(), yaml(0).toString());
    Files.writeString(pidFile, "4242\n");
    running.close();
    running = null;
    assertThat(Files.readString(pidFile)).isEqualTo("4242\n");
  }

  @Test
  void anUnwritablePidFileStopsTheStart() throws Exception {
    Path pidFile = dir.resolve("missing-directory/balancer.pid");
    assertThat(launch("--pid-file", pidFile.toString(), yaml(0).toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_START);
    assertThat(err()).contains("--pid-file " + pidFile + ": cannot write it");
    running = null;
  }

  @Test
  void nothingToTakeOverStartsAsUsual() throws Exception {
    Path pidFile = dir.resolve("balancer.pid");
    launch("--takeover", pidFile.toString(), yaml(0).toString());
    assertThat(running.exitCode()).as(err()).isZero();
    assertThat(out()).contains("--takeover " + pidFile + ": no balancer runs there; starting as usual").contains("balancing on");
    assertThat(running.server().isAccepting()).isTrue();
  }

  @Test
  void takeoverArgumentsThatNameNoBalancerAreRefused() throws Exception {
    Path file = yaml(0);
    Path garbage = Files.writeString(dir.resolve("garbage.pid"), "twelve\n");
    assertThat(launch("--takeover", garbage.toString(), file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_USAGE);
    assertThat(err()).contains("the pid file holds \"twelve\", not a process id");

    assertThat(launch("--takeover", Long.toString(ProcessHandle.current().pid()), file.toString()).exitCode())
        .isEqualTo(BalancerLauncher.EXIT_USAGE);
    assertThat(err()).contains("names this very process");

    // A live process that is not a JVM: a stale pid file naming a recycled id is never signalled.
    Process sleep = new ProcessBuilder("sleep", "30").start();
    try {
      assertThat(launch("--takeover", Long.toString(sleep.pid()), file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_USAGE);
      assertThat(err()).contains("process " + sleep.pid() + " is not a balancer (it runs").contains("sleep");
      assertThat(sleep.isAlive()).isTrue();
    } finally {
      sleep.destroyForcibly();
    }
    running = null;
  }

  @Test
  void optionsAreCheckedLikeTheRestOfTheCommandLine() throws Exception {
    Path file = yaml(0);
    assertThat(launch("--takeover", "1", "--takeover", "2", file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_USAGE);
    assertThat(err()).contains("--takeover given twice");
    assertThat(launch("--pid", "x", file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_USAGE);
    assertThat(err()).contains("--pid: no such option");
    assertThat(launch("--takeover", file.toString()).exitCode()).as("the file is missing").isEqualTo(BalancerLauncher.EXIT_USAGE);
    assertThat(launch("--check", "--takeover", "1", file.toString()).exitCode()).isEqualTo(BalancerLauncher.EXIT_USAGE);
    running = null;
  }

  @Test
  void theMigrateReqWarningSaysWhatToSet() throws Exception {
    assertThat(Takeover.migrateReqWarning(Files.writeString(dir.resolve("on"), "1\n"))).isNull();
    assertThat(Takeover.migrateReqWarning(Files.writeString(dir.resolve("off"), "0\n")))
        .contains("net.ipv4.tcp_migrate_req is 0").contains("reset").contains("sysctl -w net.ipv4.tcp_migrate_req=1");
    assertThat(Takeover.migrateReqWarning(dir.resolve("absent"))).contains("this kernel has no net.ipv4.tcp_migrate_req");
  }

  @Test
  void theFirstRoundIsBounded() throws Exception {
    assertThat(Takeover.firstRound(java.util.concurrent.CompletableFuture.completedFuture(null),
        () -> java.util.concurrent.CompletableFuture.completedFuture(null), Duration.ofSeconds(1))).isTrue();
    long start = System.nanoTime();
    assertThat(Takeover.firstRound(new java.util.concurrent.CompletableFuture<>(),
        () -> java.util.concurrent.CompletableFuture.completedFuture(null), Duration.ofMillis(200))).isFalse();
    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(10));
  }

  @Test
  void theSuccessorRunsTheSameCommandWithTakeoverThisProcess() throws Exception {
    List<String> arguments = List.of("-XX:+ExitOnOutOfMemoryError", "-jar", "/opt/affinity/affinity-balancer.jar",
        "--pid-file", "/run/affinity/balancer.pid", "/etc/affinity/balancer.yaml");
    assertThat(Takeover.successorCommand("/usr/bin/java", arguments, List.of("--pid-file", "/run/affinity/balancer.pid",
        "/etc/affinity/balancer.yaml"), 77))
        .containsExactly("/usr/bin/java", "-XX:+ExitOnOutOfMemoryError", "-jar", "/opt/affinity/affinity-balancer.jar", "--takeover", "77",
            "--pid-file", "/run/affinity/balancer.pid", "/etc/affinity/balancer.yaml");
    // A successor's successor: the earlier --takeover is replaced.
    assertThat(Takeover.successorCommand("/usr/bin/java", List.of("-jar", "b.jar", "--takeover", "77", "--pid-file", "p", "b.yaml"),
        List.of("--takeover", "77", "--pid-file", "p", "b.yaml"), 78))
        .containsExactly("/usr/bin/java", "-jar", "b.jar", "--takeover", "78", "--pid-file", "p", "b.yaml");
    assertThatThrownBy(() -> Takeover.successorCommand("/usr/bin/java", arguments, List.of("other.yaml"), 77))
        .hasMessageContaining("does not end with its arguments");
    assertThatThrownBy(() -> Takeover.successorCommand(null, null, List.of("b.yaml"), 77))
        .hasMessageContaining("cannot read this process's command line");
    // This very JVM: its arguments as the JDK reports them where it does (a command line under a page long).
    List<String> own = Takeover.ownArguments();
    assertThat(own).isNotEmpty();
    ProcessHandle.current().info().arguments().map(List::of).ifPresent(reported -> assertThat(own).isEqualTo(reported));
  }
}
