package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Where server-side sessions live, shared by every target of an application. Implementations are
 * thread-safe. Every method throws {@link SessionStoreException} when the store cannot answer.
 *
 * <p>Writes are optimistic: {@link #save} applies a {@link SessionChange} only when the stored version
 * is the one the change expects, and otherwise reports {@link SaveResult.Outcome#CONFLICT} without
 * writing anything.
 */
public interface SessionStore extends AutoCloseable {

  /** The live session stored under {@code id}, or empty when there is none (or it has expired). */
  Optional<SessionRecord> load(String id);

  /** The version stored under {@code id}, 0 when there is none; cheaper than {@link #load}. */
  long version(String id);

  /** Applies {@code change} if the stored version is still {@link SessionChange#expectedVersion()}. */
  SaveResult save(SessionChange change);

  /** Records an access (last accessed time, and the time to live) without a new version. */
  void touch(String id, Instant lastAccessedAt, Duration maxInactive);

  void delete(String id);

  /** Counters: warnings, retries, conflicts, near-cache hits and misses. */
  SessionStoreCounters counters();

  @Override
  default void close() {}

  /** A store in this JVM's memory, for tests and single-instance use; expiry follows {@code clock}. */
  static SessionStore inMemory(Clock clock) {
    return new InMemorySessionStore(requireNonNull(clock, "clock"));
  }

  /**
   * {@code store} behind a bounded Caffeine near-cache. A cached session is served after one cheap
   * {@link #version} check against the store (so a session changed by another target is never served
   * stale), and served as is while the store is unreachable (counted as a warning).
   *
   * @param maximumSize sessions kept (0 turns the cache off)
   * @param ttl how long a cached session is kept after it was loaded or saved
   */
  static SessionStore nearCached(SessionStore store, long maximumSize, Duration ttl, Clock clock) {
    requireNonNull(store, "store");
    requireNonNull(ttl, "ttl");
    requireNonNull(clock, "clock");
    if (maximumSize < 0) {
      throw new IllegalArgumentException("near-cache maximum size must be >= 0, got " + maximumSize);
    }
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("near-cache ttl must be positive, got " + ttl);
    }
    return maximumSize == 0 ? store : new NearCachedSessionStore(store, maximumSize, ttl, clock);
  }
}
