package dev.affinity.fuzz;

import static dev.affinity.fuzz.FuzzFixtures.NAMES;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CodecCounters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;

/**
 * The codec's {@code open} on hostile input. Oracles, for every input:
 * <ul>
 *   <li>no exception leaves {@code open}, and none is swallowed by its safety net either;</li>
 *   <li>a value opens only if it is, byte for byte, a token this test sealed (or a fixed token sealed
 *       with the same keys) under the same cookie name, and then to exactly that ticket;</li>
 *   <li>such a token always opens (no false rejection), with and without the cache;</li>
 *   <li>nothing opens once every ticket has expired;</li>
 *   <li>every call is counted exactly once, as opened or as rejected.</li>
 * </ul>
 */
class CookieCodecFuzzTest {
  private static final char[] BASE64URL =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
  private static CodecCounters counters;
  private static AffinityCookieCodec cached;
  private static AffinityCookieCodec uncached;
  private static AffinityCookieCodec late;
  /** name + '\0' + token -> ticket, for everything that may open. */
  private static Map<String, AffinityTicket> valid;
  private static List<Sealed> sealed;

  private record Sealed(String name, String token, AffinityTicket ticket) {}

  @BeforeAll
  static void setUp() {
    FuzzFixtures.watchCodecNet();
    counters = FuzzFixtures.counters();
    cached = FuzzFixtures.codec(counters, 10_000, FuzzFixtures.CLOCK);
    uncached = FuzzFixtures.codec(counters, 0, FuzzFixtures.CLOCK);
    late = FuzzFixtures.codec(FuzzFixtures.counters(), 10_000, FuzzFixtures.LATE);
    valid = new HashMap<>(FuzzFixtures.fixedValid());
    sealed = new ArrayList<>();
    String[] targets = {"a", "b", "target-with-a-longer-id-0123456789", "ü"};
    int i = 0;
    for (String name : new String[] {"AFFINITY", "AFFINITYROUTE", "AFFINITYTG", "AFFINITYAPP"}) {
      for (String target : targets) {
        byte[] extra = new byte[(i++ % 3) * 40];
        AffinityTicket ticket = AffinityTicket.of(target, "web", FuzzFixtures.START,
            FuzzFixtures.START.plus(Duration.ofHours(1)), extra);
        String token = cached.seal(name, ticket);
        sealed.add(new Sealed(name, token, ticket));
        valid.put(FuzzFixtures.key(name, token), ticket);
      }
    }
  }

