package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A session as a store keeps it: id, optimistic version, times, and each attribute already serialized
 * (by a {@link SessionSerializer}). Immutable; the attribute arrays are never handed out for writing.
 *
 * <p>A {@code maxInactive} of zero or less means the session never times out.
 */
public final class SessionRecord {
  private static final byte FORMAT = 1;
  /** Ids are base64url of 16 random bytes; anything longer than this is not one of ours. */
  static final int MAX_ID_LENGTH = 64;

  private final String id;
  private final long version;
  private final Instant createdAt;
  private final Instant lastAccessedAt;
  private final Duration maxInactive;
  private final Map<String, byte[]> attributes;

  public SessionRecord(String id, long version, Instant createdAt, Instant lastAccessedAt, Duration maxInactive,
      Map<String, byte[]> attributes) {
    this.id = requireNonNull(id, "id");
    this.version = version;
    this.createdAt = Instant.ofEpochMilli(requireNonNull(createdAt, "createdAt").toEpochMilli());
    this.lastAccessedAt = Instant.ofEpochMilli(requireNonNull(lastAccessedAt, "lastAccessedAt").toEpochMilli());
    this.maxInactive = Duration.ofSeconds(requireNonNull(maxInactive, "maxInactive").getSeconds());
    this.attributes = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(attributes, "attributes")));
    if (id.isEmpty() || id.length() > MAX_ID_LENGTH) {
      throw new IllegalArgumentException("session id must be 1-" + MAX_ID_LENGTH + " characters, got " + id.length());
    }
    if (version < 0) {
      throw new IllegalArgumentException("session version must be >= 0, got " + version);
    }
  }

  public String id() {
    return id;
  }

  /** 0 for a session no store has saved yet; each successful save moves it on. */
  public long version() {
    return version;
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

  /** Serialized attributes by name (unmodifiable; do not write into the arrays). */
  public Map<String, byte[]> attributes() {
    return attributes;
  }

  /** True once the session has been idle for its maximum inactive interval. */
  public boolean isExpiredAt(Instant now) {
    return !maxInactive.isZero() && !maxInactive.isNegative()
        && !now.isBefore(lastAccessedAt.plus(maxInactive));
  }

  /** Attribute names and values in bytes, as the size limit counts them. */
  public int attributeBytes() {
    int size = 0;
    for (Map.Entry<String, byte[]> e : attributes.entrySet()) {
      size += e.getKey().length() + e.getValue().length;
    }
    return size;
  }

  public SessionRecord withVersion(long newVersion) {
    return new SessionRecord(id, newVersion, createdAt, lastAccessedAt, maxInactive, attributes);
  }

  public SessionRecord withLastAccessedAt(Instant at) {
    return new SessionRecord(id, version, createdAt, at, maxInactive, attributes);
  }

  /** This record with {@code change} applied (the store's view after a successful save). */
  public SessionRecord apply(SessionChange change) {
    Map<String, byte[]> merged = change.replacesAll() ? new LinkedHashMap<>() : new LinkedHashMap<>(attributes);
    merged.keySet().removeAll(change.removed());
    merged.putAll(change.changed());
    return new SessionRecord(change.id(), change.newVersion(), change.createdAt(), change.lastAccessedAt(),
        change.maxInactive(), merged);
  }

  /** The compact binary form the client-side session cookie carries (without the version). */
  public byte[] toBytes() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + attributeBytes() + 8 * attributes.size());
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(FORMAT);
      out.writeUTF(id);
      out.writeLong(createdAt.toEpochMilli());
      out.writeLong(lastAccessedAt.toEpochMilli());
      out.writeLong(maxInactive.getSeconds());
      out.writeInt(attributes.size());
      for (Map.Entry<String, byte[]> e : attributes.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeInt(e.getValue().length);
        out.write(e.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Reads {@link #toBytes()}; empty for anything malformed (never throws). */
  public static Optional<SessionRecord> fromBytes(byte[] data) {
    if (data == null || data.length < 2 || data[0] != FORMAT) {
      return Optional.empty();
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
      in.readByte();
      String id = in.readUTF();
      Instant created = Instant.ofEpochMilli(in.readLong());
      Instant accessed = Instant.ofEpochMilli(in.readLong());
      Duration maxInactive = Duration.ofSeconds(in.readLong());
      int count = in.readInt();
      if (count < 0 || count > data.length) {
        return Optional.empty();
      }
      Map<String, byte[]> attributes = new LinkedHashMap<>();
      for (int i = 0; i < count; i++) {
        String name = in.readUTF();
        int length = in.readInt();
        if (length < 0 || length > in.available()) {
          return Optional.empty();
        }
        attributes.put(name, in.readNBytes(length));
      }
      if (in.available() != 0) {
        return Optional.empty();
      }
      return Optional.of(new SessionRecord(id, 0, created, accessed, maxInactive, attributes));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  @Override
  public String toString() {
    return "SessionRecord{" + id.substring(0, Math.min(6, id.length())) + "…, v" + version + ", "
        + attributes.keySet() + "}";
  }
}
