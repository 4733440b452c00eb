package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetHealth;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Keyring;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The active check schedule on a scheduler the test drives: probes go over real sockets to real
 * Jetty backends, but no interval is waited for — the test runs each scheduled probe itself and
 * moves the clock, so state changes land at exact instants.
 */
class HealthCheckerTest {
  private static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  private static final Duration INTERVAL = Duration.ofSeconds(5);

  private final TestClock clock = new TestClock(START);
  private final ManualScheduler scheduler = new ManualScheduler();
  private Backends backends;
  private HealthChecker checker;

  /** Records what is scheduled; the test takes each task and runs it when it decides the delay has passed. */
  static final class ManualScheduler extends AbstractLifeCycle implements Scheduler {
    record Scheduled(Runnable task, long delayMillis) {}

    private final BlockingQueue<Scheduled> queue = new LinkedBlockingQueue<>();

    @Override
    public Task schedule(Runnable task, long delay, TimeUnit units) {
      queue.add(new Scheduled(task, units.toMillis(delay)));
      return () -> queue.removeIf(s -> s.task() == task);
    }

    /**
     * The next scheduled task. A reschedule follows a probe's answer over a real socket, so this
     * waits for that I/O (not for the interval) up to 10 s.
     */
    Scheduled next() throws InterruptedException {
      Scheduled s = queue.poll(10, TimeUnit.SECONDS);
      assertThat(s).as("a probe was scheduled").isNotNull();
      return s;
    }

    int size() {
      return queue.size();
    }
  }

  @AfterEach
  void stop() throws Exception {
    if (checker != null) {
      checker.stop();
    }
    if (backends != null) {
      backends.close();
    }
  }

  private Router router() {
    AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder()
        .keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(), CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(true, "/health", INTERVAL, Duration.ofSeconds(2), 2, 2, 200, 399,
            Duration.ofSeconds(10)))
        .target("a", backends.uri("a"), 1)
        .build();
    return Router.builder(cookies).group(web).build();
  }

  /** Runs one probe of the chain as if its delay had passed; returns the probe it scheduled next. */
  private ManualScheduler.Scheduled probe(ManualScheduler.Scheduled due) throws InterruptedException {
    due.task().run();
    ManualScheduler.Scheduled following = scheduler.next();
    assertThat(following.delayMillis()).as("the next probe comes one interval after the answer")
        .isEqualTo(INTERVAL.toMillis());
    return following;
  }

  @Test
  void probesEveryIntervalAndFlipsStateAtTheClocksInstants() throws Exception {
    backends = Backends.start("a");
    Router router = router();
    Target a = router.target("a");
    checker = new HealthChecker(() -> router, clock, scheduler);
    checker.start();

    // The first probe is spread within the first quarter interval, and nothing runs until it is due.
    ManualScheduler.Scheduled first = scheduler.next();
    assertThat(first.delayMillis()).isBetween(0L, INTERVAL.toMillis() / 4 - 1);
    assertThat(scheduler.size()).isZero();
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.HEALTHY);

    // Two failing probes, one interval apart: unhealthy at the second one's instant exactly.
    backends.get("a").healthStatus = 503;
    clock.advance(Duration.ofMillis(first.delayMillis()));
    ManualScheduler.Scheduled second = probe(first);
    assertThat(a.health().state()).as("one failure is below unhealthyThreshold 2").isEqualTo(TargetHealth.State.HEALTHY);
    clock.advance(INTERVAL);
    Instant flippedDown = clock.instant();
    ManualScheduler.Scheduled third = probe(second);
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.UNHEALTHY);
    assertThat(a.health().changedAt()).isEqualTo(flippedDown);
    assertThat(a.health().lastReason()).contains("503");

    // Two passing probes bring it back, again at the instant of the second.
    backends.get("a").healthStatus = 200;
    clock.advance(INTERVAL);
    ManualScheduler.Scheduled fourth = probe(third);
    assertThat(a.health().state()).as("one pass is below healthyThreshold 2").isEqualTo(TargetHealth.State.UNHEALTHY);
    clock.advance(INTERVAL);
    Instant flippedUp = clock.instant();
    ManualScheduler.Scheduled fifth = probe(fourth);
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.HEALTHY);
    assertThat(a.health().changedAt()).isEqualTo(flippedUp);
    assertThat(scheduler.size()).as("one chain per target, never two").isZero();

    // Stopped: a probe that fires late checks nothing and schedules nothing.
    checker.stop();
    backends.get("a").healthStatus = 503;
    fifth.task().run();
    fourth.task().run();
    assertThat(scheduler.size()).isZero();
    assertThat(a.health().changedAt()).isEqualTo(flippedUp);
  }

  @Test
  void aRestartOnASchedulerThatOutlivesTheCheckerKeepsOneChainPerTarget() throws Exception {
    backends = Backends.start("a");
    Router router = router();
    checker = new HealthChecker(() -> router, clock, scheduler);
    checker.start();
    ManualScheduler.Scheduled beforeStop = scheduler.next();

    checker.stop();
    checker.start();
    ManualScheduler.Scheduled afterRestart = scheduler.next();

    // The probe scheduled before the stop fires now, while the checker runs again: it is dropped
    // (run synchronously, it schedules nothing at once; had it probed, its successor would arrive with
    // the answer, before the two round trips of the new chain below are over).
    beforeStop.task().run();
    assertThat(scheduler.size()).isZero();
    // The new chain goes on, alone.
    ManualScheduler.Scheduled next = probe(afterRestart);
    probe(next);
    assertThat(scheduler.size()).as("only the new chain's probe is scheduled").isZero();
  }
}
