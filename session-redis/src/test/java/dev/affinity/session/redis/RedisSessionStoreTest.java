package dev.affinity.session.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.session.SaveResult;
import dev.affinity.session.Session;
import dev.affinity.session.SessionChange;
import dev.affinity.session.SessionRecord;
import dev.affinity.session.SessionStore;
import dev.affinity.session.SessionStoreException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Redis store against a real redis-server (append-only, fsync always). */
class RedisSessionStoreTest {
  private static RedisProcess redis;
  private static final Clock CLOCK = Clock.systemUTC();

  @BeforeAll
  static void start() throws Exception {
    redis = RedisProcess.start("--appendonly", "yes", "--appendfsync", "always");
  }

  @AfterAll
  static void stop() throws Exception {
    if (redis != null) {
      redis.close();
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static SessionRecord record(String id, Map<String, byte[]> attributes) {
    Instant now = CLOCK.instant();
    return new SessionRecord(id, 0, now, now, Duration.ofMinutes(30), attributes);
  }

  static SessionChange update(SessionRecord base, Map<String, byte[]> set, Set<String> removed) {
    return new SessionChange(base.id(), base.version(), base.version() + 1, base.createdAt(), CLOCK.instant(),
        base.maxInactive(), set, removed, false);
  }

  @Test
  void savesOnlyChangedFieldsWithAnOptimisticVersion() throws Exception {
    try (SessionStore store = RedisSessionStoreProvider.open(redis.uri(), "t1:", CLOCK)) {
      String id = Session.newId();
      Map<String, byte[]> attributes = new LinkedHashMap<>();
      attributes.put("a", bytes("one"));
      attributes.put("b", bytes("two"));
      assertThat(store.save(SessionChange.creating(record(id, attributes)))).isEqualTo(SaveResult.saved(1));
      SessionRecord loaded = store.load(id).orElseThrow();
      assertThat(loaded.version()).isEqualTo(1);
      assertThat(loaded.attributes().keySet()).containsExactly("a", "b");
      // Key layout: one hash, a field per attribute, TTL = max inactive interval.
      assertThat(redis.command("HGET", "t1:" + id, "a:a")).isEqualTo("one");
      long ttl = Long.parseLong(redis.command("TTL", "t1:" + id).substring(1));
      assertThat(ttl).isBetween(1700L, 1800L);

      // Only "b" changes; "a" is removed by a later change.
      assertThat(store.save(update(loaded, Map.of("b", bytes("three")), Set.of()))).isEqualTo(SaveResult.saved(2));
      // A change made from the stale version 1 is refused, and writes nothing.
      SaveResult stale = store.save(update(loaded, Map.of("b", bytes("lost")), Set.of("a")));
      assertThat(stale).isEqualTo(SaveResult.conflict(2));
      assertThat(store.counters().conflicts()).isEqualTo(1);
      SessionRecord v2 = store.load(id).orElseThrow();
      assertThat(new String(v2.attributes().get("b"), StandardCharsets.UTF_8)).isEqualTo("three");
      assertThat(v2.attributes()).containsKey("a");
      assertThat(store.version(id)).isEqualTo(2);

      store.save(update(v2, Map.of(), Set.of("a")));
      assertThat(store.load(id).orElseThrow().attributes().keySet()).containsExactly("b");
      // A new session may not overwrite an existing one.
      assertThat(store.save(SessionChange.creating(record(id, Map.of()))).isConflict()).isTrue();

      Instant later = CLOCK.instant().plusSeconds(5);
      store.touch(id, later, Duration.ofSeconds(100));
      SessionRecord touched = store.load(id).orElseThrow();
      assertThat(touched.lastAccessedAt()).isEqualTo(Instant.ofEpochMilli(later.toEpochMilli()));
      assertThat(touched.version()).as("a touch is not a new version").isEqualTo(3);

      store.delete(id);
      assertThat(store.load(id)).isEmpty();
      assertThat(store.version(id)).isZero();
    }
  }

  @Test
  void nearCacheServesHitsAndNoticesAnotherTargetsWrite() throws Exception {
    try (SessionStore a = SessionStore.nearCached(RedisSessionStoreProvider.open(redis.uri(), "t2:", CLOCK), 100,
            Duration.ofMinutes(1), CLOCK);
         SessionStore b = SessionStore.nearCached(RedisSessionStoreProvider.open(redis.uri(), "t2:", CLOCK), 100,
            Duration.ofMinutes(1), CLOCK)) {
      String id = Session.newId();
      a.save(SessionChange.creating(record(id, Map.of("x", bytes("1")))));
      SessionRecord onA = a.load(id).orElseThrow();
      assertThat(a.counters().nearCacheHits()).isEqualTo(1);
      SessionRecord onB = b.load(id).orElseThrow();
      assertThat(b.counters().nearCacheMisses()).isEqualTo(1);
      b.save(update(onB, Map.of("x", bytes("2")), Set.of()));
      // a's cached copy is version 1; Redis moved to 2: a reloads.
      SessionRecord again = a.load(id).orElseThrow();
      assertThat(again.version()).isEqualTo(2);
      assertThat(new String(again.attributes().get("x"), StandardCharsets.UTF_8)).isEqualTo("2");
      assertThat(a.counters().nearCacheMisses()).isEqualTo(1);
      assertThat(onA.version()).isEqualTo(1);
    }
  }

  /** A store whose background retry rounds run only when the test says so. */
  static RedisSessionStore storeWithManualRetries(String uri, String prefix, ManualRetryScheduler retries) {
    return new RedisSessionStore(uri, uri, prefix, CLOCK, retries);
  }

  /** Lettuce reconnects on its own timer (real time, its exponential delay): the one wait left. */
  static void awaitConnected(RedisSessionStore store) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!store.isConnected() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(store.isConnected()).as("Lettuce reconnected to the restarted redis-server").isTrue();
  }

  @Test
  void unreachableRedisKeepsWritesAndLosesNothingAcknowledgedOverARestart() throws Exception {
    ManualRetryScheduler retries = new ManualRetryScheduler();
    try (RedisProcess own = RedisProcess.start("--appendonly", "yes", "--appendfsync", "always");
         RedisSessionStore raw = storeWithManualRetries(own.uri(), "t3:", retries);
         SessionStore store = SessionStore.nearCached(raw, 100, Duration.ofMinutes(1), CLOCK)) {
      assertThat(retries.interval()).isEqualTo(Duration.ofMillis(RedisSessionStore.RETRY_MILLIS));
      String id = Session.newId();
      store.save(SessionChange.creating(record(id, Map.of("n", bytes("0")))));
      SessionRecord current = store.load(id).orElseThrow();
      for (int i = 1; i <= 5; i++) {
        SaveResult r = store.save(update(current, Map.of("n", bytes(Integer.toString(i))), Set.of()));
        assertThat(r.outcome()).isEqualTo(SaveResult.Outcome.SAVED);
        current = store.load(id).orElseThrow();
      }
      own.kill();
      // Redis is gone: the cached session is still served (a warning), a write is kept for retry.
      SessionRecord cached = store.load(id).orElseThrow();
      assertThat(cached.version()).isEqualTo(6);
      SaveResult kept = store.save(update(cached, Map.of("n", bytes("6")), Set.of()));
      assertThat(kept.outcome()).isEqualTo(SaveResult.Outcome.PENDING);
      assertThat(store.counters().warnings()).isGreaterThanOrEqualTo(2);
      // A session this target never cached cannot be loaded: an exception, never an empty session.
      assertThatThrownBy(() -> store.load(Session.newId())).isInstanceOf(SessionStoreException.class);

      // While Redis is down a round writes nothing and keeps the change.
      retries.runRound();
      assertThat(raw.pendingWrites()).isEqualTo(1);
      assertThat(store.counters().retries()).isEqualTo(1);

      own.restart();
      awaitConnected(raw);
      // Nothing wrote it behind the test's back: the next round does.
      assertThat(raw.pendingWrites()).isEqualTo(1);
      retries.runRound();
      assertThat(raw.pendingWrites()).isZero();
      assertThat(store.counters().retries()).isEqualTo(2);
      assertThat(store.counters().droppedWrites()).isZero();
      // Everything acknowledged (versions 1-6 written before the kill, 7 kept and retried) is there.
      try (SessionStore fresh = RedisSessionStoreProvider.open(own.uri(), "t3:", CLOCK)) {
        SessionRecord after = fresh.load(id).orElseThrow();
        assertThat(after.version()).isEqualTo(7);
        assertThat(new String(after.attributes().get("n"), StandardCharsets.UTF_8)).isEqualTo("6");
      }
    }
    assertThat(retries.isClosed()).as("closing the store stops its retries").isTrue();
  }

  @Test
  void aKeptWriteIsGivenUpAfterMaxRetriesRoundsAndCounted() throws Exception {
    ManualRetryScheduler retries = new ManualRetryScheduler();
    try (RedisProcess own = RedisProcess.start();
         RedisSessionStore store = storeWithManualRetries(own.uri(), "t4:", retries)) {
      String id = Session.newId();
      store.save(SessionChange.creating(record(id, Map.of("n", bytes("0")))));
      SessionRecord saved = store.load(id).orElseThrow();
      own.kill();

      SaveResult kept = store.save(update(saved, Map.of("n", bytes("1")), Set.of()));
      assertThat(kept).isEqualTo(SaveResult.pending(2));
      // MAX_RETRIES rounds of 250 ms (a minute of outage), run back to back.
      for (int round = 1; round < RedisSessionStore.MAX_RETRIES; round++) {
        retries.runRound();
      }
      assertThat(store.pendingWrites()).as("kept through %s rounds", RedisSessionStore.MAX_RETRIES - 1).isEqualTo(1);
      assertThat(store.counters().droppedWrites()).isZero();
      retries.runRound();
      assertThat(store.pendingWrites()).as("given up after %s rounds", RedisSessionStore.MAX_RETRIES).isZero();
      assertThat(store.counters().retries()).isEqualTo(RedisSessionStore.MAX_RETRIES);
      assertThat(store.counters().droppedWrites()).isEqualTo(1);
    }
  }
}
