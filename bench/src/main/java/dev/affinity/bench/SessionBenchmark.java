package dev.affinity.bench;

import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SetCookie;
import dev.affinity.session.RequestSession;
import dev.affinity.session.Session;
import dev.affinity.session.SessionMode;
import dev.affinity.session.SessionSettings;
import dev.affinity.session.SessionStore;
import dev.affinity.session.Sessions;
import dev.affinity.session.redis.RedisSessionStoreProvider;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The per-request cost of the filter's session modes, without a container: one request that reads a
 * 50-item cart from its session ({@code read}), or reads it and sets one small attribute
 * ({@code write}), from the cookie the previous response set, through {@link RequestSession#cookies()}
 * (write-through and Set-Cookie).
 *
 * <ul>
 *   <li>{@code cookie}: open the sealed AFFINITYSESSION (codec cache hit), deserialize the cart; a
 *       write re-seals the whole session.
 *   <li>{@code redisHit}: near-cache hit after one {@code HGET v} round trip to Redis; a write is one
 *       Lua script (version check + HSET of the changed field).
 *   <li>{@code redisMiss}: near-cache off: {@code HGETALL}, then as above.
 * </ul>
 *
 * Redis is a real {@code redis-server} on 127.0.0.1 (default {@code /usr/bin/redis-server}, or
 * {@code -Daffinity.redisServer=…}), started by the benchmark.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SessionBenchmark {
  @Param({"cookie", "redisHit", "redisMiss"})
  public String mode;

  private Process redis;
  private SessionStore store;
  private Sessions sessions;
  private Map<String, String> cookies;
  private CookieSource request;
  private int counter;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    Clock clock = Clock.fixed(Instant.parse("2026-11-23T12:00:00Z"), ZoneOffset.UTC);
    Keyring keyring = Keyring.parse("k1:" + Base64.getEncoder().encodeToString(new byte[32]));
    SessionSettings settings;
    if (mode.equals("cookie")) {
      settings = SessionSettings.builder().mode(SessionMode.COOKIE).build();
    } else {
      int port = startRedis();
      settings = SessionSettings.builder().mode(SessionMode.REDIS).redisUri("redis://127.0.0.1:" + port).build();
      SessionStore redisStore = RedisSessionStoreProvider.open(settings.redisUri(), "bench:", clock);
      store = mode.equals("redisHit") ? SessionStore.nearCached(redisStore, 10_000, Duration.ofMinutes(5), clock)
          : redisStore;
    }
    Sessions.Builder b = Sessions.builder(settings).keyring(keyring).clock(clock).target("app-1", "")
        .defaultMaxInactive(Duration.ofMinutes(30));
    if (store != null) {
      b.store(store);
    }
    sessions = b.build();
    cookies = new HashMap<>();
    RequestSession first = sessions.begin(CookieSource.empty(), false);
    List<String> cart = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      cart.add("item-" + i);
    }
    first.current(true).setAttribute("cart", cart);
    apply(first.cookies());
    request = CookieSource.of(cookies);
  }

  private void apply(List<SetCookie> set) {
    for (SetCookie c : set) {
      if (c.isRemoval()) {
        cookies.remove(c.name());
      } else {
        cookies.put(c.name(), c.value());
      }
    }
  }

  private int startRedis() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path dir = Files.createTempDirectory("affinity-bench-redis");
    redis = new ProcessBuilder(System.getProperty("affinity.redisServer", "/usr/bin/redis-server"), "--port",
        Integer.toString(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return port;
      } catch (IOException e) {
        Thread.onSpinWait();
      }
    }
    throw new IllegalStateException("redis-server did not start on port " + port);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (store != null) {
      store.close();
    }
    if (redis != null) {
      redis.destroyForcibly().waitFor();
    }
  }

  @Benchmark
  public Object read() {
    RequestSession r = sessions.begin(request, false);
    Session s = r.current(false);
    Object cart = s.getAttribute("cart");
    r.cookies();
    return cart;
  }

  @Benchmark
  public Object write() {
    RequestSession r = sessions.begin(request, false);
    Session s = r.current(false);
    Object cart = s.getAttribute("cart");
    s.setAttribute("last", ++counter);
    List<SetCookie> set = r.cookies();
    if (!set.isEmpty()) {
      apply(set);
      request = CookieSource.of(cookies);
    }
    return cart;
  }
}
