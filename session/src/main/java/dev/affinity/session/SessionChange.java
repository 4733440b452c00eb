package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * What one request changed in a session: the attributes it set or changed (serialized), the ones it
 * removed, and the metadata. A store applies it only when the stored version is still
 * {@link #expectedVersion()} (0: the session must not exist yet), and then stores
 * {@link #newVersion()}.
 */
public final class SessionChange {
  private final String id;
  private final long expectedVersion;
  private final long newVersion;
  private final Instant createdAt;
  private final Instant lastAccessedAt;
  private final Duration maxInactive;
  private final Map<String, byte[]> changed;
  private final Set<String> removed;
  private final boolean replacesAll;

  public SessionChange(String id, long expectedVersion, long newVersion, Instant createdAt, Instant lastAccessedAt,
      Duration maxInactive, Map<String, byte[]> changed, Set<String> removed, boolean replacesAll) {
    this.id = requireNonNull(id, "id");
    this.expectedVersion = expectedVersion;
    this.newVersion = newVersion;
    this.createdAt = requireNonNull(createdAt, "createdAt");
    this.lastAccessedAt = requireNonNull(lastAccessedAt, "lastAccessedAt");
    this.maxInactive = requireNonNull(maxInactive, "maxInactive");
    this.changed = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(changed, "changed")));
    this.removed = Collections.unmodifiableSet(new LinkedHashSet<>(requireNonNull(removed, "removed")));
    this.replacesAll = replacesAll;
    if (expectedVersion < 0 || newVersion <= expectedVersion) {
      throw new IllegalArgumentException("session versions must move forward: expected " + expectedVersion
          + ", new " + newVersion);
    }
  }

  /** The whole of {@code record}, to be stored under its id where nothing is stored yet. */
  public static SessionChange creating(SessionRecord record) {
    return new SessionChange(record.id(), 0, 1, record.createdAt(), record.lastAccessedAt(), record.maxInactive(),
        record.attributes(), Set.of(), true);
  }

  public String id() {
    return id;
  }

  public long expectedVersion() {
    return expectedVersion;
  }

  public long newVersion() {
    return newVersion;
  }

  public Instant createdAt() {
    return createdAt;
  }

  public Instant lastAccessedAt() {
    return lastAccessedAt;
  }

  public Duration maxInactive() {
    return maxInactive;
  }

  public Map<String, byte[]> changed() {
    return changed;
  }

  public Set<String> removed() {
    return removed;
  }

  /** True when the stored attributes are dropped first (a new session, or one under a new id). */
  public boolean replacesAll() {
    return replacesAll;
  }

  /**
   * This change followed by {@code later} (for the same session), as one: it still expects this
   * change's version and ends at {@code later}'s.
   */
  public SessionChange then(SessionChange later) {
    requireNonNull(later, "later");
    if (!later.id.equals(id)) {
      throw new IllegalArgumentException("cannot merge changes of two sessions");
    }
    Map<String, byte[]> set = later.replacesAll ? new LinkedHashMap<>() : new LinkedHashMap<>(changed);
    Set<String> gone = later.replacesAll ? new LinkedHashSet<>() : new LinkedHashSet<>(removed);
    set.keySet().removeAll(later.removed);
    gone.addAll(later.removed);
    set.putAll(later.changed);
    gone.removeAll(later.changed.keySet());
    return new SessionChange(id, expectedVersion, Math.max(later.newVersion, expectedVersion + 1), later.createdAt,
        later.lastAccessedAt, later.maxInactive, set, gone, replacesAll || later.replacesAll);
  }

  @Override
  public String toString() {
    return "SessionChange{v" + expectedVersion + "→" + newVersion + ", set=" + changed.keySet() + ", removed="
        + removed + (replacesAll ? ", replaces all" : "") + "}";
  }
}
