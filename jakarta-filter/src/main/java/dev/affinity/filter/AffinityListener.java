package dev.affinity.filter;

import dev.affinity.cookie.Rejection;
import dev.affinity.session.SessionMode;

/**
 * What {@link AffinityFilter} reports as it works, for metrics: the route decisions that reached a
 * response, the route cookies it treated as absent, and the session bytes it wrote. Set with
 * {@link AffinityFilterConfig#withListener}; every method defaults to doing nothing.
 *
 * <p>Implementations must be cheap, thread-safe and must not throw: they are called on the request
 * path, before the response commits. The filter has no metrics library of its own; the Spring Boot
 * starter binds these calls to Micrometer.
 */
public interface AffinityListener {

  /**
   * A response carried a route cookie pinning the client to this target ({@code pin()}, a
   * {@code @Sticky} method, a new session, or a re-pin after a failover). Counted once per decision
   * that reached the client, however often the cookie had to be written.
   */
  default void pinned() {}

  /** A response carried a route cookie pinning the client to another target ({@code moveTo}). */
  default void moved(String targetId) {}

  /** A response expired the client's route cookies ({@code release()}, {@code @ReleaseAffinity}). */
  default void released() {}

  /**
   * A route cookie the client sent was treated as absent, and why (garbled, forged, expired, sealed
   * with a foreign key...). A request without a route cookie is not reported.
   */
  default void routeCookieRejected(Rejection reason) {}

  /**
   * The filter's own session was written ({@code sessionMode} {@code cookie} or {@code redis}): the
   * sealed cookie value(s) in cookie mode, the attribute names and serialized values saved in redis mode.
   */
  default void sessionWritten(SessionMode mode, int bytes) {}

  /** A listener that ignores everything (the default). */
  static AffinityListener none() {
    return NoListener.INSTANCE;
  }
}

/** The default listener; the filter skips its measuring work when it sees this one. */
enum NoListener implements AffinityListener {
  INSTANCE
}
