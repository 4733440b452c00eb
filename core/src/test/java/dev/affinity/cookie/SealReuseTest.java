package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Sealing once per target and granule ({@link CookiePolicy#sealReuse()}, {@link SealCache}, {@link Expiry#shareable}). */
class SealReuseTest {
  private static final Duration HOUR = Duration.ofHours(1);
  private static final long GRANULE = 36_000; // 1 % of an hour
  private final MutableClock clock = new MutableClock(MutableClock.START.plusSeconds(7)); // mid-granule
  private final CodecCounters counters = CodecMetrics.counting();

  private AffinityCookies cookies(boolean sealReuse, Keyring keyring) {
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    return AffinityCookies.of(codec, CookiePolicy.builder().sealReuse(sealReuse).build());
  }

  private static Keyring key(String id, int fill) {
    byte[] secret = new byte[32];
    java.util.Arrays.fill(secret, (byte) fill);
    return Keyring.builder().addKey(id, secret).build();
  }

  /** The value a new client pinned to {@code target} now is sent, as the router issues it. */
  private static String newPin(AffinityCookies cookies, Expiry expiry, String target, Instant now) {
    AffinityTicket ticket = cookies.shareable(expiry.newTicket(target, "web", now), expiry);
    List<SetCookie> set = cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty());
    return set.get(0).value();
  }

  @Test
  void clientsPinnedToOneTargetInOneGranuleShareOneValueSealedOnce() {
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityCookies cookies = cookies(true, key("k1", 1));
    String first = newPin(cookies, expiry, "t1", clock.instant());
    clock.advance(Duration.ofSeconds(20)); // still the same granule (it started 7 s ago, lasts 36 s)
    String second = newPin(cookies, expiry, "t1", clock.instant());
    assertThat(second).isSameAs(first);
    assertThat(counters.sealedCount()).isEqualTo(1);
    assertThat(cookies.codec().open("AFFINITY", second)).get().extracting(AffinityTicket::targetId).isEqualTo("t1");
  }

  @Test
  void theNextGranuleSealsANewValue() {
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityCookies cookies = cookies(true, key("k1", 1));
    String first = newPin(cookies, expiry, "t1", clock.instant());
    clock.advance(Duration.ofSeconds(29)); // 36 s after the granule's start
    String next = newPin(cookies, expiry, "t1", clock.instant());
    assertThat(next).isNotEqualTo(first);
    assertThat(counters.sealedCount()).isEqualTo(2);
    AffinityTicket opened = cookies.codec().open("AFFINITY", next).orElseThrow();
    assertThat(opened.issuedAt()).isEqualTo(MutableClock.START.plusMillis(GRANULE));
    assertThat(opened.expiresAt()).isEqualTo(MutableClock.START.plusMillis(GRANULE).plus(HOUR));
  }

  @Test
  void eachTargetGroupAndNameHasItsOwnValue() {
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityCookies cookies = cookies(true, key("k1", 1));
    Instant now = clock.instant();
    String t1 = newPin(cookies, expiry, "t1", now);
    String t2 = newPin(cookies, expiry, "t2", now);
    assertThat(t1).isNotEqualTo(t2);
    AffinityTicket otherGroup = cookies.shareable(expiry.newTicket("t1", "api", now), expiry);
    assertThat(cookies.seal("AFFINITY", otherGroup)).isNotEqualTo(t1);
    AffinityTicket sameTicket = cookies.shareable(expiry.newTicket("t1", "web", now), expiry);
    String otherName = cookies.seal("AFFINITY.api", sameTicket);
    assertThat(otherName).isNotEqualTo(t1);
    assertThat(cookies.codec().open("AFFINITY.api", otherName)).isPresent();
    assertThat(cookies.codec().open("AFFINITY", otherName)).as("sealed for its own name only").isEmpty();
    // All of them stay in the cache: asking again seals nothing.
    long sealed = counters.sealedCount();
    assertThat(newPin(cookies, expiry, "t1", now)).isSameAs(t1);
    assertThat(newPin(cookies, expiry, "t2", now)).isSameAs(t2);
    assertThat(cookies.seal("AFFINITY.api", sameTicket)).isSameAs(otherName);
    assertThat(counters.sealedCount()).isEqualTo(sealed);
  }

  @Test
  void aNewPrimaryKeySealsAnewAtOnce() {
    // A codec whose primary key can change under the cache, as the key id is what a reuse is checked against.
    Keyring k1 = key("k1", 1);
    Keyring k2 = Keyring.builder().addKey("k2", new byte[32]).addKey("k1", fill(1)).build();
    AffinityCookieCodec one = AffinityCookieCodec.builder().keyring(k1).clock(clock).build();
    AffinityCookieCodec two = AffinityCookieCodec.builder().keyring(k2).clock(clock).build();
    SwitchingCodec codec = new SwitchingCodec(one);
    SealCache cache = new SealCache(codec);
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityTicket ticket = expiry.shareable(expiry.newTicket("t1", "web", clock.instant()));
    String underK1 = cache.seal("AFFINITY", ticket);
    assertThat(cache.seal("AFFINITY", ticket)).isSameAs(underK1);
    codec.current = two;
    String underK2 = cache.seal("AFFINITY", ticket);
    assertThat(underK2).isNotEqualTo(underK1);
    assertThat(two.open("AFFINITY", underK2)).get().isEqualTo(ticket);
    AffinityCookieCodec k2Only = AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k2", new byte[32]).build()).clock(clock).build();
    assertThat(k2Only.open("AFFINITY", underK2)).as("sealed with k2").isPresent();
    assertThat(k2Only.open("AFFINITY", underK1)).as("sealed with k1").isEmpty();
  }

  @Test
  void withReuseOffEveryClientGetsItsOwnValue() {
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityCookies cookies = cookies(false, key("k1", 1));
    Instant now = clock.instant();
    assertThat(cookies.shareable(expiry.newTicket("t1", "web", now), expiry).issuedAt()).as("times as they are").isEqualTo(now);
    String first = newPin(cookies, expiry, "t1", now);
    String second = newPin(cookies, expiry, "t1", now);
    assertThat(second).isNotEqualTo(first);
    assertThat(counters.sealedCount()).isEqualTo(2);
  }

  @Test
  void aSlidingPinEndsLessThanOneGranuleEarlyAndNeverLate() {
    SplittableRandom random = new SplittableRandom(23);
    for (Duration duration : new Duration[] {Duration.ofSeconds(1), HOUR, Duration.ofMinutes(250), Duration.ofDays(7)}) {
      Expiry expiry = Expiry.sliding(duration);
      long granule = expiry.refreshGranularity().toMillis();
      for (int i = 0; i < 2000; i++) {
        Instant now = MutableClock.START.plusMillis(random.nextLong(0, 10 * 86_400_000L));
        AffinityTicket shared = expiry.shareable(expiry.newTicket("t1", "web", now));
        long end = shared.expiresAt().toEpochMilli();
        long exact = now.toEpochMilli() + duration.toMillis();
        assertThat(end).as("%s at %s", duration, now).isLessThanOrEqualTo(exact).isGreaterThan(exact - granule);
        assertThat(shared.expiresAt().toEpochMilli() - shared.issuedAt().toEpochMilli()).isEqualTo(duration.toMillis());
        assertThat(shared.issuedAt().toEpochMilli() % granule).as("on a granule boundary").isZero();
        assertThat(expiry.shareable(shared)).as("already shared: unchanged").isSameAs(shared);
        // Refreshed later, the same bound holds from the later time.
        Instant later = now.plusMillis(random.nextLong(granule + 1, 3 * granule));
        AffinityTicket refreshed = expiry.shareable(expiry.refresh(shared, later));
        long laterExact = later.toEpochMilli() + duration.toMillis();
        assertThat(refreshed.expiresAt().toEpochMilli()).isLessThanOrEqualTo(laterExact).isGreaterThan(laterExact - granule);
      }
    }
  }

  @Test
  void anAbsoluteDeadlineIsNeverExtended() {
    SplittableRandom random = new SplittableRandom(7);
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(2), false);
    long granule = expiry.refreshGranularity().toMillis();
    for (int i = 0; i < 2000; i++) {
      Instant pinnedAt = MutableClock.START.plusMillis(random.nextLong(0, 86_400_000L));
      AffinityTicket ticket = expiry.newTicket("t1", "web", pinnedAt);
      long deadline = pinnedAt.toEpochMilli() + Duration.ofHours(2).toMillis();
      // Refreshed over the pin's life, each time sealed for sharing: the end never passes the first deadline.
      Instant now = pinnedAt;
      for (int step = 0; step < 12; step++) {
        AffinityTicket shared = expiry.shareable(ticket);
        long sharedDeadline = deadlineOf(shared);
        assertThat(sharedDeadline).isLessThanOrEqualTo(deadline).isGreaterThan(deadline - granule);
        assertThat(shared.expiresAt().toEpochMilli()).isLessThanOrEqualTo(sharedDeadline)
            .isLessThanOrEqualTo(ticket.expiresAt().toEpochMilli());
        assertThat(shared.issuedAt()).isBeforeOrEqualTo(shared.expiresAt());
        now = now.plus(Duration.ofMinutes(random.nextInt(1, 20)));
        if (!now.isBefore(shared.expiresAt())) {
          break;
        }
        ticket = expiry.needsRefresh(shared, now) ? expiry.refresh(shared, now) : shared;
      }
    }
  }

  @Test
  void aPinAtItsDeadlineStaysThereWhenShared() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(1), false);
    Instant pinnedAt = clock.instant();
    AffinityTicket ticket = expiry.newTicket("t1", "web", pinnedAt);
    Instant late = pinnedAt.plus(Duration.ofMinutes(50)).plusMillis(123);
    AffinityTicket atEnd = expiry.shareable(expiry.refresh(ticket, late));
    assertThat(atEnd.expiresAt().toEpochMilli()).isEqualTo(deadlineOf(atEnd));
    assertThat(expiry.needsRefresh(atEnd, late.plusSeconds(60))).as("nothing left to extend").isFalse();
  }

  @Test
  void equalSharedTicketsWithADeadlineShareAValue() {
    Expiry expiry = Expiry.timeouts(Duration.ofMinutes(30), Duration.ofHours(2), false);
    AffinityCookies cookies = cookies(true, key("k1", 1));
    String first = newPin(cookies, expiry, "t1", clock.instant());
    clock.advance(Duration.ofSeconds(3));
    assertThat(newPin(cookies, expiry, "t1", clock.instant())).isSameAs(first);
  }

  @Test
  void corsCompanionAndPlainCookieCarryTheReusedValue() {
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(key("k1", 1)).clock(clock).metrics(counters).build();
    AffinityCookies cookies = AffinityCookies.of(codec, CookiePolicy.builder().cors(true).build());
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityTicket ticket = cookies.shareable(expiry.newTicket("t1", "web", clock.instant()), expiry);
    List<SetCookie> a = cookies.issue("AFFINITY", ticket, expiry, true, CookieSource.empty());
    List<SetCookie> b = cookies.issue("AFFINITY", cookies.shareable(expiry.newTicket("t1", "web", clock.instant().plusSeconds(1)), expiry),
        expiry, true, CookieSource.empty());
    assertThat(a).extracting(SetCookie::name).containsExactly("AFFINITY", "AFFINITYCORS");
    assertThat(b).extracting(SetCookie::value).containsOnly(a.get(0).value());
    assertThat(counters.sealedCount()).isEqualTo(1);
  }

  @Test
  void reusedCookiesAreTheOnesABuildWouldGive() {
    Expiry expiry = Expiry.sliding(HOUR);
    AffinityCookies cookies = cookies(true, key("k1", 1));
    AffinityTicket ticket = cookies.shareable(expiry.newTicket("t1", "web", clock.instant()), expiry);
    List<SetCookie> first = cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty());
    assertThat(cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty())).as("built once").isSameAs(first);
    assertThat(first.get(0).maxAgeSeconds()).isEqualTo(HOUR.toSeconds() - 7);

    // Whatever differs is built afresh: Secure, the path, a request carrying what must be removed, the next second.
    assertThat(cookies.issue("AFFINITY", ticket, expiry, true, CookieSource.empty())).singleElement()
        .satisfies(c -> assertThat(c.secure()).isTrue());
    assertThat(cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty(), "/shop")).singleElement()
        .satisfies(c -> assertThat(c.path()).isEqualTo("/shop"));
    CookieSource staleCompanion = name -> name.equals("AFFINITYCORS") ? "old" : null;
    assertThat(cookies.issue("AFFINITY", ticket, expiry, false, staleCompanion))
        .extracting(SetCookie::name, SetCookie::isRemoval).containsExactly(
            org.assertj.core.groups.Tuple.tuple("AFFINITY", false), org.assertj.core.groups.Tuple.tuple("AFFINITYCORS", true));
    CookieSource staleShard = name -> name.equals("AFFINITY-0") ? "2.abc" : null;
    assertThat(cookies.issue("AFFINITY", ticket, expiry, false, staleShard))
        .extracting(SetCookie::name).containsExactly("AFFINITY", "AFFINITY-0");
    // One build is kept per value (the last one, here the secure one): the first comes back equal, then kept again.
    List<SetCookie> again = cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty());
    assertThat(again).isEqualTo(first);
    assertThat(cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty())).isSameAs(again);
    clock.advance(Duration.ofMillis(1000));
    List<SetCookie> later = cookies.issue("AFFINITY", ticket, expiry, false, CookieSource.empty());
    assertThat(later).isNotSameAs(first);
    assertThat(later.get(0).maxAgeSeconds()).isEqualTo(first.get(0).maxAgeSeconds() - 1);
    assertThat(later.get(0).expires()).isEqualTo(clock.instant().plusSeconds(later.get(0).maxAgeSeconds()));
    assertThat(counters.sealedCount()).as("one value throughout").isEqualTo(1);
  }

  private static long deadlineOf(AffinityTicket ticket) {
    byte[] extra = ticket.extra();
    assertThat(extra).hasSize(8);
    long deadline = 0;
    for (byte b : extra) {
      deadline = (deadline << 8) | (b & 0xFF);
    }
    return deadline;
  }

  private static byte[] fill(int value) {
    byte[] secret = new byte[32];
    java.util.Arrays.fill(secret, (byte) value);
    return secret;
  }

  /** Delegates to whichever codec is current: a primary key that changes under a running cache. */
  private static final class SwitchingCodec implements AffinityCookieCodec {
    volatile AffinityCookieCodec current;

    SwitchingCodec(AffinityCookieCodec current) {
      this.current = current;
    }

    @Override
    public String seal(String cookieName, AffinityTicket ticket) {
      return current.seal(cookieName, ticket);
    }

    @Override
    public Optional<AffinityTicket> open(String cookieName, String value) {
      return current.open(cookieName, value);
    }

    @Override
    public Keyring keyring() {
      return current.keyring();
    }

    @Override
    public Clock clock() {
      return current.clock();
    }

    @Override
    public CodecMetrics metrics() {
      return current.metrics();
    }
  }
}
