package dev.affinity.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.SetCookie;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;

/**
 * Shard reassembly through {@link AffinityCookies#read} on arbitrary cookie maps: real sharded values
 * with shards dropped, emptied, swapped, re-split into other counts, extra shards, a thousand bogus
 * shards, huge and malformed counts, giant values. Oracles, for every map:
 * <ul>
 *   <li>{@code read}, {@code present}, {@code issue} and {@code expire} never throw, and the codec's safety
 *       net is never hit;</li>
 *   <li>{@code read} returns exactly what an independent model of the format says: the plain cookie if
 *       present, else shards {@code -0 … -(n-1)} with {@code n} (2-64) from the first shard's prefix, no
 *       empty shard and no shard {@code -n}; then the same for the CORS companion; a value counts only if
 *       it is byte for byte a token the test sealed for that name;</li>
 *   <li>a browser that applies the cookies {@code issue} returns for that request to its jar then reads
 *       back exactly the new ticket: stale shards and companions never spoil it.</li>
 * </ul>
 */
class ShardReassemblyFuzzTest {
  private static final Pattern FIRST_SHARD = Pattern.compile("([0-9]{1,2})\\.(.*)", Pattern.DOTALL);
  /** What {@code AffinityCookies} allows with the default 16 KB total: min(64, 16384 / 256 + 1). */
  private static final int MAX_SHARDS = 64;
  private static final String[] LOGICAL = {"AFFINITY", "AFFINITYAPP"};
  private static final String[] HUGE_COUNTS = {
      "0.", "1.", "2.", "64.", "65.", "99.", "100.", "2147483648.", "-1.", "9999999999999999999.", ".", "..", "1a.", "٣."};

  private static AffinityCookies cookies;
  private static AffinityCookies corsCookies;
  private static Map<String, AffinityTicket> valid;
  /** Each base is the jar a browser holds after one issue: cookie name -> value. */
  private static List<Map<String, String>> bases;
  private static List<String> tokens;

