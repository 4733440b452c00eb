package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.jetty.HeldTarget;
import dev.affinity.jetty.Http1Connection;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shutdown:} in the launcher: each key takes effect, a reload changes the next stop, the exit
 * status says whether the grace ran out; and a real balancer JVM sent a real {@code SIGTERM} drains and
 * exits 0 (or 3 when a request outlives the grace).
 */
class ShutdownLauncherTest {
  private static final long WAIT_SECONDS = 30;

  @TempDir
  Path dir;
  private HeldTarget target;
  private final ManualScheduler reloadScheduler = new ManualScheduler();
  private final ManualScheduler shutdownTimer = new ManualScheduler();
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private BalancerLauncher.Running running;

  @BeforeEach
  void setUp() throws Exception {
    target = new HeldTarget("web-1");
  }

  @AfterEach
  void tearDown() throws Exception {
    target.release();
    shutdownTimer.advance(Duration.ofHours(2));
    for (AutoCloseable c : cleanup) {
      c.close();
    }
    if (running != null) {
      // A stop waits on the manual timer: move it on until the stop is over.
      CompletableFuture<Integer> exit = sigtermPath(running);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      while (!exit.isDone() && System.nanoTime() < deadline) {
        shutdownTimer.advance(Duration.ofMinutes(10));
        try {
          exit.get(20, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException notYet) {
          // the stopping thread has not scheduled its wait yet
        }
      }
    }
    target.stop();
  }

  private String yaml(String shutdown) {
    return "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    healthCheck: { enabled: false }\n"
        + "    targets:\n"
        + "      - { id: web-1, uri: \"" + target.uri() + "\" }\n"
        + shutdown;
  }

  private BalancerLauncher.Running launch(Path file) throws Exception {
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler, shutdownTimer);
    assertThat(running.exitCode()).as("start: %s", err).isZero();
    return running;
  }

  /** What SIGTERM runs, on another thread: its exit status completes the future. */
  private CompletableFuture<Integer> sigtermPath(BalancerLauncher.Running r) {
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread t = new Thread(() -> exit.complete(r.stopGracefully()), "sigterm-path");
    t.start();
    return exit;
  }

