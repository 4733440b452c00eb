package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.session.redis.RedisProcess;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sessions that survive the loss of a target: app-1 on Jetty 12 ee10 and app-2 on Tomcat 10.1 behind
 * the real Affinity balancer, both with {@code sessionMode} cookie or redis (a real redis-server,
 * append-only with fsync always). A client fills a 50-item cart, its target dies, and the target it
 * fails over to finds the whole cart.
 */
class SessionFailoverTest {
  private static final Pattern ITEMS = Pattern.compile("target=(\\S+) items=(\\d+) id=(\\S+)");
  private static RedisProcess redis;

  private final Map<String, ServletContainer> targets = new java.util.HashMap<>();
  private final Map<String, URI> targetUris = new java.util.HashMap<>();
  private AffinityServer balancer;
  private HttpClient browser;

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

  private void start(String mode) throws Exception {
    for (String id : List.of("app-1", "app-2")) {
      Map<String, String> params = TestWebapp.standardParams();
      params.put("targetId", id);
      params.put("sessionMode", mode);
      if (mode.equals("redis")) {
        params.put("redisUri", redis.uri() + "?timeout=1s");
        params.put("redisKeyPrefix", "failover:");
        params.put("nearCacheTtl", "PT10S");
      }
      ServletContainer container = (id.equals("app-1") ? ServletContainer.Kind.JETTY : ServletContainer.Kind.TOMCAT).create();
      targets.put(id, container);
      targetUris.put(id, container.start(TestWebapp.write(params), null));
    }
    CodecCounters counters = CodecMetrics.counting();
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(TestWebapp.KEYRING).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup blue = TargetGroup.builder("blue")
        .target("app-1", URI.create("http://127.0.0.1:" + targetUris.get("app-1").getPort()), 1)
        .target("app-2", URI.create("http://127.0.0.1:" + targetUris.get("app-2").getPort()), 1)
        .build();
    balancer = AffinityServer.builder(Router.builder(cookies).group(blue).build(), counters).build().start();
    browser = HttpClient.newBuilder().cookieHandler(new CookieManager()).connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (balancer != null) {
      balancer.stop();
    }
    for (ServletContainer c : targets.values()) {
      c.close();
    }
  }

