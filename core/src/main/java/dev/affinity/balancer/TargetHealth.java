package dev.affinity.balancer;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * Health of one target, driven by active check results and passive observations. A target starts
 * healthy (so a fresh balancer serves at once) and flips after the configured number of results in
 * a row. A refused connection ejects it at once; it comes back after {@code healthyThreshold}
 * passing checks, or when the passive ejection time is over if active checks are off.
 *
 * <p>Apart from that state, {@link PassiveHealth} may eject a target whose answers fail
 * ({@link #isEjected}): it is then out of rotation until the ejection time is over, on the clock,
 * whatever its active checks say (its own answers are the stronger evidence, and the time is bounded).
 */
public final class TargetHealth {
  /** Where a target stands. */
  public enum State { HEALTHY, UNHEALTHY }

  private volatile HealthCheckSettings settings;
  private volatile State state = State.HEALTHY;
  private volatile Instant ejectedUntil;
  private volatile Instant changedAt = Instant.EPOCH;
  private volatile String lastReason = "initial";
  private int consecutiveSuccesses;
  private int consecutiveFailures;
  // Passive health: touched on every answer, so plain volatile ints moved by field updaters (no lock,
  // and a write only when a count actually changes).
  private static final AtomicIntegerFieldUpdater<TargetHealth> FAILED_ANSWERS =
      AtomicIntegerFieldUpdater.newUpdater(TargetHealth.class, "failedAnswers");
  private static final AtomicIntegerFieldUpdater<TargetHealth> TIMEOUTS =
      AtomicIntegerFieldUpdater.newUpdater(TargetHealth.class, "timeouts");
  private volatile int failedAnswers;
  private volatile int timeouts;
  private volatile Instant outlierUntil;
  private volatile String outlierReason;
  private volatile long ejections;
  /** Ejections in a row, the multiplier of the next ejection's time (guarded by the group's lock). */
  private int ejectionStreak;

  TargetHealth(HealthCheckSettings settings) {
    this.settings = settings;
  }

  void settings(HealthCheckSettings newSettings) {
    this.settings = java.util.Objects.requireNonNull(newSettings, "newSettings");
  }

  public State state() {
    return state;
  }

  public String lastReason() {
    return lastReason;
  }

  /** When the state last changed (the epoch when it never did). */
  public Instant changedAt() {
    return changedAt;
  }

  /**
   * True when {@link #isHealthy} may turn true by itself as time passes (a passive ejection with
   * active checks off), so an answer computed now must not be kept.
   */
  boolean availabilityDependsOnTime() {
    return state != State.HEALTHY && ejectedUntil != null && !settings.enabled();
  }

  /**
   * When {@link #isHealthy} may turn true by itself, or {@code null} when it will not as time passes:
   * the end of a passive ejection, or of a refused connection's with active checks off.
   */
  Instant availableAgainAt(Instant now) {
    Instant outlier = outlierUntil;
    Instant at = outlier != null && now.isBefore(outlier) ? outlier : null;
    if (availabilityDependsOnTime()) {
      Instant until = ejectedUntil;
      if (until != null && until.isAfter(now) && (at == null || until.isAfter(at))) {
        at = until;
      }
    }
    return at;
  }

  /** Whether passive health checks keep the target out of rotation now. */
  public boolean isEjected(Instant now) {
    Instant until = outlierUntil;
    return until != null && now.isBefore(until);
  }

  /** When the current (or last) passive ejection ends; {@code null} when there never was one. */
  public Instant ejectedUntil() {
    return outlierUntil;
  }

  /** Why the current (or last) passive ejection happened; {@code null} when there never was one. */
  public String ejectionReason() {
    return outlierReason;
  }

  /** Passive ejections so far. */
  public long ejections() {
    return ejections;
  }

  /** Answers counted against the target in a row now (see {@link PassiveHealth}). */
  public int consecutiveFailedAnswers() {
    return failedAnswers;
  }

  /** Timeouts in a row now. */
  public int consecutiveTimeouts() {
    return timeouts;
  }

  public boolean isHealthy(Instant now) {
    Instant outlier = outlierUntil;
    if (outlier != null && now.isBefore(outlier)) {
      return false;
    }
    if (state == State.HEALTHY) {
      return true;
    }
    Instant until = ejectedUntil;
    return until != null && !settings.enabled() && !now.isBefore(until);
  }

  /** An active check passed. Returns true when this flipped the target to healthy. */
  public synchronized boolean checkPassed(Instant now) {
    consecutiveFailures = 0;
    consecutiveSuccesses++;
    if (state == State.UNHEALTHY && consecutiveSuccesses >= settings.healthyThreshold()) {
      set(State.HEALTHY, now, "health check passed " + consecutiveSuccesses + " times");
      ejectedUntil = null;
      return true;
    }
    return false;
  }

  /** An active check failed. Returns true when this flipped the target to unhealthy. */
  public synchronized boolean checkFailed(Instant now, String reason) {
    consecutiveSuccesses = 0;
    consecutiveFailures++;
    if (state == State.HEALTHY && consecutiveFailures >= settings.unhealthyThreshold()) {
      set(State.UNHEALTHY, now, reason);
      return true;
    }
    return false;
  }

  /** The target refused a connection: take it out now rather than after the next checks. */
  public synchronized boolean ejected(Instant now, String reason) {
    consecutiveSuccesses = 0;
    ejectedUntil = now.plus(settings.passiveEjection());
    if (state == State.HEALTHY) {
      set(State.UNHEALTHY, now, reason);
      return true;
    }
    return false;
  }

  /** A proxied request got an answer: with active checks off, this is what ends a passive ejection. */
  public void served(Instant now) {
    if (state == State.UNHEALTHY && !settings.enabled()) {
      synchronized (this) {
        Instant until = ejectedUntil;
        if (state == State.UNHEALTHY && (until == null || !now.isBefore(until))) {
          set(State.HEALTHY, now, "served a request after passive ejection");
          ejectedUntil = null;
        }
      }
    }
  }

  /** An answer that does not count against the target: both counts start again. */
  void answeredWell() {
    if (failedAnswers != 0) {
      failedAnswers = 0;
    }
    if (timeouts != 0) {
      timeouts = 0;
    }
  }

  /** An answer (or failure) counted against the target; returns the count in a row. */
  int answeredBadly(boolean timedOut) {
    if (timedOut) {
      TIMEOUTS.incrementAndGet(this);
    } else if (timeouts != 0) {
      // It answered, if badly: not a silence.
      timeouts = 0;
    }
    return FAILED_ANSWERS.incrementAndGet(this);
  }

  /**
   * Ejects the target for {@code settings}' time, multiplied by the ejections in a row (the group
   * holds its lock: it has checked the share of its targets already out). Returns the end.
   */
  Instant ejectPassively(Instant now, PassiveHealth settings, String reason) {
    Instant previous = outlierUntil;
    if (previous != null && ejectionStreak > 0 && now.isAfter(previous)) {
      long back = Duration.between(previous, now).toMillis() / settings.ejectFor().toMillis();
      ejectionStreak = (int) Math.max(0, ejectionStreak - back);
    }
    ejectionStreak = Math.min(ejectionStreak + 1, PassiveHealth.MAX_CONSECUTIVE);
    Instant until = now.plus(settings.ejectionTime(ejectionStreak));
    outlierReason = reason;
    outlierUntil = until;
    ejections++;
    failedAnswers = 0;
    timeouts = 0;
    TopologyChanges.changed();
    return until;
  }

  private void set(State newState, Instant now, String reason) {
    if (state != newState) {
      TopologyChanges.changed();
    }
    state = newState;
    changedAt = now;
    lastReason = reason;
  }
}
