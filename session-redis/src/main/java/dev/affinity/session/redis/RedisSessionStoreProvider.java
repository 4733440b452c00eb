package dev.affinity.session.redis;

import static java.util.Objects.requireNonNull;

import dev.affinity.session.SessionSettings;
import dev.affinity.session.SessionStore;
import dev.affinity.session.SessionStoreProvider;
import java.time.Clock;
import java.util.Locale;

/**
 * Opens {@link RedisSessionStore}s for {@code redis://}, {@code rediss://}, {@code redis-sentinel://}
 * (Lettuce's own URI forms) and {@code redis-cluster://h1:p1,h2:p2} / {@code rediss-cluster://…} (a
 * Redis Cluster, by its seed nodes).
 */
public final class RedisSessionStoreProvider implements SessionStoreProvider {

  @Override
  public boolean supports(String uri) {
    String lower = requireNonNull(uri, "uri").toLowerCase(Locale.ROOT);
    return lower.startsWith("redis://") || lower.startsWith("rediss://") || lower.startsWith("redis-sentinel://")
        || lower.startsWith("rediss-sentinel://") || lower.startsWith("redis-socket://")
        || lower.startsWith("redis-cluster://") || lower.startsWith("rediss-cluster://");
  }

  @Override
  public SessionStore open(SessionSettings settings, Clock clock) {
    requireNonNull(settings, "settings");
    requireNonNull(clock, "clock");
    return new RedisSessionStore(settings.redisUri(), settings.redactedUri(), settings.keyPrefix(), clock);
  }

  /** A store without the filter, for programs and tests. */
  public static SessionStore open(String uri, String keyPrefix, Clock clock) {
    SessionSettings settings = SessionSettings.builder().redisUri(uri).keyPrefix(keyPrefix).build();
    return new RedisSessionStoreProvider().open(settings, clock);
  }
}
