package dev.affinity.balancer;

import java.time.Instant;

/**
 * Health of one target, driven by active check results and passive observations. A target starts
 * healthy (so a fresh balancer serves at once) and flips after the configured number of results in
 * a row. A refused connection ejects it at once; it comes back after {@code healthyThreshold}
 * passing checks, or when the passive ejection time is over if active checks are off.
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

  public boolean isHealthy(Instant now) {
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

  private void set(State newState, Instant now, String reason) {
    if (state != newState) {
      TopologyChanges.changed();
    }
    state = newState;
    changedAt = now;
    lastReason = reason;
  }
}
