package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Passive health checks (outlier detection, as Envoy's {@code consecutive_5xx}, HAProxy's
 * {@code observe layer7} or NGINX's {@code max_fails}): a target whose own answers say it is broken
 * is taken out of rotation for a while, whatever its health check says.
 *
 * <p>What counts against a target: a {@code 5xx} it answered, except {@code 501} and {@code 505},
 * which describe the request (a method or version the application does not serve, the same on every
 * target), as HAProxy's {@code observe layer7} counts them; and the balancer's own {@code 502} or
 * {@code 504} after the target failed (an unusable answer, a connection it closed before answering,
 * silence past the upstream timeout). Silence also counts towards {@code consecutiveTimeouts}. Any
 * other answer from the target resets both counts; a refused connection ejects at once, as before.
 *
 * <p>Each ejection lasts {@code ejectFor} times the number of ejections in a row, at most
 * {@code maxEjectFor} (Envoy's {@code base_ejection_time} and {@code max_ejection_time}); the count in
 * a row drops by one for each {@code ejectFor} the target then spends in rotation without being
 * ejected again. An ejection never takes the share of a group's targets out of rotation above
 * {@code maxEjectedPercent}, so a bad deploy that breaks every target cannot empty the group.
 *
 * @param consecutive5xx answers counted against a target in a row that eject it; 0 turns this count off
 * @param consecutiveTimeouts timeouts in a row that eject a target; 0 turns this count off
 * @param ejectFor how long the first ejection lasts
 * @param maxEjectFor the longest an ejection may last, however many came before
 * @param maxEjectedPercent the largest share of a group's targets (those taking new clients) that
 *     may be out of rotation for an ejection to happen, 0-100
 */
public record PassiveHealth(int consecutive5xx, int consecutiveTimeouts, Duration ejectFor, Duration maxEjectFor,
    int maxEjectedPercent) {
  public static final int MAX_CONSECUTIVE = 1000;
  public static final Duration MAX_EJECT_FOR = Duration.ofDays(1);

  public PassiveHealth {
    requireNonNull(ejectFor, "ejectFor");
    requireNonNull(maxEjectFor, "maxEjectFor");
    if (consecutive5xx < 0 || consecutive5xx > MAX_CONSECUTIVE) {
      throw new IllegalArgumentException("consecutive5xx must be between 0 (off) and " + MAX_CONSECUTIVE + ", got " + consecutive5xx);
    }
    if (consecutiveTimeouts < 0 || consecutiveTimeouts > MAX_CONSECUTIVE) {
      throw new IllegalArgumentException("consecutiveTimeouts must be between 0 (off) and " + MAX_CONSECUTIVE + ", got " + consecutiveTimeouts);
    }
    if (ejectFor.toMillis() < 1 || ejectFor.compareTo(MAX_EJECT_FOR) > 0) {
      throw new IllegalArgumentException("ejectFor must be between 1 millisecond and 1 day, got " + ejectFor);
    }
    if (maxEjectFor.compareTo(ejectFor) < 0 || maxEjectFor.compareTo(MAX_EJECT_FOR) > 0) {
      throw new IllegalArgumentException("maxEjectFor must be between ejectFor (" + ejectFor + ") and 1 day, got " + maxEjectFor);
    }
    if (maxEjectedPercent < 0 || maxEjectedPercent > 100) {
      throw new IllegalArgumentException("maxEjectedPercent must be between 0 and 100, got " + maxEjectedPercent);
    }
  }

  /**
   * On, with conservative values: 5 counted answers or 3 timeouts in a row eject for 30 s (then 60 s,
   * 90 s… up to 300 s), never more than half of a group. Five in a row is Envoy's default; half
   * keeps a group that a bad deploy broke everywhere serving from the other half.
   */
  public static PassiveHealth defaults() {
    return new PassiveHealth(5, 3, Duration.ofSeconds(30), Duration.ofSeconds(300), 50);
  }

  /** No passive ejection (a refused connection still ejects, as the retry rule needs). */
  public static PassiveHealth off() {
    return new PassiveHealth(0, 0, Duration.ofSeconds(30), Duration.ofSeconds(300), 0);
  }

  public boolean enabled() {
    return (consecutive5xx > 0 || consecutiveTimeouts > 0) && maxEjectedPercent > 0;
  }

  /** Whether a target's answer with this status counts against it: a 5xx, but not 501 or 505. */
  public static boolean countsAgainst(int status) {
    return status >= 500 && status <= 599 && status != 501 && status != 505;
  }

  /** How long the {@code streak}-th ejection in a row lasts (1 for the first). */
  Duration ejectionTime(int streak) {
    Duration d = ejectFor.multipliedBy(Math.max(1, streak));
    return d.compareTo(maxEjectFor) > 0 ? maxEjectFor : d;
  }
}
