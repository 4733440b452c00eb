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
 *   <li>{@link #timeouts}: Gateway API's session persistence: an idle timeout (sliding), an absolute
 *       one (fixed), or both — the pin then slides with activity but ends at the absolute deadline
 *       whatever the activity; and a permanent ({@code Max-Age}) or session cookie.
 * </ul>
 *
 * <p>Every end is enforced by the balancer from the sealed ticket, never left to the client's cookie jar:
 * the ticket's {@code expiresAt} is checked when it is opened, and with both timeouts the absolute
 * deadline travels sealed in the ticket's extra bytes, so a re-pin or a refresh cannot extend it.
 */
public final class Expiry {
  public static final Duration MIN_DURATION = Duration.ofSeconds(1);
  public static final Duration MAX_DURATION = Duration.ofDays(7);
  private static final Duration MAX_GRANULARITY = Duration.ofSeconds(60);

  /** How the cookie's life is counted. */
  public enum Mode { SLIDING, FIXED, BROWSER_SESSION }

  private static final int DEADLINE_BYTES = 8;

  private final Mode mode;
  private final Duration duration;
  private final long durationMillis;
  private final long granularityMillis;
  /** With both timeouts: how long after the first pin it ends, whatever the activity; else {@code null}. */
  private final Duration absolute;
  private final boolean sessionCookie;

  private Expiry(Mode mode, Duration duration) {
    this(mode, duration, null, mode == Mode.BROWSER_SESSION);
  }

  private Expiry(Mode mode, Duration duration, Duration absolute, boolean sessionCookie) {
    this.mode = mode;
    this.duration = checkDuration(duration);
    this.durationMillis = duration.toMillis();
    this.granularityMillis = Math.min(durationMillis / 100, MAX_GRANULARITY.toMillis());
    this.absolute = absolute;
    this.sessionCookie = sessionCookie;
  }

  /**
   * A pin ended by an idle timeout, an absolute timeout, or both (at least one), with a permanent
   * ({@code Max-Age}) or a session cookie. Idle alone is {@link #sliding}; absolute alone is {@link #fixed}.
   *
   * @param idle ends after this long without a request, or {@code null}
   * @param absolute ends this long after the pin was made, or {@code null}
   * @param sessionCookie whether the cookie carries no {@code Max-Age} (the browser drops it when it closes)
   */
  public static Expiry timeouts(Duration idle, Duration absolute, boolean sessionCookie) {
    if (idle == null && absolute == null) {
      throw new IllegalArgumentException("a pin needs an idle timeout, an absolute timeout or both; got neither");
    }
    if (idle == null) {
      return new Expiry(Mode.FIXED, absolute, null, sessionCookie);
    }
    if (absolute == null) {
      return new Expiry(sessionCookie ? Mode.BROWSER_SESSION : Mode.SLIDING, idle, null, sessionCookie);
    }
    checkDuration(absolute);
    if (absolute.compareTo(idle) <= 0) {
      // The idle timeout could never end such a pin: it is an absolute one, said twice.
      return new Expiry(Mode.FIXED, absolute, null, sessionCookie);
    }
    return new Expiry(Mode.SLIDING, idle, absolute, sessionCookie);
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

  /** With both timeouts, the absolute one (the idle one is {@link #duration()}); else {@code null}. */
  public Duration absoluteTimeout() {
    return absolute;
  }

  /** Whether the cookie has no {@code Max-Age}, so the browser drops it when it closes. */
  public boolean sessionCookie() {
    return sessionCookie;
  }

  public Duration refreshGranularity() {
    return Duration.ofMillis(granularityMillis);
  }

  /** A new pin made now. */
  public AffinityTicket newTicket(String targetId, String targetGroup, byte[] extra, Instant now) {
    return AffinityTicket.of(targetId, targetGroup, now, now.plusMillis(durationMillis), extra);
  }

  /** A new pin made now, without application bytes (with both timeouts, they carry the absolute deadline). */
  public AffinityTicket newTicket(String targetId, String targetGroup, Instant now) {
    if (absolute == null) {
      return AffinityTicket.owning(targetId, targetGroup, now, now.plusMillis(durationMillis), new byte[0]);
    }
    long deadline = now.toEpochMilli() + absolute.toMillis();
    return AffinityTicket.owning(targetId, targetGroup, now, Instant.ofEpochMilli(Math.min(deadline, now.toEpochMilli() + durationMillis)),
        deadlineBytes(deadline));
  }

  /** True when a live ticket should be re-sealed with a later expiry on this response. */
  public boolean needsRefresh(AffinityTicket ticket, Instant now) {
    if (mode == Mode.FIXED) {
      return false;
    }
    if (absolute != null && ticket.expiresAt().toEpochMilli() >= deadline(ticket, now)) {
      return false; // already at its absolute end: nothing left to extend
    }
    return now.toEpochMilli() - ticket.issuedAt().toEpochMilli() > granularityMillis;
  }

  /** The ticket extended from now (sliding, up to its absolute deadline), or unchanged (fixed). */
  public AffinityTicket refresh(AffinityTicket ticket, Instant now) {
    if (mode == Mode.FIXED) {
      return ticket;
    }
    if (absolute == null) {
      return ticket.withValidity(now, now.plusMillis(durationMillis));
    }
    long deadline = deadline(ticket, now);
    long end = Math.min(deadline, now.toEpochMilli() + durationMillis);
    AffinityTicket refreshed = ticket.withValidity(now, Instant.ofEpochMilli(Math.max(end, now.toEpochMilli())));
    return hasDeadline(ticket) ? refreshed
        : AffinityTicket.of(refreshed.targetId(), refreshed.targetGroup(), refreshed.issuedAt(), refreshed.expiresAt(), deadlineBytes(deadline));
  }

  /**
   * {@code ticket} with its times moved back to the start of its refresh granule (granules count from
   * the epoch, so every balancer instance draws the same boundaries), so that the tickets of every
   * client pinned to one target within one granule are equal and can share one sealed value.
   *
   * <p>Both times move back by the same {@code shift = issuedAt mod granularity}, less than one
   * granule: a pin ends at most {@code granularity - 1 ms} earlier than it would have, never later.
   * An absolute deadline sealed in the ticket (both timeouts) is moved back to its own granule's start
   * in the same way and the ticket's end capped at it: a deadline is shortened by less than a granule,
   * never extended. Moving a ticket that is already on granule boundaries changes nothing.
   */
  AffinityTicket shareable(AffinityTicket ticket) {
    long issued = ticket.issuedAt().toEpochMilli();
    long expires = ticket.expiresAt().toEpochMilli();
    long shift = Math.floorMod(issued, granularityMillis);
    long issuedAt = issued - shift;
    long expiresAt = expires - shift;
    if (absolute == null || !hasDeadline(ticket)) {
      return shift == 0 ? ticket
          : AffinityTicket.owning(ticket.targetId(), ticket.targetGroup(), Instant.ofEpochMilli(issuedAt),
              Instant.ofEpochMilli(expiresAt), ticket.extraUnsafe());
    }
    long deadline = sealedDeadline(ticket);
    long shared = deadline - Math.floorMod(deadline, granularityMillis);
    if (expires >= deadline || expiresAt > shared) {
      expiresAt = shared; // a pin at its absolute end stays there, at the moved deadline
    }
    expiresAt = Math.max(expiresAt, issuedAt);
    if (shift == 0 && shared == deadline && expiresAt == expires) {
      return ticket;
    }
    return AffinityTicket.owning(ticket.targetId(), ticket.targetGroup(), Instant.ofEpochMilli(issuedAt),
        Instant.ofEpochMilli(expiresAt), deadlineBytes(shared));
  }

  /**
   * The absolute deadline sealed in a ticket; a ticket sealed before the absolute timeout was configured
   * has none, and its deadline starts now.
   */
  private long deadline(AffinityTicket ticket, Instant now) {
    if (!hasDeadline(ticket)) {
      return now.toEpochMilli() + absolute.toMillis();
    }
    return sealedDeadline(ticket);
  }

  private static long sealedDeadline(AffinityTicket ticket) {
    byte[] extra = ticket.extraUnsafe();
    long deadline = 0;
    for (int i = 0; i < DEADLINE_BYTES; i++) {
      deadline = (deadline << 8) | (extra[i] & 0xFF);
    }
    return deadline;
  }

  private static boolean hasDeadline(AffinityTicket ticket) {
    return ticket.extraLength() == DEADLINE_BYTES;
  }

  private static byte[] deadlineBytes(long deadline) {
    byte[] bytes = new byte[DEADLINE_BYTES];
    for (int i = DEADLINE_BYTES - 1; i >= 0; i--) {
      bytes[i] = (byte) deadline;
      deadline >>>= 8;
    }
    return bytes;
  }

  /** The cookie's {@code Max-Age} for a ticket sealed now, or {@code null} for a session cookie. */
  public Duration maxAge(AffinityTicket ticket, Instant now) {
    long seconds = maxAgeSeconds(ticket, now.toEpochMilli());
    return seconds < 0 ? null : Duration.ofSeconds(seconds);
  }

  /** {@link #maxAge} in whole seconds, or -1 for a session cookie; without allocating. */
  long maxAgeSeconds(AffinityTicket ticket, long nowMillis) {
    return sessionCookie ? -1 : Math.max(1, (ticket.expiresAt().toEpochMilli() - nowMillis) / 1000);
  }

  @Override
  public String toString() {
    return "Expiry{" + mode + " " + duration + (absolute != null ? " until " + absolute : "")
        + (sessionCookie && mode != Mode.BROWSER_SESSION ? " session cookie" : "") + "}";
  }
}
