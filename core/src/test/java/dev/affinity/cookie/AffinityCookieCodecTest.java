package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class AffinityCookieCodecTest {
  static final String NAME = "AFFINITY";
  static final byte[] SECRET_1 = secret(1);
  static final byte[] SECRET_2 = secret(2);

  private final MutableClock clock = new MutableClock();
  private final CodecCounters counters = CodecMetrics.counting();
  private final Keyring keyring = Keyring.builder().addKey("k1", SECRET_1).build();

  static byte[] secret(int seed) {
    byte[] secret = new byte[32];
    for (int i = 0; i < secret.length; i++) {
      secret[i] = (byte) (seed * 31 + i * 7);
    }
    return secret;
  }

  private AffinityCookieCodec.Builder builder() {
    return AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters);
  }

  private AffinityCookieCodec codec() {
    return builder().build();
  }

  private AffinityTicket ticket(String targetId) {
    return AffinityTicket.of(targetId, "web", clock.instant(), clock.instant().plus(Duration.ofHours(1)));
  }

  private static byte[] decode(String value) {
    return Base64.getUrlDecoder().decode(value);
  }

  private static String encode(byte[] token) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(token);
  }

  private void assertOnlyRejection(Rejection reason, long count) {
    for (Rejection r : Rejection.values()) {
      assertThat(counters.rejectedCount(r)).as("rejections for %s", r).isEqualTo(r == reason ? count : 0);
    }
  }

  // ---- round trips ----

  @ParameterizedTest
  @EnumSource(Sealing.class)
  void roundTripWithoutExtraBytes(Sealing sealing) {
    AffinityCookieCodec codec = builder().sealing(sealing).build();
    AffinityTicket ticket = ticket("target-1");

    String value = codec.seal(NAME, ticket);

    assertThat(value).matches("[A-Za-z0-9_-]+");
    assertThat(value).doesNotContain("target-1");
    assertThat(codec.open(NAME, value)).contains(ticket);
    assertThat(decode(value)[1]).isEqualTo(sealing.id);
    assertThat(counters.sealedCount()).isEqualTo(1);
    assertThat(counters.openedCount(false)).isEqualTo(1);
    assertThat(counters.rejectedTotal()).isZero();
  }

  @ParameterizedTest
  @EnumSource(Sealing.class)
  void roundTripWithExtraBytesAndUnicodeIds(Sealing sealing) {
    AffinityCookieCodec codec = builder().sealing(sealing).cacheMaximumSize(0).build();
    byte[] extra = new byte[300];
    for (int i = 0; i < extra.length; i++) {
      extra[i] = (byte) i;
    }
    AffinityTicket ticket = AffinityTicket.of("zielserver-ü-東京-🚀", "grüppe-ß", clock.instant(),
        clock.instant().plus(Duration.ofMinutes(5)), extra);

    Optional<AffinityTicket> opened = codec.open(NAME, codec.seal(NAME, ticket));

    assertThat(opened).contains(ticket);
    assertThat(opened.get().targetId()).isEqualTo("zielserver-ü-東京-🚀");
    assertThat(opened.get().targetGroup()).isEqualTo("grüppe-ß");
    assertThat(opened.get().extra()).isEqualTo(extra);
  }

  @Test
  void roundTripKeepsMillisecondsAndEmptyGroup() {
    AffinityCookieCodec codec = codec();
    Instant issued = Instant.parse("2026-11-23T10:00:00.123456789Z");
    AffinityTicket ticket = AffinityTicket.of("t", "", issued, issued.plusMillis(1500));

    AffinityTicket opened = codec.open(NAME, codec.seal(NAME, ticket)).orElseThrow();

    assertThat(opened.issuedAt()).isEqualTo(Instant.parse("2026-11-23T10:00:00.123Z"));
    assertThat(opened.expiresAt()).isEqualTo(Instant.parse("2026-11-23T10:00:01.623Z"));
    assertThat(opened.targetGroup()).isEmpty();
  }

  @Test
  void idsOfExactly255BytesSealAndLongerOnesAreRefused() {
    AffinityCookieCodec codec = codec();
    String longest = "é".repeat(127) + "x"; // 255 bytes of UTF-8
    AffinityTicket ticket = ticket(longest);
    assertThat(codec.open(NAME, codec.seal(NAME, ticket))).contains(ticket);

    assertThatThrownBy(() -> codec.seal(NAME, ticket("é".repeat(128))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targetId must be at most 255 bytes")
        .hasMessageContaining("got 256");
  }

  @Test
  void everySealUsesAFreshNonce() {
    AffinityCookieCodec codec = codec();
    AffinityTicket ticket = ticket("t1");
    assertThat(codec.seal(NAME, ticket)).isNotEqualTo(codec.seal(NAME, ticket));
  }

  @Test
  void opensWhateverSealingTheTokenSays() {
    AffinityCookieCodec gcm = builder().sealing(Sealing.AES_256_GCM).build();
    AffinityCookieCodec siv = builder().sealing(Sealing.AES_256_GCM_SIV).build();
    AffinityTicket ticket = ticket("t1");

    assertThat(gcm.open(NAME, siv.seal(NAME, ticket))).contains(ticket);
    assertThat(siv.open(NAME, gcm.seal(NAME, ticket))).contains(ticket);
  }

  // ---- rejections, each counted ----

  @Test
  void nullNameOrValueIsAbsentAndNotCounted() {
    AffinityCookieCodec codec = codec();
    assertThat(codec.open(NAME, null)).isEmpty();
    assertThat(codec.open(null, "abc")).isEmpty();
    assertThat(counters.rejectedTotal()).isZero();
  }

  @Test
  void emptyValueIsRejected() {
    assertThat(codec().open(NAME, "")).isEmpty();
    assertOnlyRejection(Rejection.EMPTY, 1);
  }

  @Test
  void valueLongerThanTheLimitIsRejectedBeforeDecoding() {
    AffinityCookieCodec codec = builder().maxValueLength(64).build();
    assertThat(codec.open(NAME, "A".repeat(65))).isEmpty();
    assertOnlyRejection(Rejection.OVERSIZED, 1);
    // 64 characters pass the size check and fail later.
    assertThat(codec.open(NAME, "A".repeat(64))).isEmpty();
    assertThat(counters.rejectedCount(Rejection.OVERSIZED)).isEqualTo(1);
  }

  @Test
  void defaultLimitIs16384Characters() {
    AffinityCookieCodec codec = codec();
    assertThat(codec.open(NAME, "A".repeat(16_385))).isEmpty();
    assertOnlyRejection(Rejection.OVERSIZED, 1);
  }

  @Test
  void nonBase64IsRejected() {
    AffinityCookieCodec codec = codec();
    String valid = codec.seal(NAME, ticket("t1"));
    assertThat(codec.open(NAME, "not base64!")).isEmpty();
    assertThat(codec.open(NAME, valid.replace(valid.charAt(3), '+'))).isEmpty(); // standard, not url alphabet
    assertThat(codec.open(NAME, valid.substring(0, 10) + "/" + valid.substring(11))).isEmpty();
    assertThat(codec.open(NAME, valid + "A")).isEmpty(); // 4k+1 characters never decode
    assertOnlyRejection(Rejection.NOT_BASE64, 4);
  }

  /**
   * The JDK decoder accepts padding and ignores the spare low bits of the last character, so without
   * a check of its own the codec opened several different strings to the same ticket.
   */
  @Test
  void onlyTheCanonicalEncodingOpens() {
    AffinityCookieCodec codec = builder().cacheMaximumSize(0).build();
    AffinityTicket ticket = ticket("t1");
    int aliases = 0;
    for (int extraLength = 0; extraLength < 3; extraLength++) {
      AffinityTicket withExtra = AffinityTicket.of("t1", "web", ticket.issuedAt(), ticket.expiresAt(), new byte[extraLength]);
      String value = codec.seal(NAME, withExtra);
      assertThat(codec.open(NAME, value)).contains(withExtra);
      byte[] token = decode(value);
      String last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      for (char c : last.toCharArray()) {
        String alias = value.substring(0, value.length() - 1) + c;
        if (alias.equals(value)) {
          continue;
        }
        boolean decodesToSameToken;
        try {
          decodesToSameToken = Arrays.equals(decode(alias), token);
        } catch (IllegalArgumentException e) {
          decodesToSameToken = false;
        }
        if (decodesToSameToken) {
          aliases++;
        }
        assertThat(codec.open(NAME, alias)).as("alias %s of %s", alias, value).isEmpty();
      }
      if (token.length % 3 != 0) {
        assertThat(codec.open(NAME, value + "=".repeat(3 - token.length % 3))).as("padded").isEmpty();
      }
    }
    // The JDK decoder does alias: 3 spare-bit variants for one leftover pair, 15 for one leftover byte.
    assertThat(aliases).isEqualTo(3 + 15);
    assertThat(counters.rejectedCount(Rejection.NOT_BASE64)).isGreaterThanOrEqualTo(aliases + 2);
    assertThat(counters.rejectedCount(Rejection.TAMPERED) + counters.rejectedCount(Rejection.NOT_BASE64))
        .isEqualTo(counters.rejectedTotal());
  }

  @Test
  void truncatedTokensAreRejected() {
    AffinityCookieCodec codec = builder().cacheMaximumSize(0).build();
    String value = codec.seal(NAME, ticket("t1"));
    byte[] token = decode(value);

    assertThat(codec.open(NAME, encode(Arrays.copyOf(token, 4)))).isEmpty(); // shorter than the header
    assertThat(codec.open(NAME, encode(Arrays.copyOf(token, token.length - 1)))).isEmpty(); // loses a tag byte
    assertThat(codec.open(NAME, encode(Arrays.copyOf(token, 5 + 2 + 12 + TicketFormat.MIN_BYTES + 15)))).isEmpty();
    byte[] noKeyId = token.clone();
    noKeyId[4] = 0;
    assertThat(codec.open(NAME, encode(noKeyId))).isEmpty();

    assertThat(counters.rejectedCount(Rejection.TRUNCATED)).isEqualTo(3);
    assertThat(counters.rejectedCount(Rejection.TAMPERED)).isEqualTo(1); // one byte short still has a header and room
  }

  @Test
  void authenticPayloadThatDoesNotParseIsRejectedAsTruncated() throws Exception {
    AffinityCookieCodec codec = codec();
    byte[] good = TicketFormat.encode(ticket("t1"));
    byte[] trailingByte = Arrays.copyOf(good, good.length + 1); // extra length says 0, one byte follows
    byte[] wrongLayout = good.clone();
    wrongLayout[0] = 1;

    for (byte[] plaintext : new byte[][] {trailingByte, wrongLayout}) {
      assertThat(codec.open(NAME, sealRaw(Sealing.AES_256_GCM, "k1", SECRET_1, NAME, plaintext))).isEmpty();
    }
    assertOnlyRejection(Rejection.TRUNCATED, 2);
  }

  /** A token sealed around any plaintext, as a holder of the key could make it. */
  static String sealRaw(Sealing sealing, String keyId, byte[] secret, String name, byte[] plaintext) throws Exception {
    Keyring.Key key = new Keyring.Key(keyId, secret);
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    // A token the codec sealed supplies the header (with the name tag); the nonce is a fresh one.
    byte[] reference = decode(AffinityCookieCodec.builder().keyring(Keyring.builder().addKey(keyId, secret).build())
        .sealing(sealing).build().seal(name, AffinityTicket.of("x", "", Instant.EPOCH, Instant.EPOCH)));
    int nonceOffset = SealedCookieCodec.FIXED_HEADER_BYTES + key.idBytes.length;
    byte[] token = new byte[nonceOffset + Aead.NONCE_BYTES + plaintext.length + Aead.TAG_BYTES];
    System.arraycopy(reference, 0, token, 0, nonceOffset);
    NonceSource.next(token, nonceOffset);
    Aead.of(sealing).seal(key, token, nonceOffset, nameBytes, plaintext);
    return encode(token);
  }

  @Test
  void unknownVersionOrSealingIsRejected() {
    AffinityCookieCodec codec = codec();
    byte[] token = decode(codec.seal(NAME, ticket("t1")));
    byte[] version2 = token.clone();
    version2[0] = 2;
    byte[] sealing9 = token.clone();
    sealing9[1] = 9;

    assertThat(codec.open(NAME, encode(version2))).isEmpty();
    assertThat(codec.open(NAME, encode(sealing9))).isEmpty();
    assertOnlyRejection(Rejection.UNSUPPORTED_VERSION, 2);
  }

  @Test
  void keyIdNotInTheKeyringIsRejected() {
    AffinityCookieCodec other = AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k9", SECRET_1).build())
        .clock(clock).build();
    assertThat(codec().open(NAME, other.seal(NAME, ticket("t1")))).isEmpty();
    assertOnlyRejection(Rejection.UNKNOWN_KEY, 1);
  }

  @Test
  void sameKeyIdWithAnotherSecretIsRejectedAsTampered() {
    AffinityCookieCodec other = AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", SECRET_2).build())
        .clock(clock).build();
    assertThat(codec().open(NAME, other.seal(NAME, ticket("t1")))).isEmpty();
    assertOnlyRejection(Rejection.TAMPERED, 1);
  }

  @Test
  void valueMovedToAnotherCookieNameIsRejected() {
    AffinityCookieCodec codec = builder().cacheMaximumSize(0).build();
    CookieNames names = new CookieNames("AFFINITY");
    Set<String> all = Set.of(names.duration(), names.application(), names.group(), names.route(), names.session(),
        CookieNames.corsCompanion(names.route()));
    for (String from : all) {
      String value = codec.seal(from, ticket("t1"));
      for (String to : all) {
        if (!to.equals(from)) {
          assertThat(codec.open(to, value)).as("%s opened as %s", from, to).isEmpty();
        }
      }
      assertThat(codec.open(from, value)).isPresent();
    }
    // The default names have distinct tags, so a moved value is told apart from a forged one.
    assertOnlyRejection(Rejection.WRONG_NAME, all.size() * (all.size() - 1));
  }

  @Test
  void nameWhoseTagCollidesIsStillRejectedByTheTag() {
    AffinityCookieCodec codec = builder().cacheMaximumSize(0).build();
    String value = codec.seal(NAME, ticket("t1"));
    byte[] token = decode(value);
    int tag = ((token[2] & 0xFF) << 8) | (token[3] & 0xFF);
    String collision = null;
    for (int i = 0; collision == null; i++) {
      String candidate = "N" + i;
      byte[] probe = decode(codec.seal(candidate, ticket("t1")));
      if ((((probe[2] & 0xFF) << 8) | (probe[3] & 0xFF)) == tag) {
        collision = candidate;
      }
    }
    assertThat(codec.open(collision, value)).isEmpty();
    assertThat(counters.rejectedCount(Rejection.TAMPERED)).isEqualTo(1);
  }

  @ParameterizedTest
  @EnumSource(Sealing.class)
  void everySingleBitFlipIsRejectedAndCounted(Sealing sealing) {
    AffinityCookieCodec codec = builder().sealing(sealing).build();
    String value = codec.seal(NAME, ticket("t1"));
    assertThat(codec.open(NAME, value)).isPresent(); // now cached: flips must not hit the cache either
    byte[] token = decode(value);
    int nonceOffset = SealedCookieCodec.FIXED_HEADER_BYTES + 2;
    for (int position = 0; position < token.length; position++) {
      for (int bit = 0; bit < 8; bit++) {
        long[] before = snapshot();
        byte[] flipped = token.clone();
        flipped[position] ^= (byte) (1 << bit);

        assertThat(codec.open(NAME, encode(flipped))).as("byte %d bit %d", position, bit).isEmpty();

        Rejection reason = onlyNewRejection(before);
        Set<Rejection> expected;
        if (position <= 1) {
          expected = EnumSet.of(Rejection.UNSUPPORTED_VERSION);
        } else if (position <= 3) {
          expected = EnumSet.of(Rejection.WRONG_NAME); // the name tag
        } else if (position == 4) {
          expected = EnumSet.of(Rejection.TRUNCATED, Rejection.UNKNOWN_KEY); // key id length
        } else if (position < nonceOffset) {
          expected = EnumSet.of(Rejection.UNKNOWN_KEY);
        } else {
          expected = EnumSet.of(Rejection.TAMPERED); // nonce, ciphertext, tag
        }
        assertThat(reason).as("byte %d bit %d", position, bit).isIn(expected);
      }
    }
    assertThat(counters.openedCount(false)).isEqualTo(1);
    assertThat(counters.openedCount(true)).isZero();
    assertThat(counters.rejectedTotal()).isEqualTo(token.length * 8L);
    assertThat(counters.rejectedCount(Rejection.TAMPERED)).isEqualTo((token.length - nonceOffset) * 8L);
    // The original still opens: failed opens leave the per-thread cipher usable.
    assertThat(builder().sealing(sealing).cacheMaximumSize(0).build().open(NAME, value)).isPresent();
  }

  private long[] snapshot() {
    long[] counts = new long[Rejection.values().length];
    for (Rejection r : Rejection.values()) {
      counts[r.ordinal()] = counters.rejectedCount(r);
    }
    return counts;
  }

  private Rejection onlyNewRejection(long[] before) {
    Rejection found = null;
    for (Rejection r : Rejection.values()) {
      long added = counters.rejectedCount(r) - before[r.ordinal()];
      if (added != 0) {
        assertThat(added).isEqualTo(1);
        assertThat(found).as("a second reason %s", r).isNull();
        found = r;
      }
    }
    assertThat(found).as("a rejection was counted").isNotNull();
    return found;
  }

  @ParameterizedTest
  @EnumSource(Sealing.class)
  void expiresExactlyAtExpiresAt(Sealing sealing) {
    AffinityCookieCodec codec = builder().sealing(sealing).cacheMaximumSize(0).build();
    AffinityTicket ticket = ticket("t1");
    String value = codec.seal(NAME, ticket);

    clock.set(ticket.expiresAt().minusMillis(1));
    assertThat(codec.open(NAME, value)).contains(ticket);
    clock.advance(Duration.ofMillis(1));
    assertThat(codec.open(NAME, value)).isEmpty();
    clock.advance(Duration.ofDays(3));
    assertThat(codec.open(NAME, value)).isEmpty();

    assertOnlyRejection(Rejection.EXPIRED, 2);
    assertThat(counters.openedCount(false)).isEqualTo(1);
  }

  @Test
  void ticketThatExpiresWhenIssuedNeverOpens() {
    AffinityCookieCodec codec = codec();
    Instant now = clock.instant();
    assertThat(codec.open(NAME, codec.seal(NAME, AffinityTicket.of("t1", "web", now, now)))).isEmpty();
    assertOnlyRejection(Rejection.EXPIRED, 1);
  }

  // ---- cache ----

  @Test
  void secondOpenIsServedFromTheCache() {
    AffinityCookieCodec codec = codec();
    AffinityTicket ticket = ticket("t1");
    String value = codec.seal(NAME, ticket);

    assertThat(codec.open(NAME, value)).contains(ticket);
    assertThat(codec.open(NAME, value)).contains(ticket);
    assertThat(codec.open(NAME, value)).contains(ticket);

    assertThat(counters.openedCount(false)).isEqualTo(1);
    assertThat(counters.openedCount(true)).isEqualTo(2);
  }

  @Test
  void cachedValueStillExpiresAgainstTheClock() {
    AffinityCookieCodec codec = codec();
    AffinityTicket ticket = ticket("t1");
    String value = codec.seal(NAME, ticket);
    assertThat(codec.open(NAME, value)).isPresent();

    clock.set(ticket.expiresAt().minusMillis(1));
    assertThat(codec.open(NAME, value)).isPresent();
    assertThat(counters.openedCount(true)).isEqualTo(1);
    clock.advance(Duration.ofMillis(1));
    assertThat(codec.open(NAME, value)).isEmpty();
    assertThat(codec.open(NAME, value)).isEmpty(); // evicted, then rejected again on the fresh path

    assertOnlyRejection(Rejection.EXPIRED, 2);
    assertThat(counters.openedCount(true)).isEqualTo(1);
  }

  @Test
  void cachedValueMovedToAnotherNameIsRejected() {
    AffinityCookieCodec codec = codec();
    String value = codec.seal(NAME, ticket("t1"));
    assertThat(codec.open(NAME, value)).isPresent();

    assertThat(codec.open("AFFINITYROUTE", value)).isEmpty();
    assertThat(codec.open(NAME, value)).isPresent(); // the cached entry for its own name is untouched

    assertOnlyRejection(Rejection.WRONG_NAME, 1);
    assertThat(counters.openedCount(true)).isEqualTo(1);
  }

  @Test
  void disabledCacheOpensWithCryptographyEveryTime() {
    AffinityCookieCodec codec = builder().cacheMaximumSize(0).build();
    String value = codec.seal(NAME, ticket("t1"));
    for (int i = 0; i < 3; i++) {
      assertThat(codec.open(NAME, value)).isPresent();
    }
    assertThat(counters.openedCount(false)).isEqualTo(3);
    assertThat(counters.openedCount(true)).isZero();
  }

  // ---- key rotation ----

  @Test
  void rotationOpensOldCookiesSealsWithTheNewPrimaryAndDropsRemovedKeys() {
    AffinityCookieCodec before = codec();
    AffinityTicket ticket = ticket("t1");
    String oldValue = before.seal(NAME, ticket);

    AffinityCookieCodec during = AffinityCookieCodec.builder().clock(clock).metrics(counters)
        .keyring(Keyring.builder().addKey("k2", SECRET_2).addKey("k1", SECRET_1).build()).build();
    assertThat(during.open(NAME, oldValue)).contains(ticket);
    String newValue = during.seal(NAME, ticket);
    assertThat(new String(decode(newValue), 5, 2, StandardCharsets.US_ASCII)).isEqualTo("k2");
    assertThat(during.open(NAME, newValue)).contains(ticket);
    // Instances not yet rotated do not know k2; fully rotated ones no longer know k1.
    assertThat(before.open(NAME, newValue)).isEmpty();

    AffinityCookieCodec after = AffinityCookieCodec.builder().clock(clock).metrics(counters)
        .keyring(Keyring.builder().addKey("k2", SECRET_2).build()).build();
    assertThat(after.open(NAME, newValue)).contains(ticket);
    assertThat(after.open(NAME, oldValue)).isEmpty();

    assertOnlyRejection(Rejection.UNKNOWN_KEY, 2);
  }

  // ---- HKDF ----

  private static final byte[] MASTER = "affinity test master secret, 32+ bytes long".getBytes(StandardCharsets.US_ASCII);

  @Test
  void derivedKeysAreTheSameForTheSameMasterAndId() {
    Keyring one = Keyring.derived(MASTER, "2026-11", "2026-10");
    Keyring two = Keyring.derived(MASTER.clone(), "2026-11", "2026-10");

    assertThat(one.ids()).containsExactly("2026-11", "2026-10");
    assertThat(one.key("2026-11").secret).isEqualTo(two.key("2026-11").secret);
    assertThat(one.key("2026-10").secret).isEqualTo(two.key("2026-10").secret);
    assertThat(one.key("2026-11").secret).isNotEqualTo(one.key("2026-10").secret);
    assertThat(Keyring.derived(secret(9), "2026-11").key("2026-11").secret)
        .isNotEqualTo(one.key("2026-11").secret);

    AffinityTicket ticket = ticket("t1");
    String value = AffinityCookieCodec.builder().keyring(one).clock(clock).build().seal(NAME, ticket);
    Keyring fresh = Keyring.derived(MASTER, "2026-12", "2026-11");
    assertThat(AffinityCookieCodec.builder().keyring(fresh).clock(clock).build().open(NAME, value)).contains(ticket);
  }

  @Test
  void derivationIsHkdfSha256WithTheDocumentedSaltAndInfo() throws Exception {
    byte[] expected = hkdfSha256(MASTER, "dev.affinity keyring v1".getBytes(StandardCharsets.US_ASCII),
        "affinity cookie key 2026-11".getBytes(StandardCharsets.US_ASCII));
    assertThat(Keyring.derived(MASTER, "2026-11").key("2026-11").secret).isEqualTo(expected);
  }

  /** RFC 5869 with the JDK's HMAC, independent of Bouncy Castle: 32 bytes of output, one block. */
  private static byte[] hkdfSha256(byte[] ikm, byte[] salt, byte[] info) throws Exception {
    javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
    mac.init(new javax.crypto.spec.SecretKeySpec(salt, "HmacSHA256"));
    byte[] prk = mac.doFinal(ikm);
    mac.init(new javax.crypto.spec.SecretKeySpec(prk, "HmacSHA256"));
    mac.update(info);
    mac.update((byte) 1);
    return mac.doFinal();
  }

  /**
   * Sealed once by derived key "kat" from MASTER, with the ticket below: if the token layout, the
   * ticket format, the name binding or the derivation changes, every cookie already in browsers stops
   * opening, and this test says so.
   */
  static final String KNOWN_ANSWER = "AQEfLANrYXSLz6zmGwZSYD05M7sMFi0fojaBy6rltQnZM9tZeZA3iiG4xsBjb4L6s3y4VDGemzMxL2oO9r0Y2TJVf5TBaGA";

  @Test
  void cookieSealedByAnEarlierBuildStillOpens() {
    AffinityTicket expected = AffinityTicket.of("target-ü", "web", MutableClock.START,
        MutableClock.START.plus(Duration.ofHours(1)), new byte[] {1, 2, 3});
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(Keyring.derived(MASTER, "kat")).clock(clock).build();
    assertThat(codec.open(NAME, KNOWN_ANSWER)).contains(expected);
  }

  // ---- builder validation ----

  @Test
  void builderNamesTheBadValue() {
    assertThatThrownBy(() -> AffinityCookieCodec.builder().cacheMaximumSize(-1))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("cacheMaximumSize must be >= 0, got -1");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().maxValueLength(63))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("maxValueLength must be >= 64, got 63");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("keyring is required");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().keyring(null)).hasMessage("keyring");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().clock(null)).hasMessage("clock");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().sealing(null)).hasMessage("sealing");
    assertThatThrownBy(() -> AffinityCookieCodec.builder().metrics(null)).hasMessage("metrics");
  }

  @Test
  void codecExposesWhatItWasBuiltWith() {
    AffinityCookieCodec codec = codec();
    assertThat(codec.keyring()).isSameAs(keyring);
    assertThat(codec.clock()).isSameAs(clock);
    assertThat(codec.metrics()).isSameAs(counters);
  }

  @Test
  void ticketValidation() {
    Instant now = clock.instant();
    assertThatThrownBy(() -> AffinityTicket.of("", "web", now, now))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("targetId must not be empty");
    assertThatThrownBy(() -> AffinityTicket.of("t1", "web", now, now.minusMillis(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is before issuedAt").hasMessageContaining("t1");
    assertThatThrownBy(() -> AffinityTicket.of(null, "web", now, now)).hasMessage("targetId");
    byte[] extra = {1};
    AffinityTicket ticket = AffinityTicket.of("t1", "web", now, now, extra);
    extra[0] = 2;
    assertThat(ticket.extra()).containsExactly(1);
    ticket.extra()[0] = 3;
    assertThat(ticket.extra()).containsExactly(1);
    assertThat(ticket.isExpiredAt(now)).isTrue();
    assertThat(ticket.withTarget("t2", "g2").targetId()).isEqualTo("t2");
  }
}
