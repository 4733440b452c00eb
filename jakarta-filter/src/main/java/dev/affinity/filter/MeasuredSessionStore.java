package dev.affinity.filter;

import dev.affinity.session.SaveResult;
import dev.affinity.session.SessionChange;
import dev.affinity.session.SessionMode;
import dev.affinity.session.SessionRecord;
import dev.affinity.session.SessionStore;
import dev.affinity.session.SessionStoreCounters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * Redis mode with a listener: reports the bytes of each change the store accepted (attribute names
 * plus serialized values, the measure {@code sessionMaxBytes} limits). Only installed when a listener
 * is set, so the default filter pays nothing for it.
 */
final class MeasuredSessionStore implements SessionStore {
  private final SessionStore store;
  private final AffinityListener listener;

  MeasuredSessionStore(SessionStore store, AffinityListener listener) {
    this.store = store;
    this.listener = listener;
  }

  @Override
  public Optional<SessionRecord> load(String id) {
    return store.load(id);
  }

  @Override
  public long version(String id) {
    return store.version(id);
  }

  @Override
  public SaveResult save(SessionChange change) {
    SaveResult result = store.save(change);
    if (!result.isConflict()) {
      int bytes = 0;
      for (Map.Entry<String, byte[]> e : change.changed().entrySet()) {
        bytes += e.getKey().getBytes(StandardCharsets.UTF_8).length + e.getValue().length;
      }
      listener.sessionWritten(SessionMode.REDIS, bytes);
    }
    return result;
  }

  @Override
  public void touch(String id, Instant lastAccessedAt, Duration maxInactive) {
    store.touch(id, lastAccessedAt, maxInactive);
  }

  @Override
  public void delete(String id) {
    store.delete(id);
  }

  @Override
  public SessionStoreCounters counters() {
    return store.counters();
  }

  @Override
  public void close() {
    store.close();
  }

  @Override
  public String toString() {
    return store.toString();
  }
}
