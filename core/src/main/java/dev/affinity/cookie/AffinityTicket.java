package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.Arrays;

/**
 * What an affinity cookie says once opened: which target (and target group) a client is pinned to,
 * when that was sealed and until when it holds, plus optional opaque application bytes.
 *
 * <p>Times are kept to the millisecond, which is what the sealed form carries.
 */
public final class AffinityTicket {
  /** Target and group ids are carried with a one-byte length: longer ids are refused when sealing. */
  public static final int MAX_ID_BYTES = 255;

  private final String targetId;
  private final String targetGroup;
  private final Instant issuedAt;
  private final Instant expiresAt;
  private final byte[] extra;

  private AffinityTicket(String targetId, String targetGroup, Instant issuedAt, Instant expiresAt, byte[] extra) {
    this.targetId = requireNonNull(targetId, "targetId");
    this.targetGroup = requireNonNull(targetGroup, "targetGroup");
    this.issuedAt = truncate(requireNonNull(issuedAt, "issuedAt"));
    this.expiresAt = truncate(requireNonNull(expiresAt, "expiresAt"));
    this.extra = requireNonNull(extra, "extra");
    if (targetId.isEmpty()) {
      throw new IllegalArgumentException("targetId must not be empty");
    }
    if (this.expiresAt.isBefore(this.issuedAt)) {
      throw new IllegalArgumentException(
          "expiresAt " + expiresAt + " is before issuedAt " + issuedAt + " for target " + targetId);
    }
  }

  public static AffinityTicket of(String targetId, String targetGroup, Instant issuedAt, Instant expiresAt) {
    return new AffinityTicket(targetId, targetGroup, issuedAt, expiresAt, new byte[0]);
  }

  public static AffinityTicket of(
      String targetId, String targetGroup, Instant issuedAt, Instant expiresAt, byte[] extra) {
    return new AffinityTicket(targetId, targetGroup, issuedAt, expiresAt, requireNonNull(extra, "extra").clone());
  }

  /** Used by the decoder, which already owns a fresh array. */
  static AffinityTicket owning(
      String targetId, String targetGroup, Instant issuedAt, Instant expiresAt, byte[] extra) {
    return new AffinityTicket(targetId, targetGroup, issuedAt, expiresAt, extra);
  }

  public String targetId() {
    return targetId;
  }

  public String targetGroup() {
    return targetGroup;
  }

  public Instant issuedAt() {
    return issuedAt;
  }

  public Instant expiresAt() {
    return expiresAt;
  }

  /** A copy of the application bytes (empty when none). */
  public byte[] extra() {
    return extra.clone();
  }

  int extraLength() {
    return extra.length;
  }

  byte[] extraUnsafe() {
    return extra;
  }

  public boolean isExpiredAt(Instant now) {
    return !now.isBefore(expiresAt);
  }

  /** The same pin moved to another target (failover, re-pin): times and extra bytes are kept. */
  public AffinityTicket withTarget(String newTargetId, String newTargetGroup) {
    return new AffinityTicket(newTargetId, newTargetGroup, issuedAt, expiresAt, extra);
  }

  /** The same pin with a new validity window, as a sliding expiry refresh does. */
  public AffinityTicket withValidity(Instant newIssuedAt, Instant newExpiresAt) {
    return new AffinityTicket(targetId, targetGroup, newIssuedAt, newExpiresAt, extra);
  }

  private static Instant truncate(Instant instant) {
    // Most instants are whole milliseconds already (the clock's, the decoder's): no copy for those.
    return instant.getNano() % 1_000_000 == 0 ? instant : Instant.ofEpochMilli(instant.toEpochMilli());
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof AffinityTicket)) {
      return false;
    }
    AffinityTicket that = (AffinityTicket) o;
    return targetId.equals(that.targetId)
        && targetGroup.equals(that.targetGroup)
        && issuedAt.equals(that.issuedAt)
        && expiresAt.equals(that.expiresAt)
        && Arrays.equals(extra, that.extra);
  }

  @Override
  public int hashCode() {
    int h = targetId.hashCode();
    h = 31 * h + targetGroup.hashCode();
    h = 31 * h + issuedAt.hashCode();
    h = 31 * h + expiresAt.hashCode();
    return 31 * h + Arrays.hashCode(extra);
  }

  @Override
  public String toString() {
    return "AffinityTicket{target=" + targetId + ", group=" + targetGroup + ", issuedAt=" + issuedAt
        + ", expiresAt=" + expiresAt + ", extra=" + extra.length + " bytes}";
  }
}
