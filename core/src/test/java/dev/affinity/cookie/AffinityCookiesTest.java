package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class AffinityCookiesTest {
  static final String NAME = "AFFINITYAPP";
  static final String CORS = "AFFINITYAPPCORS";

  private final MutableClock clock = new MutableClock();
  private final CodecCounters counters = CodecMetrics.counting();
  private final AffinityCookieCodec codec = AffinityCookieCodec.builder()
      .keyring(Keyring.builder().addKey("k1", AffinityCookieCodecTest.secret(1)).build())
      .clock(clock).metrics(counters).maxValueLength(65_536).build();
  private final Expiry expiry = Expiry.sliding(Duration.ofHours(1));

  private AffinityCookies cookies(CookiePolicy policy) {
    return AffinityCookies.of(codec, policy);
  }

  private AffinityCookies cookies() {
    return cookies(CookiePolicy.defaults());
  }

  private AffinityTicket ticket(String target, int extraBytes) {
    byte[] extra = new byte[extraBytes];
    new Random(extraBytes).nextBytes(extra);
    return expiry.newTicket(target, "web", extra, clock.instant());
  }

  /** A browser's cookie jar for one site. */
  static final class Jar implements CookieSource {
    final Map<String, String> cookies = new LinkedHashMap<>();

    Jar apply(List<SetCookie> setCookies) {
      for (SetCookie c : setCookies) {
        if (c.isRemoval()) {
          cookies.remove(c.name());
        } else {
          cookies.put(c.name(), c.value());
        }
      }
      return this;
    }

    Jar with(String name, String value) {
      cookies.put(name, value);
      return this;
    }

    Jar copy() {
      Jar copy = new Jar();
      copy.cookies.putAll(cookies);
      return copy;
    }

    @Override
    public String value(String name) {
      return cookies.get(name);
    }
  }

  private static List<String> names(List<SetCookie> setCookies) {
    return setCookies.stream().map(SetCookie::name).collect(Collectors.toList());
  }

  private static List<String> valueNames(List<SetCookie> setCookies) {
    return setCookies.stream().filter(c -> !c.isRemoval()).map(SetCookie::name).collect(Collectors.toList());
  }

  private static List<String> removalNames(List<SetCookie> setCookies) {
    return setCookies.stream().filter(SetCookie::isRemoval).map(SetCookie::name).collect(Collectors.toList());
  }

  private static void assertFits(List<SetCookie> setCookies, int limit) {
    for (SetCookie c : setCookies) {
      assertThat(c.toHeaderValue().getBytes(StandardCharsets.UTF_8).length).as(c.name()).isLessThanOrEqualTo(limit);
    }
  }

  // ---- one cookie ----

  @Test
  void issuesOneSafeCookieAndReadsItBack() {
    AffinityCookies cookies = cookies();
    AffinityTicket ticket = ticket("t1", 0);

    List<SetCookie> out = cookies.issue(NAME, ticket, expiry, true, CookieSource.empty());

    assertThat(out).hasSize(1);
    SetCookie cookie = out.get(0);
    assertThat(cookie.name()).isEqualTo(NAME);
    assertThat(cookie.path()).isEqualTo("/");
    assertThat(cookie.domain()).isNull();
    assertThat(cookie.httpOnly()).isTrue();
    assertThat(cookie.secure()).isTrue();
    assertThat(cookie.sameSite()).isEqualTo(SameSite.LAX);
    assertThat(cookie.maxAge()).isEqualTo(Duration.ofHours(1));
    assertThat(cookie.expires()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
    assertThat(cookies.read(new Jar().apply(out), NAME)).contains(ticket);
    assertThat(cookies.present(new Jar().apply(out), NAME)).isTrue();
    assertThat(cookies.present(CookieSource.empty(), NAME)).isFalse();
    assertThat(cookies.read(CookieSource.empty(), NAME)).isEmpty();
    assertThat(counters.rejectedTotal()).isZero();
  }

  @Test
  void secureFollowsTheRequestUnlessSetOtherwise() {
    AffinityTicket ticket = ticket("t1", 0);
    assertThat(cookies().issue(NAME, ticket, expiry, false, CookieSource.empty()).get(0).secure()).isFalse();
    AffinityCookies always = cookies(CookiePolicy.builder().secure(SecureMode.ALWAYS).build());
    assertThat(always.issue(NAME, ticket, expiry, false, CookieSource.empty()).get(0).secure()).isTrue();
    AffinityCookies never = cookies(CookiePolicy.builder().secure(SecureMode.NEVER).build());
    assertThat(never.issue(NAME, ticket, expiry, true, CookieSource.empty()).get(0).secure()).isFalse();
  }

  @Test
  void sameSiteNoneOnAPlainRequestUnderSecureAutoIsLaxInsteadOfFailing() {
    // SameSite=None needs Secure, which a plain-HTTP answer under secure: auto does not carry: the
    // cookie falls back to Lax (a browser's own default) rather than making the request fail.
    AffinityCookies none = cookies(CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.AUTO).build());
    AffinityTicket ticket = ticket("t1", 0);
    SetCookie plain = none.issue(NAME, ticket, expiry, false, CookieSource.empty()).get(0);
    assertThat(plain.secure()).isFalse();
    assertThat(plain.sameSite()).isEqualTo(SameSite.LAX);
    SetCookie tls = none.issue(NAME, ticket, expiry, true, CookieSource.empty()).get(0);
    assertThat(tls.secure()).isTrue();
    assertThat(tls.sameSite()).isEqualTo(SameSite.NONE);
    Map<String, String> carried = Map.of(NAME, "x");
    assertThat(none.expire(NAME, false, carried::get)).singleElement()
        .satisfies(c -> assertThat(c.sameSite()).isEqualTo(SameSite.LAX));
    AffinityCookies always = cookies(CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.ALWAYS).build());
    assertThat(always.issue(NAME, ticket, expiry, false, CookieSource.empty()).get(0).sameSite()).isEqualTo(SameSite.NONE);
  }

  @Test
  void browserSessionCookieHasNoMaxAgeOrExpires() {
    Expiry session = Expiry.browserSession(Duration.ofMinutes(30));
    AffinityTicket ticket = session.newTicket("t1", "web", clock.instant());

    SetCookie cookie = cookies().issue(NAME, ticket, session, true, CookieSource.empty()).get(0);

    assertThat(cookie.maxAge()).isNull();
    assertThat(cookie.expires()).isNull();
    assertThat(cookie.maxAgeSeconds()).isEqualTo(-1);
    assertThat(cookie.toHeaderValue()).doesNotContain("Max-Age").doesNotContain("Expires");
  }

  // ---- sharding ----

  static Stream<CookiePolicy> policies() {
    return Stream.of(
        CookiePolicy.defaults(),
        CookiePolicy.builder().domain("shop.example.com").path("/cart/checkout/v2").sameSite(SameSite.STRICT)
            .secure(SecureMode.ALWAYS).cors(true).build(),
        CookiePolicy.builder().maxShardBytes(512).cors(true).build());
  }

  @ParameterizedTest
  @MethodSource("policies")
  void largestValueThatFitsIsOneCookieAndOneMoreByteIsTwoShards(CookiePolicy policy) {
    AffinityCookies cookies = cookies(policy);
    // The largest extra length whose cookie is still single, by bisection (value length grows with it).
    int fits = 0;
    int shards = 4 * policy.maxShardBytes();
    while (shards - fits > 1) {
      int middle = (fits + shards) >>> 1;
      if (valueNames(cookies.issue(NAME, ticket("t1", middle), expiry, true, CookieSource.empty())).contains(NAME)) {
        fits = middle;
      } else {
        shards = middle;
      }
    }

    List<SetCookie> single = cookies.issue(NAME, ticket("t1", fits), expiry, true, CookieSource.empty());
    List<SetCookie> split = cookies.issue(NAME, ticket("t1", fits + 1), expiry, true, CookieSource.empty());

    assertThat(valueNames(single)).contains(NAME).doesNotContain(NAME + "-0");
    assertThat(valueNames(split)).contains(NAME + "-0", NAME + "-1").doesNotContain(NAME, NAME + "-2");
    assertThat(split.get(0).value()).startsWith("2.");
    assertFits(single, policy.maxShardBytes());
    assertFits(split, policy.maxShardBytes());
    // The single cookie uses the room it has: only the slack reserved for the longest attributes is left.
    SetCookie largest = single.stream().filter(c -> c.name().equals(NAME)).findFirst().orElseThrow();
    assertThat(largest.toHeaderValue().length()).isGreaterThan(policy.maxShardBytes() - 40);

    assertThat(cookies.read(new Jar().apply(single), NAME)).contains(ticket("t1", fits));
    assertThat(cookies.read(new Jar().apply(split), NAME)).contains(ticket("t1", fits + 1));
    if (policy.cors()) {
      Jar corsOnly = new Jar().apply(split);
      corsOnly.cookies.keySet().removeIf(name -> !name.startsWith(CORS));
      assertThat(cookies.read(corsOnly, NAME)).contains(ticket("t1", fits + 1));
    }
  }

  @ParameterizedTest
  @MethodSource("policies")
  void everyCookieFitsAtEverySize(CookiePolicy policy) {
    AffinityCookies cookies = cookies(policy);
    for (int extra = 0; extra < 11_000; extra += 211) {
      AffinityTicket ticket = ticket("t-" + extra, extra);
      List<SetCookie> out = cookies.issue(NAME, ticket, expiry, true, CookieSource.empty());
      assertFits(out, policy.maxShardBytes());
      assertThat(cookies.read(new Jar().apply(out), NAME)).as("extra %d", extra).contains(ticket);
    }
    assertThat(counters.rejectedTotal()).isZero();
  }

  @Test
  void shardsJoinInOrder() {
    AffinityCookies cookies = cookies();
    AffinityTicket ticket = ticket("t1", 6000);

    List<SetCookie> out = cookies.issue(NAME, ticket, expiry, true, CookieSource.empty());

    assertThat(names(out)).containsExactly(NAME + "-0", NAME + "-1", NAME + "-2");
    assertThat(out.get(0).value()).startsWith("3.");
    String joined = out.get(0).value().substring(2) + out.get(1).value() + out.get(2).value();
    assertThat(codec.open(NAME, joined)).contains(ticket);
    assertThat(cookies.read(new Jar().apply(out), NAME)).contains(ticket);
    assertThat(cookies.present(new Jar().apply(out), NAME)).isTrue();
  }

  private Jar threeShards() {
    return new Jar().apply(cookies().issue(NAME, ticket("t1", 6000), expiry, true, CookieSource.empty()));
  }

  @Test
  void missingOrEmptyShardMakesTheValueAbsent() {
    Jar jar = threeShards();
    jar.cookies.remove(NAME + "-1");
    assertThat(cookies().read(jar, NAME)).isEmpty();

    Jar last = threeShards();
    last.cookies.remove(NAME + "-2");
    assertThat(cookies().read(last, NAME)).isEmpty();

    Jar empty = threeShards().with(NAME + "-1", "");
    assertThat(cookies().read(empty, NAME)).isEmpty();

    assertThat(counters.rejectedCount(Rejection.BAD_SHARDS)).isEqualTo(3);
    assertThat(counters.rejectedTotal()).isEqualTo(3);
  }

  @Test
  void extraShardMakesTheValueAbsent() {
    Jar jar = threeShards().with(NAME + "-3", "AAAA");
    assertThat(cookies().read(jar, NAME)).isEmpty();
    assertThat(counters.rejectedCount(Rejection.BAD_SHARDS)).isEqualTo(1);
    assertThat(counters.rejectedTotal()).isEqualTo(1);
  }

  @Test
  void garbledShardCountMakesTheValueAbsent() {
    String first = threeShards().value(NAME + "-0").substring(2);
    String[] prefixes = {"", ".", "x.", "0.", "1.", "2.", "4.", "03x", "65.", "99.", "100.", "-3.", "3", " 3."};
    for (String prefix : prefixes) {
      Jar jar = threeShards().with(NAME + "-0", prefix + first);
      assertThat(cookies().read(jar, NAME)).as("prefix \"%s\"", prefix).isEmpty();
    }
    assertThat(counters.rejectedCount(Rejection.BAD_SHARDS)).isEqualTo(prefixes.length);
    assertThat(counters.rejectedTotal()).isEqualTo(prefixes.length);
  }

  @Test
  void reorderedShardsMakeTheValueAbsent() {
    Jar jar = threeShards();
    String one = jar.value(NAME + "-1");
    jar.with(NAME + "-1", jar.value(NAME + "-2")).with(NAME + "-2", one);

    assertThat(cookies().read(jar, NAME)).isEmpty();
    assertThat(counters.rejectedCount(Rejection.BAD_SHARDS)).isZero();
    assertThat(counters.rejectedTotal()).isEqualTo(1); // the codec refuses the joined value
  }

  @Test
  void shardsOfTwoValuesDoNotMix() {
    Jar a = threeShards();
    Jar b = new Jar().apply(cookies().issue(NAME, ticket("t2", 6001), expiry, true, CookieSource.empty()));
    Jar mixed = a.copy().with(NAME + "-1", b.value(NAME + "-1"));
    assertThat(cookies().read(mixed, NAME)).isEmpty();
    assertThat(cookies().read(b, NAME)).isPresent();
  }

  @Test
  void staleShardsAreExpiredWhenTheNewValueIsSingle() {
    AffinityCookies cookies = cookies();
    List<SetCookie> large = cookies.issue(NAME, ticket("t1", 9000), expiry, true, CookieSource.empty());
    assertThat(names(large)).containsExactly(NAME + "-0", NAME + "-1", NAME + "-2", NAME + "-3");
    Jar jar = new Jar().apply(large);
    AffinityTicket small = ticket("t2", 0);

    List<SetCookie> out = cookies.issue(NAME, small, expiry, true, jar);

    assertThat(valueNames(out)).containsExactly(NAME);
    assertThat(removalNames(out)).containsExactly(NAME + "-0", NAME + "-1", NAME + "-2", NAME + "-3");
    for (SetCookie removal : out.subList(1, out.size())) {
      assertThat(removal.maxAge()).isEqualTo(Duration.ZERO);
      assertThat(removal.value()).isEmpty();
      assertThat(removal.toHeaderValue()).contains("; Max-Age=0;").contains("; Path=/;");
    }
    jar.apply(out);
    assertThat(jar.cookies.keySet()).containsExactly(NAME);
    assertThat(cookies.read(jar, NAME)).contains(small);
  }

  @Test
  void shorterShardedValueExpiresTheShardsItNoLongerUses() {
    AffinityCookies cookies = cookies();
    Jar jar = new Jar().apply(cookies.issue(NAME, ticket("t1", 9000), expiry, true, CookieSource.empty()));

    List<SetCookie> out = cookies.issue(NAME, ticket("t2", 4000), expiry, true, jar);

    assertThat(valueNames(out)).containsExactly(NAME + "-0", NAME + "-1");
    assertThat(removalNames(out)).containsExactly(NAME + "-2", NAME + "-3");
    assertThat(cookies.read(jar.apply(out), NAME)).contains(ticket("t2", 4000));
  }

  @Test
  void shardedValueExpiresThePlainCookieItReplaces() {
    AffinityCookies cookies = cookies();
    Jar jar = new Jar().apply(cookies.issue(NAME, ticket("t1", 0), expiry, true, CookieSource.empty()));

    List<SetCookie> out = cookies.issue(NAME, ticket("t2", 4000), expiry, true, jar);

    assertThat(valueNames(out)).containsExactly(NAME + "-0", NAME + "-1");
    assertThat(removalNames(out)).containsExactly(NAME);
    assertThat(cookies.read(jar.apply(out), NAME)).contains(ticket("t2", 4000));
    assertThat(jar.cookies.keySet()).containsExactlyInAnyOrder(NAME + "-0", NAME + "-1");
  }

  @Test
  void valueOverTheTotalIsRefused() {
    AffinityCookies cookies = cookies();
    assertThatThrownBy(() -> cookies.issue(NAME, ticket("t1", 13_000), expiry, true, CookieSource.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("over the configured maxTotalBytes of 16384");
  }

  /**
   * With small shards and a large total, a value within maxTotalBytes needed more shards than there
   * are shard names: issuing threw ArrayIndexOutOfBoundsException, after emitting a "shard" under the
   * CORS companion's name. Now the limit is a clear IllegalArgumentException, and values that fit work.
   */
  @Test
  void valueNeedingMoreShardsThanAllowedIsRefusedClearly() {
    AffinityCookies cookies = cookies(CookiePolicy.builder().maxShardBytes(512).maxTotalBytes(65_536).build());

    AffinityTicket fits = ticket("t1", 15_000);
    List<SetCookie> out = cookies.issue(NAME, fits, expiry, true, CookieSource.empty());
    assertThat(valueNames(out)).hasSizeBetween(50, 64).doesNotContain(CORS);
    assertFits(out, 512);
    assertThat(cookies.read(new Jar().apply(out), NAME)).contains(fits);

    assertThatThrownBy(() -> cookies.issue(NAME, ticket("t1", 30_000), expiry, true, CookieSource.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cookie AFFINITYAPP seals to")
        .hasMessageContaining("needs more than 64 shards");
  }

  // ---- CORS companion ----

  @Test
  void corsCompanionIsIssuedWithSameSiteNoneAndSecure() {
    AffinityCookies cookies = cookies(CookiePolicy.builder().cors(true).build());
    AffinityTicket ticket = ticket("t1", 0);

    List<SetCookie> out = cookies.issue(NAME, ticket, expiry, false, CookieSource.empty());

    assertThat(names(out)).containsExactly(NAME, CORS);
    SetCookie plain = out.get(0);
    SetCookie cors = out.get(1);
    assertThat(plain.sameSite()).isEqualTo(SameSite.LAX);
    assertThat(plain.secure()).isFalse();
    assertThat(cors.sameSite()).isEqualTo(SameSite.NONE);
    assertThat(cors.secure()).isTrue();
    assertThat(cors.value()).isEqualTo(plain.value());
    assertThat(cors.maxAge()).isEqualTo(plain.maxAge());
    assertThat(cors.toHeaderValue()).endsWith("; Secure; HttpOnly; SameSite=None");
  }

  @Test
  void corsCompanionIsAcceptedWhenThePlainCookieIsAbsentOrBad() {
    AffinityCookies cookies = cookies(CookiePolicy.builder().cors(true).build());
    AffinityTicket ticket = ticket("t1", 0);
    Jar jar = new Jar().apply(cookies.issue(NAME, ticket, expiry, true, CookieSource.empty()));
    String companion = jar.value(CORS);

    assertThat(cookies.read(new Jar().with(CORS, companion), NAME)).contains(ticket);
    assertThat(cookies.present(new Jar().with(CORS, companion), NAME)).isTrue();
    assertThat(cookies.read(new Jar().with(NAME, "garbage!").with(CORS, companion), NAME)).contains(ticket);
    assertThat(counters.rejectedCount(Rejection.NOT_BASE64)).isEqualTo(1);
    // The companion is sealed for the logical name: it does not open as another cookie's companion.
    assertThat(cookies.read(new Jar().with("AFFINITYCORS", companion), "AFFINITY")).isEmpty();
    assertThat(counters.rejectedCount(Rejection.WRONG_NAME)).isEqualTo(1);
  }

  @Test
  void companionLeftFromAnEarlierCorsSettingIsExpired() {
    AffinityCookies cookies = cookies();
    Jar jar = new Jar().with(NAME, "old").with(CORS, "old");

    List<SetCookie> out = cookies.issue(NAME, ticket("t1", 0), expiry, false, jar);

    assertThat(valueNames(out)).containsExactly(NAME);
    assertThat(removalNames(out)).containsExactly(CORS);
    SetCookie removal = out.get(1);
    assertThat(removal.secure()).isTrue();
    assertThat(removal.sameSite()).isEqualTo(SameSite.NONE);
  }

  // ---- expire ----

  @Test
  void expireRemovesEveryFormTheRequestCarried() {
    AffinityCookies cookies = cookies(CookiePolicy.builder().cors(true).build());
    Jar jar = new Jar().apply(cookies.issue(NAME, ticket("t1", 6000), expiry, true, CookieSource.empty()))
        .with(NAME, "plain-too");

    List<SetCookie> out = cookies.expire(NAME, false, jar);

    assertThat(out).allMatch(SetCookie::isRemoval);
    assertThat(names(out)).containsExactly(NAME, NAME + "-0", NAME + "-1", NAME + "-2",
        CORS + "-0", CORS + "-1", CORS + "-2");
    assertThat(out.get(0).secure()).isFalse();
    assertThat(out.get(out.size() - 1).secure()).isTrue();
    assertThat(jar.apply(out).cookies).isEmpty();
    assertThat(cookies.expire(NAME, true, CookieSource.empty())).isEmpty();
  }

  @Test
  void argumentsAreChecked() {
    AffinityCookies cookies = cookies();
    AffinityTicket ticket = ticket("t1", 0);
    assertThatThrownBy(() -> AffinityCookies.of(null, CookiePolicy.defaults())).hasMessage("codec");
    assertThatThrownBy(() -> AffinityCookies.of(codec, null)).hasMessage("policy");
    assertThatThrownBy(() -> cookies.read(null, NAME)).hasMessage("request");
    assertThatThrownBy(() -> cookies.issue(null, ticket, expiry, true, CookieSource.empty())).hasMessage("name");
    assertThatThrownBy(() -> cookies.issue(NAME, null, expiry, true, CookieSource.empty())).hasMessage("ticket");
    assertThatThrownBy(() -> cookies.issue(NAME, ticket, null, true, CookieSource.empty())).hasMessage("expiry");
    assertThatThrownBy(() -> cookies.issue(NAME, ticket, expiry, true, null)).hasMessage("request");
    assertThatThrownBy(() -> cookies.expire(NAME, true, null)).hasMessage("request");
    assertThat(cookies.codec()).isSameAs(codec);
    assertThat(cookies.names().application()).isEqualTo(NAME);
    assertThat(cookies.now()).isEqualTo(clock.instant());
    assertThat(new ArrayList<>(cookies.issue(NAME, ticket, expiry, true, CookieSource.of(Map.of())))).hasSize(1);
  }
}
