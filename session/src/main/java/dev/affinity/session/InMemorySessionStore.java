package dev.affinity.session;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** {@link SessionStore#inMemory}: a map, with the same version rules as the Redis store. */
final class InMemorySessionStore implements SessionStore {
  private final ConcurrentHashMap<String, SessionRecord> sessions = new ConcurrentHashMap<>();
  private final SessionStoreCounters counters = new SessionStoreCounters();
  private final Clock clock;

  InMemorySessionStore(Clock clock) {
    this.clock = clock;
  }

  private SessionRecord live(String id) {
    SessionRecord r = sessions.get(id);
    if (r != null && r.isExpiredAt(clock.instant())) {
      sessions.remove(id, r);
      return null;
    }
    return r;
  }

  @Override
  public Optional<SessionRecord> load(String id) {
    return Optional.ofNullable(live(id));
  }

  @Override
  public long version(String id) {
    SessionRecord r = live(id);
    return r == null ? 0 : r.version();
  }

  @Override
  public SaveResult save(SessionChange change) {
    SaveResult[] result = new SaveResult[1];
    live(change.id());
    sessions.compute(change.id(), (id, current) -> {
      long found = current == null ? 0 : current.version();
      if (found != change.expectedVersion()) {
        result[0] = SaveResult.conflict(found);
        return current;
      }
      SessionRecord base = current != null ? current
          : new SessionRecord(id, 0, change.createdAt(), change.lastAccessedAt(), change.maxInactive(), java.util.Map.of());
      result[0] = SaveResult.saved(change.newVersion());
      return base.apply(change);
    });
    if (result[0].isConflict()) {
      counters.conflict();
    }
    return result[0];
  }

  @Override
  public void touch(String id, Instant lastAccessedAt, Duration maxInactive) {
    sessions.computeIfPresent(id, (k, r) -> r.withLastAccessedAt(lastAccessedAt));
  }

  @Override
  public void delete(String id) {
    sessions.remove(id);
  }

  @Override
  public SessionStoreCounters counters() {
    return counters;
  }

  @Override
  public String toString() {
    return "in-memory session store (" + sessions.size() + " sessions)";
  }
}
