package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.jetty.FaultyLink;
import dev.affinity.session.redis.RedisProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Redis under network faults: app-1 (Jetty 12 ee10) reaches a real redis-server only through a
 * {@link FaultyLink}; app-2 (Tomcat 10.1) reaches it directly and is the witness of what Redis holds.
 * Both run {@code sessionMode=redis} with a 1 s command timeout. A write is acknowledged when the
 * client got 200; 503 and 409 tell the client it may not have been written.
 */
class RedisFaultTest {
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(1);
  /** What a loaded 2-core machine may add to a bound. */
  private static final long SLACK_MILLIS = 1_000;
  /** A request that reads and writes its session issues two commands: each waits at most the timeout. */
  private static final long REQUEST_BOUND_MILLIS = 2 * REDIS_TIMEOUT.toMillis() + SLACK_MILLIS;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static RedisProcess redis;

  private FaultyLink link;
  private ServletContainer app1;
  private ServletContainer app2;
  private URI viaLink;
  private URI direct;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = RedisProcess.start("--appendonly", "yes", "--appendfsync", "always");
  }

  @AfterAll
  static void stopRedis() throws Exception {
    if (redis != null) {
      redis.close();
    }
  }

  private void start(String prefix) throws Exception {
    link = FaultyLink.to("127.0.0.1", redis.port());
    app1 = ServletContainer.Kind.JETTY.create();
    viaLink = app1.start(TestWebapp.write(params("app-1", "redis://127.0.0.1:" + link.port(), prefix)), null);
    app2 = ServletContainer.Kind.TOMCAT.create();
    direct = app2.start(TestWebapp.write(params("app-2", "redis://127.0.0.1:" + redis.port(), prefix)), null);
  }

  private static Map<String, String> params(String id, String redisUri, String prefix) {
    Map<String, String> params = TestWebapp.standardParams();
    params.put("targetId", id);
    params.put("sessionMode", "redis");
    params.put("redisUri", redisUri + "?timeout=" + REDIS_TIMEOUT.toMillis() + "ms");
    params.put("redisKeyPrefix", prefix);
    params.put("nearCacheTtl", "PT30S");
    return params;
  }

  @AfterEach
  void stop() throws Exception {
    if (app1 != null) {
      app1.close();
    }
    if (app2 != null) {
      app2.close();
    }
    if (link != null) {
      link.close();
      assertThat(link.threads()).isZero();
    }
  }

  /** One client: its session cookie, the items the server acknowledged (200) and those it refused (503/409). */
  private static final class Shopper {
    String cookie;
    final Set<String> acknowledged = new LinkedHashSet<>();
    final Set<String> told = new LinkedHashSet<>();
    int next;

    HttpResponse<String> send(URI base, String path) throws Exception {
      HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(20));
      if (cookie != null) {
        request.header("Cookie", cookie);
      }
      HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
      response.headers().allValues("Set-Cookie").stream()
          .filter(c -> c.startsWith("AFFINITYSESSION="))
          .map(c -> c.substring(0, c.indexOf(';')))
          .findFirst().ifPresent(c -> cookie = c);
      return response;
    }

    /** Adds the next item on {@code base}; records the outcome; returns the response. */
    HttpResponse<String> add(URI base) throws Exception {
      String item = "item-" + next++;
      HttpResponse<String> r = send(base, "/cart/add?item=" + item.substring(5));
      if (r.statusCode() == 200) {
        acknowledged.add(item);
      } else {
        told.add(item);
      }
      return r;
    }
  }

  private static Set<String> cart(String body) {
    int at = body.indexOf(" cart=");
    return at < 0 ? Set.of() : new HashSet<>(Arrays.asList(body.substring(at + 6).split(",")));
  }

  private static List<String> cartList(String body) {
    int at = body.indexOf(" cart=");
    return at < 0 ? List.of() : Arrays.asList(body.substring(at + 6).split(","));
  }

  /** What Redis holds for {@code shopper}, read by the target that reaches it directly. */
  private List<String> witnessed(Shopper shopper) throws Exception {
    HttpResponse<String> r = shopper.send(direct, "/cart/list");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return cartList(r.body());
  }

  private static void assertNothingAcknowledgedLost(Shopper shopper, List<String> stored) {
    assertThat(stored).as("every acknowledged write is in Redis").containsAll(shopper.acknowledged);
    Set<String> possible = new HashSet<>(shopper.acknowledged);
    possible.addAll(shopper.told);
    assertThat(possible).as("nothing in Redis the client did not send").containsAll(stored);
    assertThat(new HashSet<>(stored)).as("no item twice").hasSize(stored.size());
  }

  @Test
  void latencyBelowTheTimeoutIsSlowerButCorrectAndLatencyAboveItIs503() throws Exception {
    start("faults-latency:");
    Shopper shopper = new Shopper();
    assertThat(shopper.add(viaLink).statusCode()).isEqualTo(200); // Lettuce connects before the latency
    link.latency(Duration.ofMillis(200));
    long slowest = 0;
    for (int i = 0; i < 5; i++) {
      long start = System.nanoTime();
      HttpResponse<String> r = shopper.add(viaLink);
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      slowest = Math.max(slowest, took);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(cart(r.body())).containsAll(shopper.acknowledged);
      // A version check and a save: two round trips of 400 ms, each under the 1 s timeout.
      assertThat(took).isBetween(800L, 800L + SLACK_MILLIS);
    }
    System.out.printf("redis latency 200 ms each way, timeout %d ms: slowest add %d ms, all 200%n", REDIS_TIMEOUT.toMillis(), slowest);
    assertThat(witnessed(shopper)).containsExactlyElementsOf(shopper.acknowledged);

    // 700 ms each way: every command takes longer than the 1 s timeout. Told, never a 200.
    link.latency(Duration.ofMillis(700));
    for (int i = 0; i < 2; i++) {
      long start = System.nanoTime();
      HttpResponse<String> r = shopper.add(viaLink);
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("redis latency 700 ms each way, timeout %d ms: %d after %d ms%n", REDIS_TIMEOUT.toMillis(), r.statusCode(), took);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.headers().firstValue("Retry-After")).contains("1");
      assertThat(r.body()).doesNotContain("items=");
      assertThat(took).isLessThanOrEqualTo(REQUEST_BOUND_MILLIS);
    }
    link.latency(Duration.ZERO);
    awaitServed(shopper);
    assertThat(shopper.add(viaLink).statusCode()).isEqualTo(200);
    assertNothingAcknowledgedLost(shopper, witnessed(shopper));
  }

  /** Waits until app-1 answers the shopper's session again (the commands held by the latency have drained). */
  private void awaitServed(Shopper shopper) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (true) {
      HttpResponse<String> r = shopper.send(viaLink, "/cart/list");
      if (r.statusCode() == 200) {
        assertThat(cart(r.body())).containsAll(shopper.acknowledged);
        return;
      }
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(System.nanoTime()).as("app-1 serves the session again").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  @Test
  void aPartitionAnswers503NeverAnEmptyCartAndAfterTheHealNoAcknowledgedWriteIsLost() throws Exception {
    start("faults-partition:");
    int clients = 6;
    List<Shopper> shoppers = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      Shopper s = new Shopper();
      assertThat(s.add(viaLink).statusCode()).isEqualTo(200);
      shoppers.add(s);
    }
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicBoolean partitioned = new AtomicBoolean();
    Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
    AtomicInteger okDuringPartition = new AtomicInteger();
    AtomicLong slowest = new AtomicLong();
    List<String> problems = new CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Future<?>> loops = new ArrayList<>();
    for (Shopper s : shoppers) {
      loops.add(pool.submit(() -> {
        while (running.get()) {
          long start = System.nanoTime();
          HttpResponse<String> r = s.add(viaLink);
          long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
          slowest.accumulateAndGet(took, Math::max);
          statuses.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
          if (took > REQUEST_BOUND_MILLIS) {
            problems.add("a request took " + took + " ms");
          }
          switch (r.statusCode()) {
            case 200 -> {
              if (partitioned.get()) {
                okDuringPartition.incrementAndGet();
              }
              // Never a 200 with a cart missing something the client was told was saved.
              if (!cart(r.body()).containsAll(s.acknowledged)) {
                problems.add("200 with a cart missing acknowledged items: " + r.body());
              }
            }
            case 503 -> {
              if (r.headers().firstValue("Retry-After").isEmpty() || r.body().contains("items=")) {
                problems.add("503 without Retry-After or with a cart: " + r.headers().map() + " " + r.body());
              }
            }
            case 409 -> { }
            default -> problems.add("unexpected " + r.statusCode() + ": " + r.body());
          }
        }
        return null;
      }));
    }
    Thread.sleep(1_000);
    partitioned.set(true);
    link.silent();
    Thread.sleep(3_000);
    int refusedDuring = statuses.getOrDefault(503, new AtomicInteger()).get();
    partitioned.set(false);
    link.heal();
    Thread.sleep(2_500);
    running.set(false);
    for (Future<?> f : loops) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdownNow();

    System.out.printf("redis partition 3 s, %d clients: statuses %s, 200s while partitioned %d, slowest request %d ms (bound %d)%n",
        clients, statuses, okDuringPartition.get(), slowest.get(), REQUEST_BOUND_MILLIS);
    for (Shopper s : shoppers) {
      assertNothingAcknowledgedLost(s, witnessed(s));
    }
    assertThat(problems).isEmpty();
    assertThat(refusedDuring).as("the partition was felt: 503s").isPositive();
    for (Shopper s : shoppers) {
      awaitServed(s);
      assertThat(s.add(viaLink).statusCode()).as("writes go through again after the heal").isEqualTo(200);
      assertNothingAcknowledgedLost(s, witnessed(s));
    }
    int acknowledged = shoppers.stream().mapToInt(s -> s.acknowledged.size()).sum();
    int told = shoppers.stream().mapToInt(s -> s.told.size()).sum();
    long landedAnyway = 0;
    for (Shopper s : shoppers) {
      landedAnyway += witnessed(s).stream().filter(s.told::contains).count();
    }
    System.out.printf("redis partition: %d writes acknowledged, all in Redis; %d answered 503/409, of which %d landed anyway%n",
        acknowledged, told, landedAnyway);
  }
}
