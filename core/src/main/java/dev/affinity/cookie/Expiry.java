package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;

/**
 * How long a pin lasts and how its cookie ages.
 *
 * <ul>
 *   <li>{@link #sliding}: each request extends the pin, as ALB does. To keep sealing off the hot
 *       path, the cookie is re-sealed only once its remaining life has dropped by more than the
 *       refresh granularity (1 % of the duration or 60 s, whichever is smaller).
 *   <li>{@link #fixed}: the pin ends a fixed time after it was made, as Classic ELB does.
 *   <li>{@link #browserSession}: the cookie has no {@code Max-Age}, so the browser drops it when it
 *       closes; the sealed ticket still expires (sliding) after the duration.
 * </ul>
 */
public final class Expiry {
  public static final Duration MIN_DURATION = Duration.ofSeconds(1);
  public static final Duration MAX_DURATION = Duration.ofDays(7);
  private static final Duration MAX_GRANULARITY = Duration.ofSeconds(60);

  /** How the cookie's life is counted. */
  public enum Mode { SLIDING, FIXED, BROWSER_SESSION }

  private final Mode mode;
  private final Duration duration;
  private final long durationMillis;
  private final long granularityMillis;

  private Expiry(Mode mode, Duration duration) {
    this.mode = mode;
    this.duration = checkDuration(duration);
    this.durationMillis = duration.toMillis();
    this.granularityMillis = Math.min(durationMillis / 100, MAX_GRANULARITY.toMillis());
  }

  public static Expiry sliding(Duration duration) {
    return new Expiry(Mode.SLIDING, duration);
  }

  public static Expiry fixed(Duration duration) {
    return new Expiry(Mode.FIXED, duration);
  }

  public static Expiry browserSession(Duration duration) {
    return new Expiry(Mode.BROWSER_SESSION, duration);
  }

  /** Checks a stickiness duration against the 1 s – 7 d range and names the bad value. */
  public static Duration checkDuration(Duration duration) {
    requireNonNull(duration, "duration");
    if (duration.compareTo(MIN_DURATION) < 0 || duration.compareTo(MAX_DURATION) > 0) {
      throw new IllegalArgumentException(
          "stickiness duration must be between 1 second (PT1S) and 7 days (P7D), got " + duration);
    }
    return duration;
  }

  public Mode mode() {
    return mode;
  }

  public Duration duration() {
    return duration;
  }

  public Duration refreshGranularity() {
    return Duration.ofMillis(granularityMillis);
  }

  /** A new pin made now. */
  public AffinityTicket newTicket(String targetId, String targetGroup, byte[] extra, Instant now) {
    return AffinityTicket.of(targetId, targetGroup, now, now.plusMillis(durationMillis), extra);
  }

  /** A new pin made now, without application bytes. */
  public AffinityTicket newTicket(String targetId, String targetGroup, Instant now) {
    return AffinityTicket.owning(targetId, targetGroup, now, now.plusMillis(durationMillis), new byte[0]);
  }

  /** True when a live ticket should be re-sealed with a later expiry on this response. */
  public boolean needsRefresh(AffinityTicket ticket, Instant now) {
    if (mode == Mode.FIXED) {
      return false;
    }
    return now.toEpochMilli() - ticket.issuedAt().toEpochMilli() > granularityMillis;
  }

  /** The ticket extended from now (sliding), or unchanged (fixed). */
  public AffinityTicket refresh(AffinityTicket ticket, Instant now) {
    if (mode == Mode.FIXED) {
      return ticket;
    }
    return ticket.withValidity(now, now.plusMillis(durationMillis));
  }

  /** The cookie's {@code Max-Age} for a ticket sealed now, or {@code null} for a browser-session cookie. */
  public Duration maxAge(AffinityTicket ticket, Instant now) {
    if (mode == Mode.BROWSER_SESSION) {
      return null;
    }
    long millis = ticket.expiresAt().toEpochMilli() - now.toEpochMilli();
    return Duration.ofSeconds(Math.max(1, millis / 1000));
  }

  @Override
  public String toString() {
    return "Expiry{" + mode + " " + duration + "}";
  }
}
