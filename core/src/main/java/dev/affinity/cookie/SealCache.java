package dev.affinity.cookie;

import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Sealed values kept for reuse: a ticket equal to one sealed before, under the same key and cookie
 * name, gets the same value back without cryptography. Reusing a value is safe whatever the cipher:
 * it is a copy of an output, not a second plaintext under the same nonce (each seal still draws its
 * own nonce from {@link NonceSource}).
 *
 * <p>A direct-mapped table: one slot per (cookie name, target, group), found by hash, lock-free.
 * Times are left out of the slot's hash on purpose: the next granule's ticket of a target overwrites
 * the last one's, so the table holds about one entry per target and name and never grows. Two
 * targets sharing a slot only cost seals, never a wrong value: a hit compares everything sealed.
 */
final class SealCache {
  /** Enough for a thousand targets under a few names with few collisions; 16 KB of references. */
  static final int SLOTS = 4096;

  private final AffinityCookieCodec codec;
  private final AtomicReferenceArray<Sealed> slots = new AtomicReferenceArray<>(SLOTS);

  SealCache(AffinityCookieCodec codec) {
    this.codec = codec;
  }

  /** {@code ticket} sealed as {@code name} with the primary key: the value sealed before for an equal ticket, or a new one. */
  String seal(String name, AffinityTicket ticket) {
    return sealed(name, ticket).value;
  }

  /** As {@link #seal}, with the entry that holds the value (and the cookies last issued with it). */
  Sealed sealed(String name, AffinityTicket ticket) {
    // The keyring is fixed for a codec's life, but a value is only reused under the key it was sealed with.
    String keyId = codec.keyring().primaryId();
    int slot = slot(name, ticket);
    Sealed sealed = slots.getAcquire(slot);
    if (sealed != null && sealed.keyId.equals(keyId) && sealed.name.equals(name) && sealed.ticket.equals(ticket)) {
      return sealed;
    }
    sealed = new Sealed(keyId, name, ticket, codec.seal(name, ticket));
    slots.setRelease(slot, sealed);
    return sealed;
  }

  private static int slot(String name, AffinityTicket ticket) {
    int h = name.hashCode();
    h = 31 * h + ticket.targetId().hashCode();
    h = 31 * h + ticket.targetGroup().hashCode();
    h *= 0x9E3779B9; // spread the low bits the mask keeps
    return (h ^ (h >>> 16)) & (SLOTS - 1);
  }

  /** One sealed value, and the cookies {@link AffinityCookies#issue} last built around it (reused while they would come out the same). */
  static final class Sealed {
    final String keyId;
    final String name;
    final AffinityTicket ticket;
    final String value;
    /** Immutable once set; a race between two threads only costs one of them its build. */
    volatile Issued issued;

    Sealed(String keyId, String name, AffinityTicket ticket, String value) {
      this.keyId = keyId;
      this.name = name;
      this.ticket = ticket;
      this.value = value;
    }
  }

  /** The cookies issued for a value with one {@code Max-Age}, {@code Secure} and path, none of them a removal. */
  static final class Issued {
    final long maxAgeSeconds;
    final boolean secure;
    final String path;
    final List<SetCookie> cookies;

    Issued(long maxAgeSeconds, boolean secure, String path, List<SetCookie> cookies) {
      this.maxAgeSeconds = maxAgeSeconds;
      this.secure = secure;
      this.path = path;
      this.cookies = cookies;
    }

    boolean matches(long maxAgeSeconds, boolean secure, String path) {
      return this.maxAgeSeconds == maxAgeSeconds && this.secure == secure && this.path.equals(path);
    }
  }
}
