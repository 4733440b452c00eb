package dev.affinity.session;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link SessionStore#nearCached}: a per-target Caffeine cache in front of a shared store. */
final class NearCachedSessionStore implements SessionStore {
  private static final Logger LOG = LoggerFactory.getLogger(NearCachedSessionStore.class);

  private final SessionStore store;
  private final Cache<String, SessionRecord> cache;
  private final Clock clock;

  NearCachedSessionStore(SessionStore store, long maximumSize, Duration ttl, Clock clock) {
    this.store = store;
    this.clock = clock;
    this.cache = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .expireAfterWrite(ttl)
        .ticker(() -> clock.millis() * 1_000_000L)
        .build();
  }

  @Override
  public Optional<SessionRecord> load(String id) {
    SessionRecord cached = cache.getIfPresent(id);
    if (cached != null) {
      if (cached.isExpiredAt(clock.instant())) {
        cache.invalidate(id);
        return Optional.empty();
      }
      long stored;
      try {
        stored = store.version(id);
      } catch (SessionStoreException e) {
        counters().warning();
        LOG.warn("session store unreachable ({}); serving session from the near-cache", e.getMessage());
        return Optional.of(cached);
      }
      if (stored == cached.version()) {
        counters().hit();
        return Optional.of(cached);
      }
      cache.invalidate(id);
    }
    counters().miss();
    Optional<SessionRecord> loaded = store.load(id);
    loaded.ifPresent(r -> cache.put(id, r));
    return loaded;
  }

  @Override
  public long version(String id) {
    return store.version(id);
  }

  @Override
  public SaveResult save(SessionChange change) {
    SessionRecord before = cache.getIfPresent(change.id());
    SaveResult result;
    try {
      result = store.save(change);
    } catch (RuntimeException e) {
      cache.invalidate(change.id());
      throw e;
    }
    if (result.isConflict() || result.outcome() == SaveResult.Outcome.PENDING) {
      // PENDING: not in the store yet, so not served from here either (the session model answers 503 for it).
      cache.invalidate(change.id());
    } else if (change.replacesAll() || (before != null && before.version() == change.expectedVersion())) {
      SessionRecord base = before != null && !change.replacesAll() ? before
          : new SessionRecord(change.id(), 0, change.createdAt(), change.lastAccessedAt(), change.maxInactive(),
              java.util.Map.of());
      cache.put(change.id(), base.apply(change));
    } else {
      cache.invalidate(change.id());
    }
    return result;
  }

  @Override
  public void touch(String id, Instant lastAccessedAt, Duration maxInactive) {
    store.touch(id, lastAccessedAt, maxInactive);
    SessionRecord cached = cache.getIfPresent(id);
    if (cached != null) {
      cache.put(id, cached.withLastAccessedAt(lastAccessedAt));
    }
  }

  @Override
  public void delete(String id) {
    cache.invalidate(id);
    store.delete(id);
  }

  @Override
  public SessionStoreCounters counters() {
    return store.counters();
  }

  @Override
  public void close() {
    cache.invalidateAll();
    store.close();
  }

  @Override
  public String toString() {
    return store + " behind a near-cache";
  }
}
