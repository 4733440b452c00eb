package dev.affinity.jetty;


import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.RawTargets.RawTarget;
import dev.affinity.jetty.RawTargets.Script;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;

/**
 * Starts real backends (Jetty {@link Backends} or scripted {@link RawTargets}), a real balancer and
 * a real client for each test; stops them after. Every {@code start} takes the {@link TargetPath}
 * the balancer sends requests over; {@link OverBothPaths} runs a test over each.
 */
public abstract class BalancerTestBase {
  static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  /** The all-zero test key, as base64 (the launcher's tests write it into YAML). */
  public static final String SECRET = Base64.getEncoder().encodeToString(new byte[32]);

  final TestClock clock = new TestClock(START);
  final CodecCounters counters = CodecMetrics.counting();
  final Keyring keyring = Keyring.builder().addKey("k1", SECRET).build();
  Backends backends;
  AffinityServer balancer;
  HttpClient http;
  AffinityCookies cookies;
  /** The scripted raw targets this test made; closed after it. */
  final List<RawTarget> rawTargets = new ArrayList<>();
  /** The balancer server's thread count, for tests about threads. */
  int maxThreads = 200;
  /** Whether {@code start} makes backends that also speak h2c ({@link Backends#startHttp2}). */
  boolean http2Backends;

  /** Told of every finished exchange of the balancers {@code start} and {@code startBalancer} build. */
  final List<dev.affinity.observe.ExchangeObserver> observers = new ArrayList<>();

  /** Further routing for the router {@code start} builds (listener rules, a default action); none by default. */
  Consumer<Router.Builder> routing = r -> { };

  /** Samples the balancer's traffic history when the test says so; {@code null}: the server's own scheduler. */
  ManualScheduler historyScheduler;

  /** Whether the balancers {@code start} builds read plain requests with their own front end ({@link DirectHttp1}, the default). */
  boolean directHttp1 = true;

  AffinityServer.Builder observed(AffinityServer.Builder builder) {
    builder.directHttp1(directHttp1);
    observers.forEach(builder::observe);
    if (historyScheduler != null) {
      builder.historyScheduler(historyScheduler);
    }
    return builder;
  }

  /** Starts {@code ids} as Jetty backends in group "web" behind a balancer that sends over {@code path}. */
  void start(TargetPath path, Consumer<TargetGroup.Builder> group, CookiePolicy policy, String... ids) throws Exception {
    backends = http2Backends ? Backends.startHttp2(ids) : Backends.start(ids);
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, policy);
    TargetGroup.Builder g = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    group.accept(g);
    for (String id : ids) {
      g.target(id, backends.uri(id), 1);
    }
    Router.Builder r = Router.builder(cookies).group(g.build());
    routing.accept(r);
    Router router = r.build();
    // maxThreads as startBalancer has it: the direct relay connects on at most a quarter of the pool's threads
    // at once, and tests that send bursts (200 h2 streams at once) expect every one to take it.
    balancer = observed(AffinityServer.builder(router, counters).clock(clock)
        .limits(Limits.builder().threads(maxThreads).build())).build();
    path.applyTo(balancer.balancer());
    balancer.start();
    startClient();
  }

  /** {@link #start(TargetPath, Consumer, CookiePolicy, String...)} on the default path, the direct relay. */
  void start(Consumer<TargetGroup.Builder> group, CookiePolicy policy, String... ids) throws Exception {
    start(TargetPath.DIRECT_RELAY, group, policy, ids);
  }

  /** Jetty backends with sliding one-hour duration stickiness, over {@code path}. */
  void startDuration(TargetPath path, String... ids) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.defaults(), ids);
  }

  void startDuration(String... ids) throws Exception {
    startDuration(TargetPath.DIRECT_RELAY, ids);
  }

  /** A scripted raw target (see {@link RawTargets}), closed after the test. */
  RawTarget target(String name, Script script) throws IOException {
    RawTarget t = new RawTarget(name, script);
    rawTargets.add(t);
    return t;
  }

  /** A balancer over {@code path} in front of scripted targets, configured before it starts. */
  void startBalancer(TargetPath path, Consumer<AffinityBalancer> configure, RawTarget... raw) throws Exception {
    Map<String, URI> group = new LinkedHashMap<>();
    for (RawTarget t : raw) {
      group.put(t.name, t.uri());
    }
    startBalancer(path, configure, group);
  }

  /** A balancer over {@code path} in front of any target URIs (say a refused one), configured before it starts. */
  void startBalancer(TargetPath path, Consumer<AffinityBalancer> configure, Map<String, URI> targetUris) throws Exception {
    balancer = observed(AffinityServer.builder(rawRouter(targetUris), counters).clock(clock)
        .limits(Limits.builder().threads(maxThreads).build())).build();
    path.applyTo(balancer.balancer());
    configure.accept(balancer.balancer());
    balancer.start();
    startClient();
  }

  /** Group "web" with duration stickiness and no active health checks: a raw target answers only what its script says. */
  Router rawRouter(Map<String, URI> targetUris) {
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder g = TargetGroup.builder("web")
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    targetUris.forEach((id, uri) -> g.target(id, uri, 1));
    return Router.builder(cookies).group(g.build()).build();
  }

  void startClient() throws Exception {
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.setRequestBufferSize(32 * 1024);
    http.start();
  }

  /** An {@code AFFINITY} cookie pinning a client of group "web" to {@code targetId}, sealed as the balancer would. */
  String pinCookie(String targetId) {
    dev.affinity.cookie.Expiry expiry = dev.affinity.cookie.Expiry.sliding(Duration.ofHours(1));
    dev.affinity.cookie.AffinityTicket ticket = expiry.newTicket(targetId, "web", clock.instant());
    dev.affinity.cookie.SetCookie c = cookies.issue("AFFINITY", ticket, expiry, false, name -> null).get(0);
    return c.name() + "=" + c.value();
  }

  UserAgent browser() {
    return new UserAgent(http, balancer.uri());
  }

  @AfterEach
  void stop() throws Exception {
    if (http != null) {
      http.stop();
    }
    if (balancer != null) {
      balancer.stop();
    }
    if (backends != null) {
      backends.close();
    }
    for (RawTarget t : rawTargets) {
      t.close();
    }
  }

  /** Sends {@code request} as raw bytes and returns what came back until the server closed or went quiet. */
  String raw(String request) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", balancer.port())) {
      socket.setSoTimeout(3_000);
      java.io.OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      out.flush();
      java.io.InputStream in = socket.getInputStream();
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          got.write(buffer, 0, n);
        }
      } catch (java.net.SocketTimeoutException | java.net.SocketException quiet) {
        // A CONNECT answer or a reset may leave nothing more to read: what arrived is the answer.
      }
      return got.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
  }
}
