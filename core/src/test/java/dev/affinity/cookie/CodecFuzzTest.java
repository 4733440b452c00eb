package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Random strings and mutated valid values, from a fixed seed so that a failure replays: opening never
 * throws, and no value other than one the codec sealed ever opens.
 */
class CodecFuzzTest {
  private static final long SEED = 0xAFF1_2026L;
  private static final int ROUNDS = 110_000;
  private static final String URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  private static final String NOISE = URL_ALPHABET + "+/=.,;: \t\"\\%!~é东🚀\u0000\u007f";
  private static final String NAME = "AFFINITY";

  /** How a value was made, to report how many of each kind were tried. */
  enum Mutation { RANDOM, RANDOM_URL_ALPHABET, BIT_FLIPS, TRUNCATE, INSERT, DELETE, ALPHABET_SWAP, SPLICE, PAD, MOVED_NAME }

  private final MutableClock clock = new MutableClock();
  private final CodecCounters counters = CodecMetrics.counting();
  private final AffinityCookieCodec codec = AffinityCookieCodec.builder()
      .keyring(Keyring.builder().addKey("k1", AffinityCookieCodecTest.secret(1))
          .addKey("k0", AffinityCookieCodecTest.secret(2)).build())
      .clock(clock).metrics(counters).cacheMaximumSize(1_000).build();
  private final AffinityCookieCodec sivCodec = AffinityCookieCodec.builder()
      .keyring(codec.keyring()).sealing(Sealing.AES_256_GCM_SIV).clock(clock).metrics(counters).build();

  @Test
  void mutatedAndRandomValuesNeverOpenOrThrow() {
    Random random = new Random(SEED);
    List<String> valid = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      byte[] extra = new byte[random.nextInt(4) == 0 ? random.nextInt(400) : 0];
      random.nextBytes(extra);
      AffinityTicket ticket = AffinityTicket.of("target-" + i + "-ü", i % 3 == 0 ? "" : "group-" + i, clock.instant(),
          clock.instant().plus(Duration.ofHours(1)), extra);
      String value = (i % 8 == 0 ? sivCodec : codec).seal(NAME, ticket);
      assertThat(codec.open(NAME, value)).contains(ticket); // and now cached: mutations must miss the cache
      valid.add(value);
    }

    Set<String> sealed = new HashSet<>(valid);
    Map<Mutation, Integer> tried = new EnumMap<>(Mutation.class);
    long opensBefore = counters.openedCount(false) + counters.openedCount(true);
    long rejectedBefore = counters.rejectedTotal();
    int attempts = 0;
    for (int round = 0; round < ROUNDS; round++) {
      String original = valid.get(random.nextInt(valid.size()));
      Mutation mutation = Mutation.values()[random.nextInt(Mutation.values().length)];
      String name = mutation == Mutation.MOVED_NAME ? "AFFINITYROUTE" : NAME;
      String mutated = mutate(mutation, original, valid, random);
      if (mutation != Mutation.MOVED_NAME && sealed.contains(mutated)) {
        continue; // a mutation that changed nothing (or spliced back into another sealed value) may open
      }
      tried.merge(mutation, 1, Integer::sum);
      attempts++;
      AffinityCookieCodec opener = (round & 1) == 0 ? codec : sivCodec;
      Optional<AffinityTicket> opened = opener.open(name, mutated);
      assertThat(opened).as("%s of %s: %s", mutation, original, mutated).isEmpty();
    }

