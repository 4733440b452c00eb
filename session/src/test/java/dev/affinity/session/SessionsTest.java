package dev.affinity.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SetCookie;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SessionsTest {
  /** A clock the test moves; never sleeps. */
  static final class TestClock extends Clock {
    Instant now = Instant.parse("2026-11-23T10:00:00Z");

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private final TestClock clock = new TestClock();
  private final Keyring keyring = Keyring.parse("k1:" + java.util.Base64.getEncoder().encodeToString(new byte[32]));

  private Sessions sessions(SessionSettings settings, SessionStore store) {
    Sessions.Builder b = Sessions.builder(settings).keyring(keyring).clock(clock)
        .defaultMaxInactive(Duration.ofMinutes(30)).target("app-1", "");
    if (store != null) {
      b.store(store);
    }
    return b.build();
  }

  private static Map<String, String> jar(List<SetCookie> set, Map<String, String> into) {
    for (SetCookie c : set) {
      if (c.isRemoval()) {
        into.remove(c.name());
      } else {
        into.put(c.name(), c.value());
      }
    }
    return into;
  }

  @Test
  void cookieSessionRoundTripsAndExpiresAgainstTheClock() {
    Sessions s = sessions(SessionSettings.builder().mode(SessionMode.COOKIE).build(), null);
    Map<String, String> cookies = new HashMap<>();
    RequestSession first = s.begin(CookieSource.of(cookies), false);
    assertThat(first.current(false)).isNull();
    assertThat(first.cookies()).isEmpty();
    Session created = first.current(true);
    assertThat(created.isNew()).isTrue();
    created.setAttribute("cart", new ArrayList<>(List.of("a", "b")));
    jar(first.cookies(), cookies);
    assertThat(cookies).containsKey("AFFINITYSESSION");
    assertThat(first.cookies()).as("idempotent").isSameAs(first.cookies());

    clock.now = clock.now.plusSeconds(60);
    RequestSession second = s.begin(CookieSource.of(cookies), false);
    Session resumed = second.current(false);
    assertThat(resumed.id()).isEqualTo(created.id());
    assertThat(resumed.isNew()).isFalse();
    assertThat(resumed.getAttribute("cart")).isEqualTo(List.of("a", "b"));
    assertThat(resumed.createdAt()).isEqualTo(Instant.parse("2026-11-23T10:00:00Z"));
    assertThat(second.requestedIdValid()).isTrue();
    // A mutation in place (no setAttribute) is still found and written.
    @SuppressWarnings("unchecked")
    List<String> cart = (List<String>) resumed.getAttribute("cart");
    cart.add("c");
    jar(second.cookies(), cookies);

    // Idle longer than the max inactive interval: gone.
    clock.now = clock.now.plus(Duration.ofMinutes(31));
    RequestSession late = s.begin(CookieSource.of(cookies), false);
    assertThat(late.current(false)).isNull();
    assertThat(late.requestedIdValid()).isFalse();

    clock.now = clock.now.minus(Duration.ofMinutes(2));
    RequestSession inTime = s.begin(CookieSource.of(cookies), false);
    assertThat(inTime.current(false).getAttribute("cart")).isEqualTo(List.of("a", "b", "c"));
    inTime.current(false).invalidate();
    assertThat(inTime.cookies()).allMatch(SetCookie::isRemoval).isNotEmpty();
  }

  @Test
  void overTheLimitSetAttributeThrowsNamingTheLimitAndTheSize() {
    Sessions s = sessions(SessionSettings.builder().mode(SessionMode.COOKIE).maxBytes(2048).build(), null);
    Session session = s.begin(CookieSource.empty(), false).current(true);
    session.setAttribute("small", "x");
    assertThatThrownBy(() -> session.setAttribute("big", new byte[4000]))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("sessionMaxBytes=2048")
        .hasMessageMatching(".*\"big\" would make the sealed AFFINITYSESSION cookie \\d{4,} bytes.*");
    assertThat(session.attributeNames()).containsExactly("small");
  }

  @Test
  void storeSessionsCheckTheVersionAndNeverHandOutAnEmptySessionWhenTheStoreFails() {
    SessionStore store = SessionStore.inMemory(clock);
    Sessions s = sessions(SessionSettings.builder().mode(SessionMode.REDIS).redisUri("redis://x:1").build(), store);
    Map<String, String> cookies = new HashMap<>();
    RequestSession first = s.begin(CookieSource.of(cookies), false);
    first.current(true).setAttribute("n", 1);
    jar(first.cookies(), cookies);
    String id = first.current(false).id();
    assertThat(store.load(id)).isPresent();

    RequestSession a = s.begin(CookieSource.of(cookies), false);
    RequestSession b = s.begin(CookieSource.of(cookies), false);
    a.current(false).setAttribute("n", 2);
    b.current(false).setAttribute("n", 3);
    assertThat(a.cookies()).isEmpty();
    assertThatThrownBy(b::cookies).isInstanceOf(SessionConflictException.class).hasMessageContaining("retry");
    assertThat(s.begin(CookieSource.of(cookies), false).current(false).getAttribute("n")).isEqualTo(2);

    SessionStore broken = new SessionStore() {
      @Override
      public java.util.Optional<SessionRecord> load(String i) {
        throw new SessionStoreException("down");
      }

      @Override
      public long version(String i) {
        throw new SessionStoreException("down");
      }

      @Override
      public SaveResult save(SessionChange change) {
        throw new SessionStoreException("down");
      }

      @Override
      public void touch(String i, Instant at, Duration d) {}

      @Override
      public void delete(String i) {}

      @Override
      public SessionStoreCounters counters() {
        return new SessionStoreCounters();
      }
    };
    Sessions down = sessions(SessionSettings.builder().mode(SessionMode.REDIS).redisUri("redis://x:1").build(), broken);
    assertThatThrownBy(() -> down.begin(CookieSource.of(cookies), false).current(true))
        .isInstanceOf(SessionStoreException.class);
  }

  @Test
  void changeIdMovesTheSessionInTheStore() {
    SessionStore store = SessionStore.inMemory(clock);
    Sessions s = sessions(SessionSettings.builder().mode(SessionMode.REDIS).redisUri("redis://x:1").build(), store);
    Map<String, String> cookies = new HashMap<>();
    RequestSession first = s.begin(CookieSource.of(cookies), false);
    first.current(true).setAttribute("n", 1);
    jar(first.cookies(), cookies);
    String oldId = first.current(false).id();
    RequestSession next = s.begin(CookieSource.of(cookies), false);
    String newId = next.changeId();
    jar(next.cookies(), cookies);
    assertThat(store.load(oldId)).isEmpty();
    assertThat(store.load(newId).orElseThrow().attributes()).containsKey("n");
    assertThat(s.begin(CookieSource.of(cookies), false).current(false).id()).isEqualTo(newId);
    assertThatThrownBy(() -> s.begin(CookieSource.empty(), false).changeId()).isInstanceOf(IllegalStateException.class);
  }

  static final class Gadget implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  @Test
  void theSerializerRefusesClassesOffTheAllowList() throws Exception {
    SessionSerializer serializer = SessionSerializer.java();
    Object value = List.of(1, "two", Instant.EPOCH, Map.of("k", new java.math.BigDecimal("1.5")),
        new ArrayList<>(Set.of(java.util.UUID.randomUUID())), Duration.ofSeconds(3), java.time.DayOfWeek.MONDAY,
        new java.util.LinkedHashMap<>(Map.of("x", List.of(2L, 3.0))));
    assertThat(serializer.deserialize(serializer.serialize(value))).isEqualTo(value);
    assertThat((int[]) serializer.deserialize(serializer.serialize(new int[] {1, 2}))).containsExactly(1, 2);
    assertThatThrownBy(() -> serializer.serialize(new ArrayList<>(List.of(new Gadget()))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Gadget.class.getName());
    // Bytes written by someone else's serializer are refused on reading, naming the class.
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(new ArrayList<>(List.of(new Gadget())));
    }
    assertThatThrownBy(() -> serializer.deserialize(bytes.toByteArray()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Gadget.class.getName());
    SessionSerializer allowing = SessionSerializer.java(List.of(SessionsTest.class.getPackageName() + ".*"));
    assertThat(allowing.deserialize(bytes.toByteArray())).isInstanceOf(ArrayList.class);
    assertThatThrownBy(() -> SessionSerializer.java(List.of("not a class!")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a class!");
  }

  @Test
  void settingsNameTheRefusedValue() {
    assertThat(SessionSettings.parse(Map.of("sessionMode", "cookie")::get).mode()).isEqualTo(SessionMode.COOKIE);
    assertThatThrownBy(() -> SessionSettings.parse(Map.of("sessionMode", "memcached")::get))
        .hasMessageContaining("sessionMode").hasMessageContaining("memcached");
    assertThatThrownBy(() -> SessionSettings.parse(Map.of("sessionMode", "redis")::get))
        .hasMessageContaining("redisUri");
    assertThatThrownBy(() -> SessionSettings.parse(Map.of("sessionMaxBytes", "100")::get))
        .hasMessageContaining("sessionMaxBytes").hasMessageContaining("100");
    assertThatThrownBy(() -> SessionSettings.parse(Map.of("redisUri", "http://x")::get))
        .hasMessageContaining("redisUri");
    SessionSettings redis = SessionSettings.parse(Map.of("sessionMode", "redis", "redisUri",
        "redis://user:secret@host:6379")::get);
    assertThat(redis.toString()).doesNotContain("secret");
    assertThat(redis.keyPrefix()).isEqualTo("affinity:session:");
  }

  @Test
  void nearCacheServesACachedSessionWhileTheStoreIsDownButNeverInventsOne() {
    SessionStore memory = SessionStore.inMemory(clock);
    boolean[] down = {false};
    SessionStore flaky = new SessionStore() {
      private void check() {
        if (down[0]) {
          throw new SessionStoreException("down");
        }
      }

      @Override
      public java.util.Optional<SessionRecord> load(String id) {
        check();
        return memory.load(id);
      }

      @Override
      public long version(String id) {
        check();
        return memory.version(id);
      }

      @Override
      public SaveResult save(SessionChange change) {
        check();
        return memory.save(change);
      }

      @Override
      public void touch(String id, Instant at, Duration d) {
        check();
      }

      @Override
      public void delete(String id) {
        memory.delete(id);
      }

      @Override
      public SessionStoreCounters counters() {
        return memory.counters();
      }
    };
    SessionStore near = SessionStore.nearCached(flaky, 10, Duration.ofSeconds(5), clock);
    SessionRecord r = new SessionRecord(Session.newId(), 0, clock.instant(), clock.instant(), Duration.ofMinutes(30),
        Map.of("a", new byte[] {1}));
    near.save(SessionChange.creating(r));
    assertThat(near.load(r.id())).isPresent();
    assertThat(near.counters().nearCacheHits()).isEqualTo(1);
    down[0] = true;
    assertThat(near.load(r.id())).isPresent();
    assertThat(near.counters().warnings()).isEqualTo(1);
    assertThatThrownBy(() -> near.load(Session.newId())).isInstanceOf(SessionStoreException.class);
    // Past the TTL the cached copy is gone too: an exception, not an empty session.
    clock.now = clock.now.plusSeconds(6);
    assertThatThrownBy(() -> near.load(r.id())).isInstanceOf(SessionStoreException.class);
  }

  @Test
  void aWriteTheStoreOnlyKeptIsNotAcknowledgedAndTheNearCacheForgetsIt() {
    SessionStore memory = SessionStore.inMemory(clock);
    boolean[] keeping = {false};
    List<SessionChange> kept = new ArrayList<>();
    // A store that, while "unreachable", keeps writes for a later retry instead of failing them
    // (what the Redis store does): SaveResult.pending, nothing written.
    SessionStore keeper = new SessionStore() {
      @Override
      public java.util.Optional<SessionRecord> load(String id) {
        if (keeping[0]) {
          throw new SessionStoreException("down");
        }
        return memory.load(id);
      }

      @Override
      public long version(String id) {
        if (keeping[0]) {
          throw new SessionStoreException("down");
        }
        return memory.version(id);
      }

      @Override
      public SaveResult save(SessionChange change) {
        if (keeping[0]) {
          kept.add(change);
          return SaveResult.pending(change.newVersion());
        }
        return memory.save(change);
      }

      @Override
      public void touch(String id, Instant at, Duration d) {}

      @Override
      public void delete(String id) {
        memory.delete(id);
      }

      @Override
      public SessionStoreCounters counters() {
        return memory.counters();
      }
    };
    Sessions s = sessions(SessionSettings.builder().mode(SessionMode.REDIS).redisUri("redis://x:1").build(),
        SessionStore.nearCached(keeper, 10, Duration.ofSeconds(30), clock));
    Map<String, String> cookies = new HashMap<>();
    RequestSession first = s.begin(CookieSource.of(cookies), false);
    first.current(true).setAttribute("cart", new ArrayList<>(List.of("a")));
    jar(first.cookies(), cookies);

    keeping[0] = true;
    RequestSession during = s.begin(CookieSource.of(cookies), false);
    // Read from the near-cache while the store is down...
    assertThat(during.current(false).getAttribute("cart")).isEqualTo(List.of("a"));
    during.current(false).setAttribute("cart", new ArrayList<>(List.of("a", "b")));
    // ...but a write the store only kept is not acknowledged: the filter answers 503.
    assertThatThrownBy(during::cookies).isInstanceOf(SessionStoreException.class).hasMessageContaining("not written");
    assertThat(kept).hasSize(1);
    // The near-cache does not serve the unacknowledged state: the next request cannot read the session.
    assertThatThrownBy(() -> s.begin(CookieSource.of(cookies), false).current(false)).isInstanceOf(SessionStoreException.class);

    keeping[0] = false;
    assertThat(s.begin(CookieSource.of(cookies), false).current(false).getAttribute("cart"))
        .as("the store never got the kept write (here it is never retried)").isEqualTo(List.of("a"));
  }
}