  /**
   * {@code unreadyDelay}: readiness is 503 while the listener still takes new connections, for that
   * long by the shutdown timer; {@code grace}: a request in flight is waited for until then, and when
   * it is answered in time the exit status is 0.
   */
  @Test
  void graceAndUnreadyDelayTakeEffectAndADrainedStopExitsZero() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("shutdown: { grace: PT20S, unreadyDelay: PT3S }\n"));
    launch(file);
    assertThat(running.server().shutdown()).isEqualTo(new GracefulShutdown(Duration.ofSeconds(20), Duration.ofSeconds(3)));
    int port = running.server().port();
    Http1Connection inFlight = new Http1Connection(port);
    cleanup.add(inFlight);
    inFlight.send("/held");
    await(() -> target.arrived.get() == 1);

    CompletableFuture<Integer> exit = sigtermPath(running);
    await(() -> get(port, "/affinity/ready").status() == 503);
    shutdownTimer.advance(Duration.ofMillis(2999));
    assertThat(get(port, "/affinity/live").status()).as("the listener still accepts before the unready delay ends").isEqualTo(200);
    shutdownTimer.advance(Duration.ofMillis(1));
    await(() -> Http1Connection.refused(port));
    shutdownTimer.advance(Duration.ofSeconds(16));
    assertThat(exit).as("the grace has a second left").isNotDone();
    target.release();
    Http1Connection.Answer answer = inFlight.read();
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.closes()).isTrue();
    assertThat(exit.get(WAIT_SECONDS, TimeUnit.SECONDS)).isZero();
    running = null;
  }

  /** A request the target never answers is cut when the grace runs out, and the exit status is 3. */
  @Test
  void aStopCutShortByTheGraceExitsThree() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("shutdown: { grace: PT5S }\n"));
    launch(file);
    int port = running.server().port();
    Http1Connection inFlight = new Http1Connection(port);
    cleanup.add(inFlight);
    inFlight.send("/held");
    await(() -> target.arrived.get() == 1);

    CompletableFuture<Integer> exit = sigtermPath(running);
    await(() -> Http1Connection.refused(port));
    shutdownTimer.advance(Duration.ofMillis(4999));
    assertThat(exit).isNotDone();
    shutdownTimer.advance(Duration.ofMillis(1));
    assertThat(exit.get(WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo(BalancerLauncher.EXIT_CUT);
    assertThat(running.server().shutdownOutcome()).satisfies(outcome -> {
      assertThat(outcome.drained()).isFalse();
      // The held request's connection; a probe connection of refused() may still be closing too.
      assertThat(outcome.connectionsCut()).isBetween(1, 2);
    });
    assertThatThrownBy(inFlight::read).isInstanceOf(IOException.class);
    running = null;
  }

  /** A reload changes how the next stop goes. */
  @Test
  void aReloadChangesTheNextStop() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("shutdown: { grace: PT20S }\n"));
    launch(file);
    assertThat(running.server().shutdown().grace()).isEqualTo(Duration.ofSeconds(20));
    Files.writeString(file, yaml("shutdown: { grace: PT45S, unreadyDelay: PT10S }\n"));
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(running.server().shutdown()).isEqualTo(new GracefulShutdown(Duration.ofSeconds(45), Duration.ofSeconds(10)));
  }

  /**
   * The real thing: a balancer JVM started as systemd would start it, a request held in flight, {@code kill
   * -TERM}: the listener closes, the request is answered when the target lets it go, and the process exits
   * 0. Then the same with a one-second grace and a request that is never answered: exit 3.
   */
  @Test
  void sigtermToABalancerProcessDrainsAndExitsZeroOrThreeWhenTheGraceRunsOut() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml("shutdown: { grace: PT20S }\n"));
    LauncherProcess balancer = LauncherProcess.start(file);
    cleanup.add(balancer);
    Http1Connection inFlight = new Http1Connection(balancer.port);
    cleanup.add(inFlight);
    inFlight.send("/held");
    await(() -> target.arrived.get() == 1);
    assertThat(get(balancer.port, "/affinity/ready").status()).isEqualTo(200);

    balancer.signal("TERM");
    await(() -> Http1Connection.refused(balancer.port));
    assertThat(balancer.process.isAlive()).as("waiting for the request in flight").isTrue();
    target.release();
    Http1Connection.Answer answer = inFlight.read();
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).isEqualTo("held by web-1");
    assertThat(balancer.exitStatus()).as("output:%n%s", balancer.output).isZero();
    assertThat(balancer.output.toString()).contains("affinity: drained; stopping");

    // A grace of one second (the process's own clock) and a request its target holds for ever.
    HeldTarget stuck = new HeldTarget("web-1");
    cleanup.add(stuck::stop);
    Path cut = Files.writeString(dir.resolve("cut.yaml"), yaml("shutdown: { grace: PT1S }\n").replace(target.uri().toString(),
        stuck.uri().toString()));
    LauncherProcess second = LauncherProcess.start(cut);
    cleanup.add(second);
    Http1Connection held = new Http1Connection(second.port);
    cleanup.add(held);
    held.send("/held");
    await(() -> stuck.arrived.get() == 1);
    second.signal("TERM");
    assertThat(second.exitStatus()).as("output:%n%s", second.output).isEqualTo(BalancerLauncher.EXIT_CUT);
    assertThat(second.output.toString()).contains("1 client connections were cut (exit status 3)");
  }

  interface Condition {
    boolean holds() throws Exception;
  }

  static void await(Condition condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!condition.holds()) {
      assertThat(System.nanoTime()).as("condition not met in time").isLessThan(deadline);
      TimeUnit.MILLISECONDS.sleep(10);
    }
  }

  static Http1Connection.Answer get(int port, String path) throws IOException {
    try (Http1Connection c = new Http1Connection(port)) {
      c.out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      c.out.flush();
      return c.read();
    }
  }
}