  @BeforeAll
  static void setUp() {
    FuzzFixtures.watchCodecNet();
    AffinityCookieCodec codec = FuzzFixtures.codec(FuzzFixtures.counters(), 10_000, FuzzFixtures.CLOCK);
    cookies = AffinityCookies.of(codec, CookiePolicy.builder().maxShardBytes(512).build());
    corsCookies = AffinityCookies.of(codec, CookiePolicy.builder().maxShardBytes(512).cors(true).build());
    valid = new HashMap<>(FuzzFixtures.fixedValid());
    bases = new ArrayList<>();
    tokens = new ArrayList<>();
    Expiry expiry = Expiry.sliding(Duration.ofHours(1));
    int[] extras = {0, 300, 1500, 6000, 11000};
    int i = 0;
    for (String name : LOGICAL) {
      for (int extra : extras) {
        AffinityTicket ticket = AffinityTicket.of("t" + i, "web", FuzzFixtures.START,
            FuzzFixtures.START.plus(Duration.ofHours(1)), new byte[extra]);
        AffinityCookies c = i++ % 2 == 0 ? cookies : corsCookies;
        Map<String, String> jar = new LinkedHashMap<>();
        apply(jar, c.issue(name, ticket, expiry, false, CookieSource.empty()));
        bases.add(jar);
        String token = c.codec().seal(name, ticket);
        tokens.add(token);
        valid.put(FuzzFixtures.key(name, token), ticket);
        // The jar's own value: the plain cookie, or its shards joined.
        String whole = whole(jar, name);
        valid.put(FuzzFixtures.key(name, whole), ticket);
        tokens.add(whole);
      }
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "10m")
  void readArbitraryCookieMap(FuzzedDataProvider data) {
    Map<String, String> jar = new HashMap<>();
    int base = data.consumeInt(0, bases.size());
    if (base < bases.size()) {
      jar.putAll(bases.get(base));
    }
    int edits = data.consumeInt(0, 10);
    for (int e = 0; e < edits && data.remainingBytes() > 0; e++) {
      edit(jar, data);
    }
    CookieSource request = CookieSource.of(jar);
    for (String name : LOGICAL) {
      Optional<AffinityTicket> got = cookies.read(request, name);
      FuzzFixtures.assertNetNotHit();
      AffinityTicket expected = model(jar, name);
      if (expected == null ? got.isPresent() : !got.equals(Optional.of(expected))) {
        throw new AssertionError("read(" + name + ") gave " + got + " where the model says " + expected + " for " + describe(jar));
      }
      cookies.present(request, name);
      cookies.expire(name, data.consumeBoolean(), request);
    }
    // A browser applies what issue() answers to this request, then comes back.
    String name = LOGICAL[data.consumeInt(0, 1)];
    AffinityCookies writer = data.consumeBoolean() ? cookies : corsCookies;
    AffinityTicket fresh = AffinityTicket.of("fresh", "web", FuzzFixtures.START, FuzzFixtures.START.plus(Duration.ofHours(1)),
        new byte[data.consumeInt(0, 6000)]);
    apply(jar, writer.issue(name, fresh, Expiry.sliding(Duration.ofHours(1)), false, request));
    Optional<AffinityTicket> back = cookies.read(CookieSource.of(jar), name);
    FuzzFixtures.assertNetNotHit();
    if (!back.equals(Optional.of(fresh))) {
      throw new AssertionError("after applying issue() the jar reads " + back + " instead of the new ticket: " + describe(jar));
    }
  }

  private static void edit(Map<String, String> jar, FuzzedDataProvider data) {
    switch (data.consumeInt(0, 10)) {
      case 0: { // drop a cookie
        if (!jar.isEmpty()) {
          List<String> names = new ArrayList<>(jar.keySet());
          names.sort(null);
          jar.remove(names.get(data.consumeInt(0, names.size() - 1)));
        }
        return;
      }
      case 1:
        jar.put(anyName(data), data.consumeString(64));
        return;
      case 2: // an empty shard
        jar.put(anyName(data), "");
        return;
      case 3: // a first shard with a huge, negative or malformed count
        jar.put(prefix(data) + "-0", HUGE_COUNTS[data.consumeInt(0, HUGE_COUNTS.length - 1)] + data.consumeString(32));
        return;
      case 4: { // 1000 bogus shards
        String prefix = prefix(data);
        String filler = data.consumeString(8);
        for (int i = 0; i < 1000; i++) {
          jar.put(prefix + "-" + i, i == 0 ? "999." + filler : filler);
        }
        return;
      }
      case 5: { // a shard of another value spliced in
        Map<String, String> other = bases.get(data.consumeInt(0, bases.size() - 1));
        List<String> names = new ArrayList<>(other.keySet());
        names.sort(null);
        String from = names.get(data.consumeInt(0, names.size() - 1));
        jar.put(data.consumeBoolean() ? from : anyName(data), other.get(from));
        return;
      }
      case 6: // a whole token as a plain cookie (or companion)
        jar.put(prefix(data), tokens.get(data.consumeInt(0, tokens.size() - 1)));
        return;
      case 7: { // one character of one cookie changed
        if (!jar.isEmpty()) {
          List<String> names = new ArrayList<>(jar.keySet());
          names.sort(null);
          String n = names.get(data.consumeInt(0, names.size() - 1));
          String v = jar.get(n);
          if (!v.isEmpty()) {
            int at = data.consumeInt(0, v.length() - 1);
            jar.put(n, v.substring(0, at) + data.consumeChar() + v.substring(at + 1));
          }
        }
        return;
      }
      case 8: { // a real token split into k shards (valid only for 2 <= k <= 64)
        String token = tokens.get(data.consumeInt(0, tokens.size() - 1));
        String prefix = prefix(data);
        int k = data.consumeInt(1, 70);
        int per = Math.max(1, (token.length() + k - 1) / k);
        int count = (token.length() + per - 1) / per;
        for (int i = 0; i < count; i++) {
          String part = token.substring(i * per, Math.min(token.length(), (i + 1) * per));
          jar.put(prefix + "-" + i, i == 0 ? count + "." + part : part);
        }
        return;
      }
      case 9: // a giant value
        jar.put(anyName(data), "A".repeat(data.consumeInt(1, 70_000)));
        return;
      default: // a numbered shard name with arbitrary text after the dash
        jar.put(prefix(data) + "-" + data.consumeString(4), data.consumeString(16));
    }
  }

  private static String prefix(FuzzedDataProvider data) {
    String name = LOGICAL[data.consumeInt(0, LOGICAL.length - 1)];
    return data.consumeBoolean() ? name : name + "CORS";
  }

  private static String anyName(FuzzedDataProvider data) {
    switch (data.consumeInt(0, 3)) {
      case 0:
        return prefix(data);
      case 1:
        return prefix(data) + "-" + data.consumeInt(0, 70);
      case 2:
        return prefix(data) + "-" + data.consumeInt(-5, 1200);
      default:
        return data.consumeString(16);
    }
  }

  /** The independent model: what a correct reader returns for this jar. */
  private static AffinityTicket model(Map<String, String> jar, String name) {
    for (String n : new String[] {name, name + "CORS"}) {
      String whole = whole(jar, n);
      if (whole != null) {
        AffinityTicket t = valid.get(FuzzFixtures.key(name, whole));
        if (t != null) {
          return t;
        }
      }
    }
    return null;
  }

  private static String whole(Map<String, String> jar, String n) {
    String plain = jar.get(n);
    if (plain != null) {
      return plain;
    }
    String first = jar.get(n + "-0");
    if (first == null) {
      return null;
    }
    Matcher m = FIRST_SHARD.matcher(first);
    if (!m.matches()) {
      return null;
    }
    int count = Integer.parseInt(m.group(1));
    if (count < 2 || count > MAX_SHARDS) {
      return null;
    }
    StringBuilder sb = new StringBuilder(m.group(2));
    for (int i = 1; i < count; i++) {
      String s = jar.get(n + "-" + i);
      if (s == null || s.isEmpty()) {
        return null;
      }
      sb.append(s);
    }
    return jar.get(n + "-" + count) != null ? null : sb.toString();
  }

  private static void apply(Map<String, String> jar, List<SetCookie> setCookies) {
    for (SetCookie c : setCookies) {
      if (c.isRemoval()) {
        jar.remove(c.name());
      } else {
        jar.put(c.name(), c.value());
      }
    }
  }

  private static String describe(Map<String, String> jar) {
    StringBuilder sb = new StringBuilder("jar{");
    jar.entrySet().stream().sorted(Map.Entry.comparingByKey()).limit(40).forEach(e -> sb.append(e.getKey()).append('=')
        .append(e.getValue().length() > 40 ? e.getValue().substring(0, 40) + "…(" + e.getValue().length() + ")" : e.getValue()).append("; "));
    return sb.append(jar.size() > 40 ? "… " + jar.size() + " cookies}" : "}").toString();
  }
}