  private HttpResponse<String> send(URI base, String path, String cookie) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10));
    if (cookie != null) {
      request.header("Cookie", cookie);
    }
    return (cookie == null ? browser : PLAIN).send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static final HttpClient PLAIN = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private Matcher get(String path) throws Exception {
    HttpResponse<String> response = send(balancer.uri(), path, null);
    assertThat(response.statusCode()).as("%s: %s", path, response.body()).isEqualTo(200);
    Matcher m = ITEMS.matcher(response.body());
    assertThat(m.find()).as(response.body()).isTrue();
    return m;
  }

  private static List<String> items(int from, int to) {
    List<String> items = new ArrayList<>();
    for (int i = from; i < to; i++) {
      items.add("item-" + i);
    }
    return items;
  }

  /** Adds items {@code from}..{@code to-1} through the balancer; returns the target that served them. */
  private String fill(int from, int to) throws Exception {
    String target = null;
    for (int i = from; i < to; i++) {
      Matcher m = get("/cart/add?item=" + i);
      assertThat(m.group(2)).isEqualTo(Integer.toString(i + 1));
      if (target == null) {
        target = m.group(1);
      }
      assertThat(m.group(1)).as("the session pinned the client").isEqualTo(target);
    }
    return target;
  }

  @ParameterizedTest(name = "sessionMode={0}")
  @ValueSource(strings = {"cookie", "redis"})
  void cartSurvivesTheLossOfItsTarget(String mode) throws Exception {
    start(mode);
    String pinned = fill(0, 50);
    String id = get("/cart/list").group(3);

    targets.get(pinned).close();
    HttpResponse<String> after = send(balancer.uri(), "/cart/list", null);
    assertThat(after.statusCode()).isEqualTo(200);
    String other = pinned.equals("app-1") ? "app-2" : "app-1";
    assertThat(after.body()).startsWith("target=" + other + " items=50 id=" + id + " new=false")
        .endsWith("cart=" + String.join(",", items(0, 50)));
    // And the client keeps shopping on its new target.
    Matcher next = get("/cart/add?item=50");
    assertThat(next.group(1)).isEqualTo(other);
    assertThat(next.group(2)).isEqualTo("51");
  }

  @Test
  void redisRestartMidRunLosesNothingAcknowledged() throws Exception {
    start("redis");
    String pinned = fill(0, 20);
    redis.kill();
    // Redis is down: the pinned target still serves reads of the session from its near-cache...
    Matcher cached = get("/cart/list");
    assertThat(cached.group(2)).isEqualTo("20");
    // ...but a write that does not reach Redis is not acknowledged: 503 + Retry-After, never a 200.
    HttpResponse<String> refused = send(balancer.uri(), "/cart/add?item=20", null);
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Retry-After")).contains("1");
    // The other target has never seen the session: it answers 503, never an empty cart.
    String cookie = ((CookieManager) browser.cookieHandler().orElseThrow()).getCookieStore().getCookies().stream()
        .filter(c -> c.getName().equals("AFFINITYSESSION"))
        .map(c -> c.getName() + "=" + c.getValue())
        .findFirst().orElseThrow();
    String other = pinned.equals("app-1") ? "app-2" : "app-1";
    HttpResponse<String> unavailable = send(targetUris.get(other), "/cart/list", cookie);
    assertThat(unavailable.statusCode()).as(unavailable.body()).isEqualTo(503);
    assertThat(unavailable.headers().firstValue("Retry-After")).contains("1");
    assertThat(unavailable.body()).doesNotContain("items=");
    redis.restart();
    // The refused write was kept and may land with the session's next request (the client was told it
    // might not): the cart holds the 20 acknowledged items, and item-20 or not.
    // Lettuce reconnects after a delay of its own: until then the client is told 503 + Retry-After and
    // retries, as a client should.
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(15);
    HttpResponse<String> first;
    while ((first = send(balancer.uri(), "/cart/add?item=21", null)).statusCode() == 503 && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    for (int i = 22; i < 50; i++) {
      Matcher m = get("/cart/add?item=" + i);
      assertThat(m.group(1)).isEqualTo(pinned);
    }
    targets.get(pinned).close();
    HttpResponse<String> after = send(balancer.uri(), "/cart/list", null);
    List<String> acknowledged = items(0, 20);
    acknowledged.addAll(items(21, 50));
    List<String> withTheRefused = items(0, 50);
    assertThat(after.body()).contains("target=" + other).satisfiesAnyOf(
        body -> assertThat(body).endsWith("cart=" + String.join(",", acknowledged)),
        body -> assertThat(body).endsWith("cart=" + String.join(",", withTheRefused)));
  }

  @Test
  void parallelRequestsOfOneSessionLoseNoUpdate() throws Exception {
    start("redis");
    get("/cart/info");
    HttpResponse<String> first = send(balancer.uri(), "/cart/add?item=start", null);
    String cookie = first.headers().allValues("Set-Cookie").stream()
        .filter(c -> c.startsWith("AFFINITYSESSION="))
        .map(c -> c.substring(0, c.indexOf(';')))
        .findFirst().orElseThrow();
    // 20 parallel adds, half to each target directly (both share Redis): a request that lost the race
    // gets 409 + Retry-After: 0 and wrote nothing; the client retries it.
    AtomicInteger conflicts = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      List<Future<Void>> done = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        int item = i;
        done.add(pool.submit(() -> {
          URI target = targetUris.get(item % 2 == 0 ? "app-1" : "app-2");
          for (int attempt = 0; attempt < 200; attempt++) {
            HttpResponse<String> r = send(target, "/cart/add?item=" + item, cookie);
            if (r.statusCode() == 200) {
              return null;
            }
            assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
            assertThat(r.headers().firstValue("Retry-After")).contains("0");
            conflicts.incrementAndGet();
          }
          throw new AssertionError("item " + item + " never got through");
        }));
      }
      for (Future<Void> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    String body = send(targetUris.get("app-1"), "/cart/list", cookie).body();
    assertThat(body).contains(" items=21 ");
    Set<String> cart = new HashSet<>(List.of(body.substring(body.indexOf("cart=") + 5).split(",")));
    Set<String> expected = new HashSet<>(items(0, 20));
    expected.add("item-start");
    assertThat(cart).isEqualTo(expected);
    System.out.println("parallel adds: " + conflicts.get() + " conflicts retried");
  }
}
