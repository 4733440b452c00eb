package dev.affinity.cookie;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

final class SealedCookieCodec implements AffinityCookieCodec {
  static final byte VERSION = 1;
  /** version, sealing, name tag (2), key id length. */
  static final int FIXED_HEADER_BYTES = 5;
  private static final Logger LOG = LoggerFactory.getLogger(SealedCookieCodec.class);
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

  private final Keyring keyring;
  private final Sealing sealing;
  private final Aead aead;
  private final Clock clock;
  private final int maxValueLength;
  private final CodecMetrics metrics;
  private final Cache<String, Opened> cache;
  private final ConcurrentHashMap<String, Name> names = new ConcurrentHashMap<>();

  SealedCookieCodec(Builder builder) {
    this.keyring = builder.keyring;
    this.sealing = builder.sealing;
    this.aead = Aead.of(sealing);
    this.clock = builder.clock;
    this.maxValueLength = builder.maxValueLength;
    this.metrics = builder.metrics;
    this.cache = builder.cacheMaximumSize == 0
        ? null
        : Caffeine.newBuilder().maximumSize(builder.cacheMaximumSize).build();
  }

  @Override
  public Keyring keyring() {
    return keyring;
  }

  @Override
  public Clock clock() {
    return clock;
  }

  @Override
  public CodecMetrics metrics() {
    return metrics;
  }

  @Override
  public String seal(String cookieName, AffinityTicket ticket) {
    Name name = name(cookieName);
    Keyring.Key key = keyring.primary();
    byte[] plaintext = TicketFormat.encode(ticket);
    int nonceOffset = FIXED_HEADER_BYTES + key.idBytes.length;
    byte[] token = new byte[nonceOffset + Aead.NONCE_BYTES + plaintext.length + Aead.TAG_BYTES];
    token[0] = VERSION;
    token[1] = sealing.id;
    token[2] = (byte) (name.tag >>> 8);
    token[3] = (byte) name.tag;
    token[4] = (byte) key.idBytes.length;
    System.arraycopy(key.idBytes, 0, token, FIXED_HEADER_BYTES, key.idBytes.length);
    NonceSource.next(token, nonceOffset);
    try {
      aead.seal(key, token, nonceOffset, name.bytes, plaintext);
    } catch (Exception e) {
      throw new IllegalStateException("sealing a " + sealing + " cookie failed", e);
    }
    metrics.sealed();
    return ENCODER.encodeToString(token);
  }

  @Override
  public Optional<AffinityTicket> open(String cookieName, String value) {
    if (value == null || cookieName == null) {
      return Optional.empty();
    }
    try {
      return openChecked(cookieName, value);
    } catch (RuntimeException e) {
      // The checks below are meant to leave nothing to throw; this is a net, not a path.
      LOG.debug("unexpected failure opening cookie {}; treated as tampered", cookieName, e);
      return reject(Rejection.TAMPERED);
    }
  }

