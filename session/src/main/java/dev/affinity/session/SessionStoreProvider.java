package dev.affinity.session;

import java.time.Clock;

/**
 * Opens a {@link SessionStore} for a store URI; found with {@link java.util.ServiceLoader}, so that
 * the filter needs no Redis client unless the application ships one (module
 * {@code affinity-session-redis}).
 */
public interface SessionStoreProvider {

  /** True for URIs this provider opens (by scheme). */
  boolean supports(String uri);

  /** A store for {@link SessionSettings#redisUri()}; connecting may happen later, on first use. */
  SessionStore open(SessionSettings settings, Clock clock);
}
