package dev.affinity.samples.springcart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.BalancingAlgorithm;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetHealth;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.session.redis.RedisProcess;
import java.io.IOException;
import java.net.ConnectException;
import java.net.CookieManager;
import java.net.HttpCookie;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.jetty.JettyWebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The Spring Boot cart, two instances of it in this JVM (each its own Spring context, web server and
 * {@code affinity.target-id}, the same keys), behind the real Affinity balancer: a client fills its
 * cart, which pins it to one instance; that instance's context is closed (its listener is gone); the
 * next request is failed over to the other instance, and the cart is still there. In {@code cookie}
 * mode the cart travels in the sealed session cookie; in {@code redis} mode it is in a real
 * redis-server, which both instances share. On Tomcat 11 and on Jetty 12, as {@code cart.server} picks.
 */
class SpringCartBehindBalancerTest {
  private static final String KEYS = "k1:" + randomSecret();
  private static final AffinityCookies COOKIES = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.parse(KEYS)).maxValueLength(16_384).build(), CookiePolicy.defaults());
  private static final Pattern PINS = Pattern.compile("(?m)^affinity_pins_total(?:\\{[^}]*\\})? ([0-9.eE+-]+)$");
  private static RedisProcess redis;

  private final Map<String, ConfigurableApplicationContext> instances = new LinkedHashMap<>();
  private final Map<String, URI> instanceUris = new HashMap<>();
  private AffinityServer balancer;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = RedisProcess.start();
  }

  @AfterAll
  static void stopRedis() throws InterruptedException {
    if (redis != null) {
      redis.close();
    }
  }

  @AfterEach
  void stopAll() throws Exception {
    if (balancer != null) {
      balancer.stop();
    }
    for (ConfigurableApplicationContext context : instances.values()) {
      context.close();
    }
  }

  @ParameterizedTest(name = "session mode {0} on {1}")
  @CsvSource({"cookie, tomcat", "cookie, jetty", "redis, tomcat", "redis, jetty"})
  void theCartSurvivesTheLossOfItsInstance(String mode, String server) throws Exception {
    String redisPrefix = "spring-cart:" + mode + ":" + server + ":";
    startInstances(mode, server, redisPrefix);
    startBalancer();
    Shopper shopper = new Shopper(balancer.uri());

    // Browsing pins nobody and makes no session.
    assertThat(shopper.get("/api/products").body()).contains("\"sku\":\"espresso\"");
    CartJson empty = shopper.cart();
    assertThat(empty.count()).isZero();
    assertThat(empty.field("pinnedTarget")).isEqualTo("null");
    assertThat(empty.sessionMode()).isEqualTo(mode);
    assertThat(shopper.cookieNames()).isEmpty();

    // A change the cart cannot make is a 400 with the reason, and pins nothing.
    HttpResponse<String> bad = shopper.post("action=add&sku=caviar");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).isEqualTo("{\"error\":\"expected action=add|remove with a known sku, or action=clear\"}");
    assertThat(shopper.cookieNames()).isEmpty();

    // The first add creates the cart and @Sticky pins the client to the instance that served it.
    CartJson first = shopper.add("espresso");
    String pinned = first.target();
    String other = pinned.equals("cart-1") ? "cart-2" : "cart-1";
    assertThat(shopper.add("teapot").target()).isEqualTo(pinned);
    assertThat(shopper.add("espresso").target()).isEqualTo(pinned);
    for (int i = 0; i < 4; i++) {
      CartJson again = shopper.cart();
      assertThat(again.target()).as("every request of the pinned client").isEqualTo(pinned);
      // @Sticky pins when the method has returned: the requests after it see the pin.
      assertThat(again.field("pinnedTarget")).isEqualTo(pinned);
      assertThat(again.count()).isEqualTo(3);
    }

    // The cookies are sealed with the shared keys: the route names the instance, the session cookie
    // carries the cart itself (cookie mode) or only the id of the session in Redis.
    assertThat(shopper.ticket("AFFINITYROUTE")).map(AffinityTicket::targetId).contains(pinned);
    AffinityTicket session = shopper.ticket("AFFINITYSESSION").orElseThrow();
    String sessionBytes = new String(session.extra(), StandardCharsets.ISO_8859_1);
    if (mode.equals("cookie")) {
      assertThat(sessionBytes).contains("espresso=2;teapot=1");
    } else {
      assertThat(sessionBytes).doesNotContain("espresso");
      assertThat(redis.command("EXISTS", redisPrefix + sessionBytes)).isEqualTo(":1");
    }
    assertThat(shopper.rawCookie("AFFINITYROUTE")).doesNotContain(pinned);
    assertThat(pins(pinned)).as("affinity_pins_total of %s", pinned).isGreaterThanOrEqualTo(1);
    assertThat(pins(other)).as("affinity_pins_total of %s, which served no add", other).isZero();
    // The starter's actuator endpoint shows the effective configuration: key ids, never key material.
    HttpResponse<String> config = Shopper.plain(instanceUris.get(pinned).resolve("/actuator/affinity"));
    assertThat(config.statusCode()).as(config.body()).isEqualTo(200);
    assertThat(config.body()).contains("\"targetId\":\"" + pinned + "\"", "\"k1\"", "\"" + mode + "\"")
        .doesNotContain(KEYS.substring(KEYS.indexOf(':') + 1));

    // The pinned instance dies: its context is closed and its listener is gone.
    int deadPort = instanceUris.get(pinned).getPort();
    instances.remove(pinned).close();
    assertThatThrownBy(() -> {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", deadPort), 1000);
      }
    }).isInstanceOf(ConnectException.class);

    // The next request is failed over to the other instance, and the cart came along.
    CartJson after = shopper.cart();
    assertThat(after.target()).isEqualTo(other);
    assertThat(after.failedOverNow()).isTrue();
    assertThat(after.field("failedOverFrom")).isEqualTo(pinned);
    assertThat(after.count()).as("the cart survived: %s", after.json()).isEqualTo(3);
    assertThat(after.json()).contains("{\"sku\":\"espresso\",\"name\":\"Espresso beans\",\"quantity\":2",
        "{\"sku\":\"teapot\",\"name\":\"Cast-iron teapot\",\"quantity\":1");
    // The filter re-pinned the client to the instance that took it over, and it keeps shopping there.
    assertThat(shopper.ticket("AFFINITYROUTE")).map(AffinityTicket::targetId).contains(other);
    CartJson more = shopper.add("mug");
    assertThat(more.target()).isEqualTo(other);
    assertThat(more.count()).isEqualTo(4);
    assertThat(pins(other)).as("affinity_pins_total of %s after the failover", other).isGreaterThanOrEqualTo(1);

    // Checkout: @ReleaseAffinity expires the route cookie, and the session is gone with its cookie.
    HttpResponse<String> emptied = shopper.send(HttpRequest.newBuilder(balancer.uri().resolve("/api/cart")).DELETE());
    assertThat(emptied.statusCode()).isEqualTo(204);
    // Max-Age=0 as the filter sets it; Tomcat and Jetty write it as an Expires in 1970.
    for (String name : List.of("AFFINITYROUTE", "AFFINITYSESSION")) {
      assertThat(emptied.headers().allValues("Set-Cookie")).as(name + " expired")
          .anyMatch(c -> c.startsWith(name + "=;") && (c.contains("Max-Age=0") || c.contains("01 Jan 1970")));
    }
    assertThat(shopper.cookieNames()).doesNotContain("AFFINITYROUTE", "AFFINITYSESSION");
    assertThat(shopper.cart().count()).isZero();

    // The balancer's health check (GET /actuator/health) takes the dead instance out of rotation.
    Target dead = balancer.balancer().router().target(pinned);
    awaitTrue(() -> dead.health().state() == TargetHealth.State.UNHEALTHY, Duration.ofSeconds(10),
        () -> "health of " + pinned + ": " + dead.health().lastReason());
    assertThat(balancer.balancer().router().target(other).health().state()).isEqualTo(TargetHealth.State.HEALTHY);
  }

  /** cart-1 and cart-2 on {@code server}, with the same keys and session mode, on random loopback ports. */
  private void startInstances(String mode, String server, String redisPrefix) throws Exception {
    for (String id : List.of("cart-1", "cart-2")) {
      List<String> args = new ArrayList<>(List.of(
          "--cart.server=" + server,
          "--server.address=127.0.0.1",
          "--server.port=0",
          // A kill, not a drain: the listener goes at once.
          "--server.shutdown=immediate",
          "--affinity.target-id=" + id,
          "--affinity.keys=" + KEYS,
          "--affinity.session.mode=" + mode));
      if (mode.equals("redis")) {
        args.add("--affinity.session.redis-uri=" + redis.uri());
        args.add("--affinity.session.redis-key-prefix=" + redisPrefix);
      }
      ConfigurableApplicationContext context = new SpringApplicationBuilder(SpringCartApplication.class)
          .run(args.toArray(String[]::new));
      instances.put(id, context);
      instanceUris.put(id, URI.create("http://127.0.0.1:" + context.getEnvironment().getProperty("local.server.port")));
    }
    for (String id : instances.keySet()) {
      HttpResponse<String> health = Shopper.plain(instanceUris.get(id).resolve("/actuator/health"));
      assertThat(health.statusCode()).as("%s on %s: %s", id, server, health.body()).isEqualTo(200);
      assertThat(health.body()).contains("\"status\":\"UP\"");
      assertThat(((WebServerApplicationContext) instances.get(id)).getWebServer().getClass().getSimpleName())
          .as("the server cart.server=%s picked", server)
          .isEqualTo(server.equals("tomcat") ? "TomcatWebServer" : "JettyServletWebServer");
      if (server.equals("jetty")) {
        Server jetty = ((JettyWebServer) ((WebServerApplicationContext) instances.get(id)).getWebServer()).getServer();
        assertThat(jetty.getConnectors()).allSatisfy(c -> assertThat(
            c.getConnectionFactory(HttpConnectionFactory.class).getHttpConfiguration().isHeaderCacheCaseSensitive())
            .as("Jetty's header cache is case-sensitive").isTrue());
      }
    }
  }

  /** The balancer in front of the instances: round robin, no stickiness of its own, health checks on /actuator/health. */
  private void startBalancer() throws Exception {
    TargetGroup.Builder group = TargetGroup.builder("shop")
        .algorithm(BalancingAlgorithm.roundRobin())
        // No stickiness of the balancer's own: every pin is the route cookie the app's @Sticky issues.
        .stickiness(StickinessPolicy.none())
        .healthCheck(new HealthCheckSettings(true, "/actuator/health", Duration.ofSeconds(1), Duration.ofSeconds(1), 2, 1,
            200, 299, Duration.ofSeconds(1)));
    instances.keySet().forEach(id -> group.target(id, instanceUris.get(id), 1));
    CodecCounters counters = CodecMetrics.counting();
    Router router = Router.builder(AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.parse(KEYS)).metrics(counters).build(), CookiePolicy.defaults()))
        .group(group.build()).build();
    balancer = AffinityServer.builder(router, counters).host("127.0.0.1").port(0).build().start();
  }

  /** {@code affinity_pins_total} of one instance, summed over its tags, from its {@code /actuator/prometheus}. */
  private double pins(String id) throws Exception {
    HttpResponse<String> scrape = Shopper.plain(instanceUris.get(id).resolve("/actuator/prometheus"));
    assertThat(scrape.statusCode()).as(scrape.body()).isEqualTo(200);
    Matcher m = PINS.matcher(scrape.body());
    double sum = 0;
    boolean found = false;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
      found = true;
    }
    assertThat(found).as("affinity_pins_total in the scrape of %s:%n%s", id, scrape.body()).isTrue();
    return sum;
  }

  private static void awaitTrue(BooleanSupplier condition, Duration timeout, java.util.function.Supplier<String> what)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what.get());
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
  }

  private static String randomSecret() {
    byte[] secret = new byte[Keyring.KEY_BYTES];
    new SecureRandom().nextBytes(secret);
    return Base64.getEncoder().encodeToString(secret);
  }

  /** One client with a cookie jar, as a browser would keep it. */
  private static final class Shopper {
    private static final HttpClient PLAIN = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI base;
    private final CookieManager jar = new CookieManager();
    private final HttpClient http;

    Shopper(URI base) {
      this.base = base;
      this.http = HttpClient.newBuilder().cookieHandler(jar).connectTimeout(Duration.ofSeconds(5)).build();
    }

    static HttpResponse<String> plain(URI uri) throws Exception {
      return PLAIN.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws Exception {
      return ok(http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString()));
    }

    CartJson cart() throws Exception {
      HttpResponse<String> response = get("/api/cart");
      CartJson cart = new CartJson(response.body());
      assertThat(response.headers().firstValue("X-Cart-Target")).contains(cart.target());
      return cart;
    }

    CartJson add(String sku) throws Exception {
      return new CartJson(ok(post("action=add&sku=" + sku)).body());
    }

    HttpResponse<String> post(String form) throws Exception {
      return send(HttpRequest.newBuilder(base.resolve("/api/cart"))
          .header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString(form)));
    }

    HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
      return http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> ok(HttpResponse<String> response) {
      assertThat(response.statusCode()).as("%s: %s", response.uri(), response.body()).isEqualTo(200);
      return response;
    }

    List<String> cookieNames() {
      return jar.getCookieStore().getCookies().stream().map(HttpCookie::getName).toList();
    }

    String rawCookie(String name) {
      return jar.getCookieStore().getCookies().stream().filter(c -> c.getName().equals(name))
          .map(HttpCookie::getValue).findFirst().orElseThrow(() -> new AssertionError("no cookie " + name + " in " + cookieNames()));
    }

    /** The jar's cookie {@code name} opened as the balancer opens it: with the shared keys, checked and unexpired. */
    Optional<AffinityTicket> ticket(String name) {
      Map<String, String> cookies = new HashMap<>();
      for (HttpCookie c : jar.getCookieStore().getCookies()) {
        cookies.put(c.getName(), c.getValue());
      }
      Optional<AffinityTicket> ticket = COOKIES.read(CookieSource.of(cookies), name);
      ticket.ifPresent(t -> assertThat(t.expiresAt()).isAfter(Instant.now()));
      return ticket;
    }
  }

  /** The cart API's JSON answer; reads the few fields the test needs. */
  private record CartJson(String json) {
    String field(String name) {
      Matcher m = Pattern.compile("\"" + name + "\":(\"([^\"]*)\"|[^,}\\]]+)").matcher(json);
      if (!m.find()) {
        throw new AssertionError("no " + name + " in " + json);
      }
      return m.group(2) != null ? m.group(2) : m.group(1);
    }

    String target() {
      return field("target");
    }

    boolean failedOverNow() {
      return Boolean.parseBoolean(field("failedOverNow"));
    }

    int count() {
      return Integer.parseInt(field("count"));
    }

    String sessionMode() {
      return field("sessionMode");
    }
  }
}