  private Optional<AffinityTicket> openChecked(String cookieName, String value) {
    if (value.isEmpty()) {
      return reject(Rejection.EMPTY);
    }
    if (value.length() > maxValueLength) {
      return reject(Rejection.OVERSIZED);
    }
    long now = clock.millis();
    if (cache != null) {
      Opened opened = cache.getIfPresent(value);
      if (opened != null) {
        if (!opened.cookieName.equals(cookieName)) {
          return reject(Rejection.WRONG_NAME);
        }
        if (now >= opened.expiresAtMillis) {
          cache.invalidate(value);
          return reject(Rejection.EXPIRED);
        }
        metrics.opened(true);
        return opened.ticket;
      }
    }
    byte[] token;
    try {
      token = DECODER.decode(value);
    } catch (IllegalArgumentException e) {
      return reject(Rejection.NOT_BASE64);
    }
    if (!isCanonical(value, token.length)) {
      // The JDK decoder accepts padding and ignores the spare bits of the last character, so several
      // strings decode to the same token. Only the one string seal() writes is accepted: a changed
      // value never opens, and the cache cannot be filled with aliases of one cookie.
      return reject(Rejection.NOT_BASE64);
    }
    if (token.length < FIXED_HEADER_BYTES) {
      return reject(Rejection.TRUNCATED);
    }
    Sealing tokenSealing = Sealing.byId(token[1]);
    if (token[0] != VERSION || tokenSealing == null) {
      return reject(Rejection.UNSUPPORTED_VERSION);
    }
    int keyIdLength = token[4] & 0xFF;
    int nonceOffset = FIXED_HEADER_BYTES + keyIdLength;
    if (keyIdLength == 0
        || token.length < nonceOffset + Aead.NONCE_BYTES + TicketFormat.MIN_BYTES + Aead.TAG_BYTES) {
      return reject(Rejection.TRUNCATED);
    }
    Keyring.Key key = keyring.key(new String(token, FIXED_HEADER_BYTES, keyIdLength, StandardCharsets.ISO_8859_1));
    if (key == null) {
      return reject(Rejection.UNKNOWN_KEY);
    }
    Name name = name(cookieName);
    if ((((token[2] & 0xFF) << 8) | (token[3] & 0xFF)) != name.tag) {
      return reject(Rejection.WRONG_NAME);
    }
    byte[] plaintext = Aead.of(tokenSealing).open(key, token, nonceOffset, name.bytes);
    if (plaintext == null) {
      return reject(Rejection.TAMPERED);
    }
    AffinityTicket ticket = TicketFormat.decode(plaintext);
    if (ticket == null) {
      return reject(Rejection.TRUNCATED);
    }
    long expiresAt = ticket.expiresAt().toEpochMilli();
    if (now >= expiresAt) {
      return reject(Rejection.EXPIRED);
    }
    Optional<AffinityTicket> result = Optional.of(ticket);
    if (cache != null) {
      cache.put(value, new Opened(cookieName, result, expiresAt));
    }
    metrics.opened(false);
    return result;
  }

  /** True when {@code value} is exactly what the encoder writes for {@code decodedLength} bytes. */
  static boolean isCanonical(String value, int decodedLength) {
    int remainder = decodedLength % 3;
    if (value.length() != decodedLength / 3 * 4 + (remainder == 0 ? 0 : remainder + 1)) {
      return false; // padded
    }
    if (remainder == 0) {
      return true;
    }
    // The last character carries 2 (one leftover byte) or 4 (two leftover bytes) bits of data; the rest must be zero.
    int unusedBitsMask = remainder == 1 ? 0x0F : 0x03;
    return (base64urlValue(value.charAt(value.length() - 1)) & unusedBitsMask) == 0;
  }

  private static int base64urlValue(char c) {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '-' ? 62 : 63;
  }

  private Optional<AffinityTicket> reject(Rejection reason) {
    AffinityCookies.rejected(metrics, reason);
    return Optional.empty();
  }

  private Name name(String cookieName) {
    Name name = names.get(cookieName);
    if (name == null) {
      // Bounded by the distinct names callers ask about, which come from configuration, not from clients.
      name = names.computeIfAbsent(cookieName, Name::new);
    }
    return name;
  }

  /** The cookie name as associated data, and a 16-bit tag of it that tells a moved value apart from a forged one. */
  private static final class Name {
    final byte[] bytes;
    final int tag;

    Name(String name) {
      this.bytes = name.getBytes(StandardCharsets.UTF_8);
      int hash = 0x811C9DC5;
      for (byte b : bytes) {
        hash = (hash ^ (b & 0xFF)) * 0x01000193;
      }
      this.tag = (hash ^ (hash >>> 16)) & 0xFFFF;
    }
  }

  private static final class Opened {
    final String cookieName;
    final Optional<AffinityTicket> ticket;
    final long expiresAtMillis;

    Opened(String cookieName, Optional<AffinityTicket> ticket, long expiresAtMillis) {
      this.cookieName = cookieName;
      this.ticket = ticket;
      this.expiresAtMillis = expiresAtMillis;
    }
  }
}
