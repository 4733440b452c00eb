package dev.affinity.session.redis;

import static java.util.Objects.requireNonNull;

import dev.affinity.session.SaveResult;
import dev.affinity.session.SessionChange;
import dev.affinity.session.SessionRecord;
import dev.affinity.session.SessionStore;
import dev.affinity.session.SessionStoreCounters;
import dev.affinity.session.SessionStoreException;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sessions in Redis: one hash per session under {@code prefix + id}, a field per attribute
 * ({@code a:name} → serialized value) and the fields {@code v} (version), {@code c} (created),
 * {@code l} (last accessed) and {@code i} (max inactive seconds); the key's TTL is the max inactive
 * interval. A save is one Lua script that checks the version and writes only the changed fields.
 *
 * <p>When Redis is unreachable, a save is tried once more and then kept (bounded: {@value #MAX_PENDING}
 * sessions) and retried in the background every {@value #RETRY_MILLIS} ms, up to
 * {@value #MAX_RETRIES} times; loads and version checks first try to write a kept change of the same
 * session, so nothing older is ever read over it. The background rounds run on an injected
 * {@link RetryScheduler}, so a test runs them itself instead of waiting for them.
 */
final class RedisSessionStore implements SessionStore {
  private static final Logger LOG = LoggerFactory.getLogger(RedisSessionStore.class);
  static final int MAX_PENDING = 10_000;
  static final long RETRY_MILLIS = 250;
  static final Duration RETRY_INTERVAL = Duration.ofMillis(RETRY_MILLIS);
  static final int MAX_RETRIES = 240;
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
  private static final String VERSION = "v";
  private static final String CREATED = "c";
  private static final String ACCESSED = "l";
  private static final String INACTIVE = "i";
  private static final String ATTRIBUTE = "a:";

  /**
   * KEYS[1] session; ARGV: expected, new, replaceAll(0/1), created, accessed, inactive, ttl, setCount,
   * then setCount field/value pairs, then fields to delete. Returns the new version, or -1 - found.
   */
  static final String SAVE = String.join("\n",
      "local found = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')",
      "if found ~= tonumber(ARGV[1]) then return -1 - found end",
      "if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end",
      "redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[4], 'l', ARGV[5], 'i', ARGV[6])",
      "local n = tonumber(ARGV[8])",
      "local i = 9",
      "for j = 1, n do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end",
      "while i <= #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]); i = i + 1 end",
      "local ttl = tonumber(ARGV[7])",
      "if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end",
      "return tonumber(ARGV[2])");
  /** KEYS[1] session; ARGV: accessed, ttl. Returns 1 when the session exists. */
  static final String TOUCH = String.join("\n",
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end",
      "redis.call('HSET', KEYS[1], 'l', ARGV[1])",
      "local ttl = tonumber(ARGV[2])",
      "if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end",
      "return 1");

  private final String uri;
  private final String redactedUri;
  private final String prefix;
  private final Clock clock;
  private final SessionStoreCounters counters = new SessionStoreCounters();
  private final ConcurrentHashMap<String, Pending> pending = new ConcurrentHashMap<>();
  private final RetryScheduler retrier;
  private final AbstractRedisClient client;
  private volatile StatefulConnection<String, byte[]> connection;
  private volatile RedisClusterCommands<String, byte[]> commands;

  private static final class Pending {
    SessionChange change;
    int attempts;

    Pending(SessionChange change) {
      this.change = change;
    }
  }

  /**
   * Runs the store's background retry rounds. The default is one daemon thread per store; tests pass
   * one that records the round and runs it when told, so that "Redis came back, the next round writes
   * the kept change" and "after {@value #MAX_RETRIES} rounds the write is given up" take no waiting.
   */
  interface RetryScheduler extends AutoCloseable {
    /**
     * Runs {@code round} every {@code interval} (the first time one interval from now), each run
     * after the previous one ended, until {@link #close()}.
     */
    void scheduleWithFixedDelay(Runnable round, Duration interval);

    /** Stops the rounds; a round already running may finish. */
    @Override
    void close();

    /** A daemon thread named {@code affinity-session-redis-retry}. */
    static RetryScheduler daemonThread() {
      ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "affinity-session-redis-retry");
        // Never keeps the JVM alive: a kept write is lost only if the whole target goes away anyway.
        t.setDaemon(true);
        return t;
      });
      return new RetryScheduler() {
        @Override
        public void scheduleWithFixedDelay(Runnable round, Duration interval) {
          long millis = interval.toMillis();
          executor.scheduleWithFixedDelay(round, millis, millis, TimeUnit.MILLISECONDS);
        }

        @Override
        public void close() {
          executor.shutdownNow();
        }
      };
    }
  }

  RedisSessionStore(String uri, String redactedUri, String prefix, Clock clock) {
    this(uri, redactedUri, prefix, clock, RetryScheduler.daemonThread());
  }

  RedisSessionStore(String uri, String redactedUri, String prefix, Clock clock, RetryScheduler retrier) {
    this.uri = requireNonNull(uri, "uri");
    this.redactedUri = requireNonNull(redactedUri, "redactedUri");
    this.prefix = requireNonNull(prefix, "prefix");
    this.clock = requireNonNull(clock, "clock");
    this.retrier = requireNonNull(retrier, "retrier");
    try {
      this.client = newClient(uri);
    } catch (RuntimeException e) {
      // A URI Lettuce refuses: no store, so no retry thread left behind either.
      retrier.close();
      throw e;
    }
    retrier.scheduleWithFixedDelay(this::retryPending, RETRY_INTERVAL);
  }

  static boolean isCluster(String uri) {
    String lower = uri.toLowerCase(Locale.ROOT);
    return lower.startsWith("redis-cluster://") || lower.startsWith("rediss-cluster://");
  }

  /** {@code redis-cluster://[user:pass@]h1:p1,h2:p2[?timeout=…]} → one {@code redis://} URI per seed node. */
  static List<RedisURI> clusterSeeds(String uri) {
    boolean tls = uri.toLowerCase(Locale.ROOT).startsWith("rediss-");
    String rest = uri.substring(uri.indexOf("://") + 3);
    String query = "";
    int q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.substring(q);
      rest = rest.substring(0, q);
    }
    if (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    String userInfo = "";
    int at = rest.lastIndexOf('@');
    if (at >= 0) {
      userInfo = rest.substring(0, at + 1);
      rest = rest.substring(at + 1);
    }
    List<RedisURI> seeds = new ArrayList<>();
    for (String hostPort : rest.split(",")) {
      if (!hostPort.isBlank()) {
        seeds.add(withDefaultTimeout(RedisURI.create((tls ? "rediss://" : "redis://") + userInfo + hostPort.trim() + query),
            query));
      }
    }
    if (seeds.isEmpty()) {
      throw new IllegalArgumentException("redisUri names no cluster node: \"" + uri + "\"");
    }
    return seeds;
  }

  private static RedisURI withDefaultTimeout(RedisURI redisUri, String text) {
    if (!text.contains("timeout=")) {
      redisUri.setTimeout(DEFAULT_TIMEOUT);
    }
    return redisUri;
  }

  private static AbstractRedisClient newClient(String uri) {
    TimeoutOptions timeouts = TimeoutOptions.enabled();
    if (isCluster(uri)) {
      RedisClusterClient cluster = RedisClusterClient.create(clusterSeeds(uri));
      // Node connections open lazily, per slot owner: commands wait for them (up to the timeout)
      // instead of being rejected while a connection to a new master is still being made.
      cluster.setOptions(ClusterClientOptions.builder()
          .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
          .timeoutOptions(timeouts)
          .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
              .enablePeriodicRefresh(Duration.ofSeconds(2))
              .enableAllAdaptiveRefreshTriggers()
              .adaptiveRefreshTriggersTimeout(Duration.ofMillis(500))
              .build())
          .build());
      return cluster;
    }
    RedisClient single = RedisClient.create(withDefaultTimeout(RedisURI.create(uri), uri));
    single.setOptions(ClientOptions.builder()
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(timeouts)
        .build());
    return single;
  }

  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /** Connects on first use (and again after a failed first connect); Lettuce reconnects after that. */
  private RedisClusterCommands<String, byte[]> commands() {
    RedisClusterCommands<String, byte[]> c = commands;
    if (c != null) {
      return c;
    }
    synchronized (this) {
      if (commands == null) {
        try {
          if (client instanceof RedisClusterClient) {
            var conn = ((RedisClusterClient) client).connect(CODEC);
            connection = conn;
            commands = conn.sync();
          } else {
            var conn = ((RedisClient) client).connect(CODEC);
            connection = conn;
            commands = conn.sync();
          }
        } catch (RedisException e) {
          throw unreachable("connect", e);
        }
      }
      return commands;
    }
  }

  private SessionStoreException unreachable(String what, RuntimeException e) {
    return new SessionStoreException("Redis " + redactedUri + ": " + what + " failed: " + e.getMessage(), e);
  }

  private String key(String id) {
    return prefix + id;
  }

  @Override
  public Optional<SessionRecord> load(String id) {
    flushPending(id);
    Map<String, byte[]> hash;
    try {
      hash = commands().hgetall(key(id));
    } catch (RedisException e) {
      throw unreachable("HGETALL", e);
    }
    if (hash == null || hash.isEmpty() || !hash.containsKey(VERSION)) {
      return Optional.empty();
    }
    Map<String, byte[]> attributes = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, byte[]> e : hash.entrySet()) {
      if (e.getKey().startsWith(ATTRIBUTE)) {
        attributes.put(e.getKey().substring(ATTRIBUTE.length()), e.getValue());
      }
    }
    try {
      SessionRecord record = new SessionRecord(id, number(hash, VERSION), Instant.ofEpochMilli(number(hash, CREATED)),
          Instant.ofEpochMilli(number(hash, ACCESSED)), Duration.ofSeconds(number(hash, INACTIVE)), attributes);
      return record.isExpiredAt(clock.instant()) ? Optional.empty() : Optional.of(record);
    } catch (RuntimeException e) {
      LOG.warn("session {} in Redis is malformed and treated as absent: {}", abbreviated(id), e.toString());
      return Optional.empty();
    }
  }

  private static long number(Map<String, byte[]> hash, String field) {
    byte[] value = hash.get(field);
    return value == null ? 0 : Long.parseLong(new String(value, StandardCharsets.US_ASCII));
  }

  @Override
  public long version(String id) {
    flushPending(id);
    byte[] v;
    try {
      v = commands().hget(key(id), VERSION);
    } catch (RedisException e) {
      throw unreachable("HGET", e);
    }
    return v == null ? 0 : Long.parseLong(new String(v, StandardCharsets.US_ASCII));
  }

  @Override
  public SaveResult save(SessionChange change) {
    Pending kept = pending.get(change.id());
    if (kept != null) {
      synchronized (kept) {
        try {
          flushPending(change.id());
        } catch (SessionStoreException e) {
          if (pending.get(change.id()) == kept) {
            // Still unwritten: this change follows it.
            kept.change = kept.change.then(change);
            counters.warning();
            return SaveResult.pending(change.newVersion());
          }
        }
      }
    }
    RuntimeException last = null;
    for (int attempt = 0; attempt < 2; attempt++) {
      try {
        return write(change);
      } catch (SessionStoreException e) {
        last = e;
        if (e.getCause() instanceof RedisCommandTimeoutException) {
          // Silence, not a refusal: a second try on the same connection would only wait as long again
          // (a request must not wait past its timeouts), and the first may still land.
          break;
        }
      }
    }
    if (pending.size() >= MAX_PENDING) {
      throw new SessionStoreException("Redis " + redactedUri + " unreachable and " + MAX_PENDING
          + " session writes already waiting: " + last.getMessage(), last);
    }
    counters.warning();
    LOG.warn("Redis {} unreachable, session {} is kept for retry: {}", redactedUri, abbreviated(change.id()),
        last.getMessage());
    pending.merge(change.id(), new Pending(change), (old, add) -> {
      synchronized (old) {
        old.change = old.change.then(add.change);
      }
      return old;
    });
    return SaveResult.pending(change.newVersion());
  }

  private SaveResult write(SessionChange change) {
    List<byte[]> args = new ArrayList<>(8 + 2 * change.changed().size() + change.removed().size());
    args.add(ascii(change.expectedVersion()));
    args.add(ascii(change.newVersion()));
    args.add(ascii(change.replacesAll() ? 1 : 0));
    args.add(ascii(change.createdAt().toEpochMilli()));
    args.add(ascii(change.lastAccessedAt().toEpochMilli()));
    args.add(ascii(change.maxInactive().getSeconds()));
    args.add(ascii(Math.max(0, change.maxInactive().getSeconds())));
    args.add(ascii(change.changed().size()));
    for (Map.Entry<String, byte[]> e : change.changed().entrySet()) {
      args.add((ATTRIBUTE + e.getKey()).getBytes(StandardCharsets.UTF_8));
      args.add(e.getValue());
    }
    for (String name : change.removed()) {
      args.add((ATTRIBUTE + name).getBytes(StandardCharsets.UTF_8));
    }
    Long result;
    try {
      result = commands().eval(SAVE, ScriptOutputType.INTEGER, new String[] {key(change.id())},
          args.toArray(new byte[0][]));
    } catch (RedisException e) {
      throw unreachable("save", e);
    }
    if (result == null) {
      throw new SessionStoreException("Redis " + redactedUri + ": save returned nothing");
    }
    if (result < 0) {
      counters.conflict();
      return SaveResult.conflict(-1 - result);
    }
    return SaveResult.saved(result);
  }

  private static byte[] ascii(long n) {
    return Long.toString(n).getBytes(StandardCharsets.US_ASCII);
  }

  /** Writes a kept change of {@code id} now, so that what is read is never older than what was acknowledged. */
  private void flushPending(String id) {
    Pending kept = pending.get(id);
    if (kept == null) {
      return;
    }
    synchronized (kept) {
      if (pending.get(id) != kept) {
        return;
      }
      try {
        SaveResult result = write(kept.change);
        if (result.isConflict()) {
          keptWriteConflicts(id, kept, result);
        }
        pending.remove(id, kept);
      } catch (SessionStoreException e) {
        throw e;
      }
    }
  }

  /**
   * A kept write found another version than it expects. When the version found is the very one it would
   * write, the first try of it did land after all: a command that timed out during a silent partition is
   * still delivered, and run, when the network heals. Otherwise a newer write won and this one is dropped
   * (it was never acknowledged: the request that made it was answered 503).
   */
  private void keptWriteConflicts(String id, Pending kept, SaveResult result) {
    if (result.version() == kept.change.newVersion()) {
      LOG.info("kept write of session {} had reached Redis already (version {})", abbreviated(id), result.version());
      return;
    }
    LOG.error("kept write of session {} conflicts with a newer one (version {}); it is dropped",
        abbreviated(id), result.version());
    counters.droppedWrite();
  }

  /** One background round: every kept write is tried once. */
  private void retryPending() {
    for (Map.Entry<String, Pending> e : pending.entrySet()) {
      Pending kept = e.getValue();
      synchronized (kept) {
        if (pending.get(e.getKey()) != kept) {
          continue;
        }
        counters.retry();
        try {
          SaveResult result = write(kept.change);
          if (result.isConflict()) {
            keptWriteConflicts(e.getKey(), kept, result);
          } else {
            LOG.info("kept write of session {} reached Redis after {} retries", abbreviated(e.getKey()),
                kept.attempts + 1);
          }
          pending.remove(e.getKey(), kept);
        } catch (RuntimeException ex) {
          if (++kept.attempts >= MAX_RETRIES) {
            LOG.error("giving up on the write of session {} after {} retries: {}", abbreviated(e.getKey()),
                kept.attempts, ex.getMessage());
            counters.droppedWrite();
            pending.remove(e.getKey(), kept);
          }
        }
      }
    }
  }

  /** Session writes waiting for Redis to come back. */
  int pendingWrites() {
    return pending.size();
  }

  /**
   * True when the connection is open (Lettuce reconnects on its own, after a delay of its own): a test
   * waits for this, then runs one retry round, instead of spinning rounds until one succeeds.
   */
  boolean isConnected() {
    StatefulConnection<String, byte[]> c = connection;
    return c != null && c.isOpen();
  }

  @Override
  public void touch(String id, Instant lastAccessedAt, Duration maxInactive) {
    try {
      commands().eval(TOUCH, ScriptOutputType.INTEGER, new String[] {key(id)},
          ascii(lastAccessedAt.toEpochMilli()), ascii(Math.max(0, maxInactive.getSeconds())));
    } catch (RedisException e) {
      throw unreachable("touch", e);
    }
  }

  @Override
  public void delete(String id) {
    pending.remove(id);
    try {
      commands().del(key(id));
    } catch (RedisException e) {
      throw unreachable("DEL", e);
    }
  }

  @Override
  public SessionStoreCounters counters() {
    return counters;
  }

  @Override
  public void close() {
    retrier.close();
    try {
      if (connection != null) {
        connection.close();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private static String abbreviated(String id) {
    return id.length() <= 6 ? id : id.substring(0, 6) + "…";
  }

  @Override
  public String toString() {
    return "Redis " + (isCluster(uri) ? "Cluster " : "") + redactedUri + " (keys " + prefix + "…)";
  }
}
