package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock that tests move by hand; nothing in the core tests sleeps. */
public final class MutableClock extends Clock {
  public static final Instant START = Instant.parse("2026-11-23T10:00:00Z");

  private volatile Instant now;

  public MutableClock() {
    this(START);
  }

  public MutableClock(Instant start) {
    this.now = requireNonNull(start, "start");
  }

  public void advance(Duration by) {
    now = now.plus(requireNonNull(by, "by"));
  }

  public void set(Instant instant) {
    now = requireNonNull(instant, "instant");
  }

  @Override
  public Instant instant() {
    return now;
  }

  @Override
  public long millis() {
    return now.toEpochMilli();
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    if (!ZoneOffset.UTC.equals(zone)) {
      throw new UnsupportedOperationException("MutableClock is UTC only, got " + zone);
    }
    return this;
  }
}