    assertThat(counters.openedCount(false) + counters.openedCount(true)).isEqualTo(opensBefore);
    assertThat(counters.rejectedTotal() - rejectedBefore).as("every refusal is counted once").isEqualTo(attempts);
    assertThat(attempts).isGreaterThanOrEqualTo(100_000);
    assertThat(tried).hasSize(Mutation.values().length);
    assertThat(counters.rejectedCount(Rejection.TAMPERED)).isGreaterThan(1_000);
    assertThat(counters.rejectedCount(Rejection.NOT_BASE64)).isGreaterThan(1_000);
    assertThat(counters.rejectedCount(Rejection.WRONG_NAME)).isGreaterThan(1_000);
    // The valid values still open after all of that.
    for (String value : valid) {
      assertThat(codec.open(NAME, value)).isPresent();
    }
  }

  private static String mutate(Mutation mutation, String original, List<String> valid, Random random) {
    switch (mutation) {
      case RANDOM:
        return randomString(random, NOISE, random.nextInt(300));
      case RANDOM_URL_ALPHABET:
        return randomString(random, URL_ALPHABET, random.nextInt(300));
      case BIT_FLIPS: {
        byte[] token = Base64.getUrlDecoder().decode(original);
        for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
          token[random.nextInt(token.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return Base64.getUrlEncoder().withoutPadding().encodeToString(token);
      }
      case TRUNCATE:
        return random.nextBoolean()
            ? original.substring(0, random.nextInt(original.length()))
            : original.substring(1 + random.nextInt(original.length() - 1));
      case INSERT: {
        int at = random.nextInt(original.length() + 1);
        String alphabet = random.nextBoolean() ? URL_ALPHABET : NOISE;
        return original.substring(0, at) + randomString(random, alphabet, 1 + random.nextInt(4)) + original.substring(at);
      }
      case DELETE: {
        int at = random.nextInt(original.length());
        int length = 1 + random.nextInt(Math.min(8, original.length() - at));
        return original.substring(0, at) + original.substring(at + length);
      }
      case ALPHABET_SWAP: {
        char[] chars = original.toCharArray();
        for (int swaps = 1 + random.nextInt(3); swaps > 0; swaps--) {
          int at = random.nextInt(chars.length);
          // Mostly within the url alphabet; sometimes its standard-alphabet twins '+' and '/'.
          chars[at] = random.nextInt(8) == 0 ? (random.nextBoolean() ? '+' : '/')
              : URL_ALPHABET.charAt(random.nextInt(URL_ALPHABET.length()));
        }
        return new String(chars);
      }
      case SPLICE: {
        String other = valid.get(random.nextInt(valid.size()));
        int cut = random.nextInt(Math.min(original.length(), other.length()) + 1);
        return random.nextBoolean() ? original.substring(0, cut) + other.substring(cut) : other.substring(0, cut) + original.substring(cut);
      }
      case PAD:
        return original + "=".repeat(1 + random.nextInt(2));
      case MOVED_NAME:
        return original;
      default:
        throw new AssertionError(mutation);
    }
  }

  private static String randomString(Random random, String alphabet, int length) {
    StringBuilder sb = new StringBuilder(length);
    while (sb.length() < length) {
      sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, random.nextInt(alphabet.codePointCount(0, alphabet.length())))));
    }
    return sb.toString();
  }

  /** Shard mixes: shards of different values, duplicated, dropped, reordered or renumbered never read as a ticket. */
  @Test
  void mixedShardsNeverRead() {
    Random random = new Random(SEED + 1);
    AffinityCookies cookies = AffinityCookies.of(codec, CookiePolicy.builder().maxShardBytes(512).cors(true).build());
    Expiry expiry = Expiry.sliding(Duration.ofHours(1));
    List<AffinityCookiesTest.Jar> jars = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      byte[] extra = new byte[600 + random.nextInt(1500)];
      random.nextBytes(extra);
      AffinityTicket ticket = expiry.newTicket("t" + i, "web", extra, clock.instant());
      AffinityCookiesTest.Jar jar = new AffinityCookiesTest.Jar()
          .apply(cookies.issue(NAME, ticket, expiry, true, CookieSource.empty()));
      jar.cookies.keySet().removeIf(n -> n.startsWith(NAME + "CORS") && random.nextBoolean());
      assertThat(cookies.read(jar, NAME)).contains(ticket);
      jars.add(jar);
    }

    int attempts = 0;
    for (int round = 0; round < 10_000; round++) {
      AffinityCookiesTest.Jar original = jars.get(random.nextInt(jars.size()));
      AffinityCookiesTest.Jar mixed = original.copy();
      List<String> shardNames = new ArrayList<>(mixed.cookies.keySet());
      switch (random.nextInt(5)) {
        case 0: { // a shard from another value
          String shard = shardNames.get(random.nextInt(shardNames.size()));
          String replacement = jars.get(random.nextInt(jars.size())).value(shard);
          if (replacement != null) {
            mixed.with(shard, replacement);
          }
          break;
        }
        case 1: { // two shards swapped
          String a = shardNames.get(random.nextInt(shardNames.size()));
          String b = shardNames.get(random.nextInt(shardNames.size()));
          String va = mixed.value(a);
          mixed.with(a, mixed.value(b)).with(b, va);
          break;
        }
        case 2: // a shard dropped
          mixed.cookies.remove(shardNames.get(random.nextInt(shardNames.size())));
          break;
        case 3: { // a shard added past the end
          int count = (int) shardNames.stream().filter(n -> n.startsWith(NAME + "-")).count();
          mixed.with(NAME + "-" + count, randomString(random, URL_ALPHABET, 1 + random.nextInt(50)));
          mixed.with(NAME + "CORS-" + count, randomString(random, URL_ALPHABET, 1 + random.nextInt(50)));
          break;
        }
        default: { // the count renumbered
          String first = mixed.value(NAME + "-0");
          mixed.with(NAME + "-0", random.nextInt(70) + first.substring(first.indexOf('.')));
          String corsFirst = mixed.value(NAME + "CORS-0");
          if (corsFirst != null) {
            mixed.with(NAME + "CORS-0", random.nextInt(70) + corsFirst.substring(corsFirst.indexOf('.')));
          }
          break;
        }
      }
      if (mixed.cookies.equals(original.cookies) || isIntactSomewhere(mixed, jars)) {
        continue;
      }
      attempts++;
      assertThat(cookies.read(mixed, NAME)).as("round %d", round).isEmpty();
    }
    assertThat(attempts).isGreaterThan(4_000);
  }

  /** True when the mutated jar still holds one value's complete, unchanged shard set under one name. */
  private static boolean isIntactSomewhere(AffinityCookiesTest.Jar mixed, List<AffinityCookiesTest.Jar> jars) {
    for (String prefix : new String[] {NAME, NAME + "CORS"}) {
      for (AffinityCookiesTest.Jar jar : jars) {
        boolean all = true;
        boolean any = false;
        for (Map.Entry<String, String> e : jar.cookies.entrySet()) {
          if (e.getKey().startsWith(prefix + "-")) {
            any = true;
            all &= e.getValue().equals(mixed.value(e.getKey()));
          }
        }
        int mixedCount = (int) mixed.cookies.keySet().stream().filter(n -> n.startsWith(prefix + "-")).count();
        int count = (int) jar.cookies.keySet().stream().filter(n -> n.startsWith(prefix + "-")).count();
        if (any && all && mixedCount == count) {
          return true;
        }
      }
    }
    return false;
  }
}
