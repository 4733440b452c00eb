package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One request's view of one session, with dirty tracking: attributes are deserialized only when read,
 * and at {@link #pendingChange} only what was set, removed, or changed in place since the last save
 * (an attribute read and mutated without {@code setAttribute} is found by comparing its bytes) goes
 * to the store. The size limit is checked on every {@link #setAttribute}.
 *
 * <p>Thread-safe.
 */
public final class Session {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{22}");

  /** Measures a candidate session against the configured limit. */
  public interface Limit {
    /**
     * The candidate's size as the limit counts it: exact when it is over {@link #max()}; a candidate
     * that clearly fits may be answered with any size up to the maximum (to skip costly measuring).
     */
    int measure(SessionRecord candidate);

    int max();

    /** What is measured, for the message (e.g. "the sealed AFFINITYSESSION cookie"). */
    String what();
  }

  private final SessionSerializer serializer;
  private final Limit limit;
  private final boolean isNew;
  private final Instant accessedAt;
  private SessionRecord stored;
  private String id;
  private String previousId;
  private Duration maxInactive;
  private final Map<String, Object> live = new HashMap<>();
  private final Map<String, byte[]> set = new LinkedHashMap<>();
  private final Set<String> removed = new LinkedHashSet<>();
  private boolean metadataChanged;
  private boolean invalidated;
  private boolean unsaved;

  private Session(SessionRecord stored, boolean isNew, Instant accessedAt, SessionSerializer serializer, Limit limit) {
    this.stored = stored;
    this.id = stored.id();
    this.isNew = isNew;
    this.unsaved = isNew;
    this.accessedAt = accessedAt;
    this.maxInactive = stored.maxInactive();
    this.serializer = serializer;
    this.limit = limit;
  }

  /** A session the client has not joined yet, created now. */
  public static Session create(Instant now, Duration maxInactive, SessionSerializer serializer, Limit limit) {
    SessionRecord fresh = new SessionRecord(newId(), 0, now, now, requireNonNull(maxInactive, "maxInactive"), Map.of());
    return new Session(fresh, true, now, requireNonNull(serializer, "serializer"), requireNonNull(limit, "limit"));
  }

  /** A stored session the client came back with, accessed now. */
  public static Session resume(SessionRecord stored, Instant now, SessionSerializer serializer, Limit limit) {
    return new Session(requireNonNull(stored, "stored"), false, requireNonNull(now, "now"),
        requireNonNull(serializer, "serializer"), requireNonNull(limit, "limit"));
  }

  /** 128 random bits, base64url: 22 characters. */
  public static String newId() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** True for strings shaped like {@link #newId()}. */
  public static boolean isValidId(String id) {
    return id != null && ID.matcher(id).matches();
  }

  public synchronized String id() {
    return id;
  }

  /** The id before {@link #changeId()}, or {@code null}. */
  synchronized String previousId() {
    return previousId;
  }

  public boolean isNew() {
    return isNew;
  }

  public synchronized boolean isValid() {
    return !invalidated;
  }

  public synchronized Instant createdAt() {
    checkValid("getCreationTime");
    return stored.createdAt();
  }

  /** The previous access by the client (for a new session, its creation). */
  public synchronized Instant lastAccessedAt() {
    checkValid("getLastAccessedTime");
    return stored.lastAccessedAt();
  }

  /** This request's time. */
  public Instant accessedAt() {
    return accessedAt;
  }

  public synchronized Duration maxInactive() {
    return maxInactive;
  }

  public synchronized void maxInactive(Duration maxInactive) {
    this.maxInactive = Duration.ofSeconds(requireNonNull(maxInactive, "maxInactive").getSeconds());
    metadataChanged = true;
  }

  public synchronized Object getAttribute(String name) {
    checkValid("getAttribute");
    requireNonNull(name, "name");
    if (removed.contains(name)) {
      return null;
    }
    Object value = live.get(name);
    if (value != null) {
      return value;
    }
    byte[] bytes = stored.attributes().get(name);
    if (bytes == null) {
      return null;
    }
    value = serializer.deserialize(bytes);
    live.put(name, value);
    return value;
  }

  public synchronized List<String> attributeNames() {
    checkValid("getAttributeNames");
    Set<String> names = new LinkedHashSet<>(stored.attributes().keySet());
    names.removeAll(removed);
    names.addAll(set.keySet());
    return Collections.unmodifiableList(new ArrayList<>(names));
  }

  /**
   * Sets (or, for {@code null}, removes) an attribute.
   *
   * @return the previous value, or {@code null}
   * @throws IllegalStateException when the session would exceed its size limit (naming the limit and
   *     the size) or was invalidated
   * @throws IllegalArgumentException when the value cannot be serialized (naming its class)
   */
  public synchronized Object setAttribute(String name, Object value) {
    checkValid("setAttribute");
    requireNonNull(name, "name");
    if (value == null) {
      return removeAttribute(name);
    }
    byte[] bytes;
    try {
      bytes = serializer.serialize(value);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("session attribute \"" + name + "\": " + e.getMessage(), e);
    }
    Map<String, byte[]> candidate = new LinkedHashMap<>(stored.attributes());
    candidate.keySet().removeAll(removed);
    candidate.putAll(set);
    candidate.put(name, bytes);
    SessionRecord record = new SessionRecord(id, stored.version(), stored.createdAt(), accessedAt, maxInactive, candidate);
    int size = limit.measure(record);
    if (size > limit.max()) {
      throw new IllegalStateException("session attribute \"" + name + "\" would make " + limit.what() + " " + size
          + " bytes, over the limit sessionMaxBytes=" + limit.max() + "; the attribute was not set");
    }
    Object previous = getAttribute(name);
    live.put(name, value);
    set.put(name, bytes);
    removed.remove(name);
    return previous;
  }

  /** @return the removed value, or {@code null} */
  public synchronized Object removeAttribute(String name) {
    checkValid("removeAttribute");
    Object previous = getAttribute(name);
    live.remove(name);
    set.remove(name);
    if (stored.attributes().containsKey(name)) {
      removed.add(name);
    }
    return previous;
  }

  /** Ends the session: the filter deletes it from the store or expires its cookie. */
  public synchronized void invalidate() {
    checkValid("invalidate");
    invalidated = true;
  }

  /** Gives the session a new id (session fixation); attributes and times are kept. */
  public synchronized String changeId() {
    checkValid("changeSessionId");
    if (previousId == null && !unsaved) {
      previousId = id;
    }
    id = newId();
    unsaved = true;
    return id;
  }

  /** True until the session was saved (or sealed) under its current id. */
  public synchronized boolean unsaved() {
    return unsaved;
  }

  private void checkValid(String method) {
    if (invalidated) {
      throw new IllegalStateException(method + ": the session was invalidated");
    }
  }

  /**
   * What to write since the last save, or {@code null} when nothing changed. A session new or under a
   * new id is written whole.
   *
   * @throws IllegalStateException when an attribute changed in place past the size limit
   */
  public synchronized SessionChange pendingChange() {
    Map<String, byte[]> changed = new LinkedHashMap<>(set);
    for (Map.Entry<String, Object> e : live.entrySet()) {
      if (!set.containsKey(e.getKey())) {
        byte[] now = serializer.serialize(e.getValue());
        if (!Arrays.equals(now, stored.attributes().get(e.getKey()))) {
          changed.put(e.getKey(), now);
        }
      }
    }
    if (changed.isEmpty() && removed.isEmpty() && !metadataChanged && !unsaved) {
      return null;
    }
    SessionChange change;
    if (unsaved) {
      Map<String, byte[]> all = new LinkedHashMap<>(stored.attributes());
      all.keySet().removeAll(removed);
      all.putAll(changed);
      change = new SessionChange(id, 0, 1, stored.createdAt(), accessedAt, maxInactive, all, Set.of(), true);
    } else {
      change = new SessionChange(id, stored.version(), stored.version() + 1, stored.createdAt(), accessedAt,
          maxInactive, changed, removed, false);
    }
    if (!changed.isEmpty()) {
      int size = limit.measure(stored.apply(change));
      if (size > limit.max()) {
        throw new IllegalStateException("session attributes " + changed.keySet() + " changed in place make "
            + limit.what() + " " + size + " bytes, over the limit sessionMaxBytes=" + limit.max()
            + "; the session was not saved");
      }
    }
    return change;
  }

  /** The whole session as it stands, last accessed now. */
  public synchronized SessionRecord snapshot() {
    SessionChange change = pendingChange();
    SessionRecord now = change == null ? stored : stored.apply(change);
    return new SessionRecord(id, now.version(), now.createdAt(), accessedAt, maxInactive, now.attributes());
  }

  /** Records that {@code change} is stored, now at {@code version}. */
  public synchronized void saved(SessionChange change, long version) {
    stored = (change == null ? stored : stored.apply(change)).withVersion(version);
    set.clear();
    removed.clear();
    metadataChanged = false;
    unsaved = false;
  }

  /** The version loaded or last saved. */
  public synchronized long version() {
    return stored.version();
  }

  @Override
  public synchronized String toString() {
    return "Session{" + id.substring(0, 6) + "…, v" + stored.version() + (isNew ? ", new" : "")
        + (invalidated ? ", invalidated" : "") + "}";
  }
}
