package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How {@link AffinityServer} stops (the YAML's {@code shutdown:}): whatever asks it to stop (its
 * {@code stop()}, the JVM's shutdown hook, the launcher's {@code SIGTERM}), it
 *
 * <ol>
 *   <li>answers {@code 503} on {@code {admin.path}/ready} at once, while serving everything else as before;
 *   <li>after {@link #unreadyDelay()}, closes its listening sockets (new connections are refused), answers
 *       the next request of each kept-alive HTTP/1 connection with {@code Connection: close}, sends
 *       HTTP/2 clients {@code GOAWAY}, closes idle connections, and closes WebSockets with {@code 1001};
 *   <li>lets the requests in flight finish, and stops once every client connection is closed, or when
 *       {@link #grace()} (counted from the stop, the unready delay included) has run out: then what is
 *       left is cut and {@link Outcome#drained()} is {@code false}.
 * </ol>
 *
 * @param grace the whole stop, from the moment it is asked for to the last connection; 0 cuts at once
 * @param unreadyDelay how long the listeners keep accepting after readiness has turned 503, so that load
 *     balancers polling it (Kubernetes endpoints, an ALB health check) stop sending first; shorter than
 *     {@code grace}, or zero
 */
public record GracefulShutdown(Duration grace, Duration unreadyDelay) {
  /** As Kubernetes' {@code terminationGracePeriodSeconds} and DESIGN's {@code shutdown.grace}. */
  public static final Duration DEFAULT_GRACE = Duration.ofSeconds(30);
  /** The largest grace: a stop that takes longer than this is a stuck stop, not a graceful one. */
  public static final Duration MAX_GRACE = Duration.ofHours(1);

  private static final GracefulShutdown DEFAULTS = new GracefulShutdown(DEFAULT_GRACE, Duration.ZERO);

  public GracefulShutdown {
    requireNonNull(grace, "grace");
    requireNonNull(unreadyDelay, "unreadyDelay");
    if (grace.isNegative() || grace.compareTo(MAX_GRACE) > 0) {
      throw new IllegalArgumentException("shutdown grace must be between 0 and " + MAX_GRACE + ", got " + grace);
    }
    if (unreadyDelay.isNegative()) {
      throw new IllegalArgumentException("shutdown unreadyDelay must not be negative, got " + unreadyDelay);
    }
    if (!unreadyDelay.isZero() && unreadyDelay.compareTo(grace) >= 0) {
      throw new IllegalArgumentException("shutdown unreadyDelay (" + unreadyDelay + ") must be shorter than the grace (" + grace
          + "), which counts from the stop and includes it; else nothing is left to drain in");
    }
  }

  /** A 30 s grace and no unready delay: a stop closes the listeners at once and drains for up to 30 s. */
  public static GracefulShutdown defaults() {
    return DEFAULTS;
  }

  /** How a stop ended. */
  public record Outcome(boolean drained, int connectionsCut) {
    /** Every client connection closed within the grace: nothing was cut. */
    public static Outcome complete() {
      return new Outcome(true, 0);
    }
  }
}
