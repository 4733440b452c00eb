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
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;

/** Starts real backends, a real balancer and a real client for each test; stops them after. */
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

  void start(Consumer<TargetGroup.Builder> group, CookiePolicy policy, String... ids) throws Exception {
    backends = Backends.start(ids);
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, policy);
    TargetGroup.Builder g = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    group.accept(g);
    for (String id : ids) {
      g.target(id, backends.uri(id), 1);
    }
    Router router = Router.builder(cookies).group(g.build()).build();
    balancer = AffinityServer.builder(router, counters).clock(clock).build().start();
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.setRequestBufferSize(32 * 1024);
    http.start();
  }

  void startDuration(String... ids) throws Exception {
    start(g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))), CookiePolicy.defaults(), ids);
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
