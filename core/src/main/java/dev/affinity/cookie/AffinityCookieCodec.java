package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.util.Optional;

/**
 * Seals {@link AffinityTicket}s into cookie values and opens them again.
 *
 * <p>A sealed value is base64url (no padding) of
 * {@code version | sealing | name tag | key id | nonce | ciphertext+tag}. The cookie's logical name is
 * associated data: a value sealed for {@code AFFINITY} does not open as {@code AFFINITYROUTE}.
 *
 * <p>{@link #open} never throws for any input: a value that is missing, malformed, forged, sealed
 * with an unknown key or for another name, or expired comes back empty, and the reason is reported to
 * the {@link CodecMetrics}. Values seen before are served from a bounded cache without cryptography;
 * their expiry is still checked against the clock.
 */
public interface AffinityCookieCodec {

  /** Seals a ticket for the cookie called {@code cookieName}, with the keyring's primary key. */
  String seal(String cookieName, AffinityTicket ticket);

  /** Opens a value sent as cookie {@code cookieName}; empty for anything that is not a valid, live ticket. */
  Optional<AffinityTicket> open(String cookieName, String value);

  Keyring keyring();

  Clock clock();

  /** Where opens, seals and rejections are reported. */
  CodecMetrics metrics();

  static Builder builder() {
    return new Builder();
  }

  /** Configures a codec; every setter checks its argument and says what was wrong with it. */
  final class Builder {
    // 10 000 entries of about 330 bytes: at most ~3.3 MB whatever the number of clients. A miss costs
    // one AES-GCM open (about 1 µs), so a balancer with far more active clients can raise it.
    static final long DEFAULT_CACHE_SIZE = 10_000;
    static final int DEFAULT_MAX_VALUE_LENGTH = 16_384;

    Keyring keyring;
    Sealing sealing = Sealing.AES_256_GCM;
    Clock clock = Clock.systemUTC();
    long cacheMaximumSize = DEFAULT_CACHE_SIZE;
    int maxValueLength = DEFAULT_MAX_VALUE_LENGTH;
    CodecMetrics metrics = CodecMetrics.noop();

    private Builder() {}

    public Builder keyring(Keyring keyring) {
      this.keyring = requireNonNull(keyring, "keyring");
      return this;
    }

    public Builder sealing(Sealing sealing) {
      this.sealing = requireNonNull(sealing, "sealing");
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** How many opened values to remember (0 turns the cache off). Default 10 000 (about 3.3 MB at most). */
    public Builder cacheMaximumSize(long size) {
      if (size < 0) {
        throw new IllegalArgumentException("cacheMaximumSize must be >= 0, got " + size);
      }
      this.cacheMaximumSize = size;
      return this;
    }

    /** Longer values are rejected before any decoding. Default 16 384 characters. */
    public Builder maxValueLength(int length) {
      if (length < 64) {
        throw new IllegalArgumentException("maxValueLength must be >= 64, got " + length);
      }
      this.maxValueLength = length;
      return this;
    }

    public Builder metrics(CodecMetrics metrics) {
      this.metrics = requireNonNull(metrics, "metrics");
      return this;
    }

    public AffinityCookieCodec build() {
      if (keyring == null) {
        throw new IllegalStateException("keyring is required (Keyring.builder(), Keyring.derived() or Keyring.ephemeral())");
      }
      return new SealedCookieCodec(this);
    }
  }
}
