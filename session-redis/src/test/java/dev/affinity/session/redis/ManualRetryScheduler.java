package dev.affinity.session.redis;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * A {@link RedisSessionStore.RetryScheduler} that only records what the store scheduled: the test runs
 * a round with {@link #runRound()} when it wants one, so nothing waits for the 250 ms timer.
 */
final class ManualRetryScheduler implements RedisSessionStore.RetryScheduler {
  private Runnable round;
  private Duration interval;
  private boolean closed;

  @Override
  public synchronized void scheduleWithFixedDelay(Runnable round, Duration interval) {
    if (this.round != null) {
      throw new IllegalStateException("a retry round is already scheduled every " + this.interval);
    }
    this.round = requireNonNull(round, "round");
    this.interval = requireNonNull(interval, "interval");
  }

  /** The interval the store asked for. */
  synchronized Duration interval() {
    return interval;
  }

  /** Runs one round now, as the timer would after one interval. */
  void runRound() {
    Runnable r;
    synchronized (this) {
      if (round == null) {
        throw new IllegalStateException("nothing scheduled");
      }
      if (closed) {
        throw new IllegalStateException("closed: the store stopped its retries");
      }
      r = round;
    }
    r.run();
  }

  synchronized boolean isClosed() {
    return closed;
  }

  @Override
  public synchronized void close() {
    closed = true;
  }
}