  /**
   * Arbitrary bytes. The first byte picks the cookie name (or, from 0x80 up, takes the name from the
   * input up to the first '=') and the value's charset; the rest is the value. Seeds hold real tokens.
   */
  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "10m")
  void openArbitrary(byte[] input) {
    if (input.length == 0) {
      check("AFFINITY", "");
      return;
    }
    int selector = input[0] & 0xFF;
    String name;
    int from = 1;
    if (selector < 0x80) {
      name = NAMES[selector % NAMES.length];
    } else {
      int eq = from;
      while (eq < input.length && input[eq] != '=') {
        eq++;
      }
      name = new String(input, from, eq - from, StandardCharsets.ISO_8859_1);
      from = Math.min(input.length, eq + 1);
    }
    byte[] rest = java.util.Arrays.copyOfRange(input, from, input.length);
    String value = new String(rest, (selector & 0x40) == 0 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
    check(name, value);
  }

  /** A token sealed in this run, changed by a sequence of edits at the character or the byte level. */
  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "10m")
  void openMutatedToken(FuzzedDataProvider data) {
    Sealed original = sealed.get(data.consumeInt(0, sealed.size() - 1));
    String name = data.consumeBoolean() ? original.name : NAMES[data.consumeInt(0, NAMES.length - 1)];
    String value = original.token;
    int edits = data.consumeInt(0, 6);
    for (int e = 0; e < edits && data.remainingBytes() > 0; e++) {
      value = edit(value, data);
    }
    check(name, value);
  }

  private static String edit(String value, FuzzedDataProvider data) {
    int length = value.length();
    int at = length == 0 ? 0 : data.consumeInt(0, length - 1);
    switch (data.consumeInt(0, 10)) {
      case 0: // another base64url character
        return length == 0 ? value : value.substring(0, at) + BASE64URL[data.consumeInt(0, 63)] + value.substring(at + 1);
      case 1: // any character
        return length == 0 ? value : value.substring(0, at) + data.consumeChar() + value.substring(at + 1);
      case 2:
        return length == 0 ? value : value.substring(0, at) + value.substring(at + 1);
      case 3:
        return value.substring(0, at) + BASE64URL[data.consumeInt(0, 63)] + value.substring(at);
      case 4:
        return value.substring(0, at);
      case 5:
        return value + data.consumeString(8);
      case 6: { // flip one bit of the decoded token and encode it again as seal() would
        byte[] bytes = decode(value);
        if (bytes == null || bytes.length == 0) {
          return value;
        }
        int bit = data.consumeInt(0, bytes.length * 8 - 1);
        bytes[bit / 8] ^= (byte) (1 << (bit % 8));
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
      }
      case 7: { // the same bytes in another spelling: padded, or the standard alphabet
        byte[] bytes = decode(value);
        if (bytes == null) {
          return value;
        }
        return data.consumeBoolean()
            ? Base64.getUrlEncoder().encodeToString(bytes)
            : Base64.getEncoder().withoutPadding().encodeToString(bytes);
      }
      case 8: { // the spare low bits of the last character (several strings, one decoded token)
        if (length == 0) {
          return value;
        }
        return value.substring(0, length - 1) + BASE64URL[(indexOf(value.charAt(length - 1)) ^ data.consumeInt(1, 3)) & 63];
      }
      case 9: // a field of the header (version, sealing, name tag, key id length, key id) set to a value
      {
        byte[] bytes = decode(value);
        if (bytes == null || bytes.length == 0) {
          return value;
        }
        bytes[data.consumeInt(0, Math.min(8, bytes.length - 1))] = data.consumeByte();
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
      }
      default: // splice: another sealed token's head or tail
      {
        String other = sealed.get(data.consumeInt(0, sealed.size() - 1)).token;
        int cut = data.consumeInt(0, Math.min(length, other.length()));
        return data.consumeBoolean() ? value.substring(0, cut) + other.substring(cut) : other.substring(0, cut) + value.substring(cut);
      }
    }
  }

  private static byte[] decode(String value) {
    try {
      return Base64.getUrlDecoder().decode(value);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static int indexOf(char c) {
    for (int i = 0; i < BASE64URL.length; i++) {
      if (BASE64URL[i] == c) {
        return i;
      }
    }
    return 0;
  }

  private static void check(String name, String value) {
    AffinityTicket expected = valid.get(FuzzFixtures.key(name, value));
    long before = calls();
    Optional<AffinityTicket> first = cached.open(name, value);
    Optional<AffinityTicket> second = cached.open(name, value); // served from the cache when it opened
    Optional<AffinityTicket> fresh = uncached.open(name, value);
    if (calls() - before != 3) {
      throw new AssertionError("3 opens were counted as " + (calls() - before) + " for " + describe(name, value));
    }
    FuzzFixtures.assertNetNotHit();
    for (Optional<AffinityTicket> got : List.of(first, second, fresh)) {
      if (expected == null && got.isPresent()) {
        throw new AssertionError("a value the test never sealed opened as " + got.get() + ": " + describe(name, value));
      }
      if (expected != null && (got.isEmpty() || !sameTicket(expected, got.get()))) {
        throw new AssertionError("a sealed token did not open as " + expected + " but as " + got + ": " + describe(name, value));
      }
    }
    Optional<AffinityTicket> expired = late.open(name, value);
    FuzzFixtures.assertNetNotHit();
    if (expired.isPresent()) {
      throw new AssertionError("an expired ticket opened: " + describe(name, value));
    }
  }

  private static boolean sameTicket(AffinityTicket a, AffinityTicket b) {
    return a.targetId().equals(b.targetId()) && a.targetGroup().equals(b.targetGroup())
        && a.expiresAt().equals(b.expiresAt()) && a.issuedAt().equals(b.issuedAt());
  }

  private static long calls() {
    return counters.openedCount(true) + counters.openedCount(false) + counters.rejectedTotal();
  }

  private static String describe(String name, String value) {
    return "name=\"" + name + "\" value(" + value.length() + ")=\"" + (value.length() > 200 ? value.substring(0, 200) + "…" : value) + "\"";
  }
}
