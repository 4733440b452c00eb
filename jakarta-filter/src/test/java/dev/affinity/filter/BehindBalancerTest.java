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
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.jboss.weld.environment.servlet.EnhancedListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The filter inside real targets behind the real balancer: app-1 on Jetty 12 ee10 (with Weld), app-2
 * on Tomcat 10.1, both deploying the test web application, the Affinity balancer in front with the
 * same keys and no stickiness of its own — so every pin seen here comes from the application.
 */
class BehindBalancerTest {
  private ServletContainer jetty;
  private ServletContainer tomcat;
  private AffinityServer balancer;
  private HttpClient browser;

  @BeforeEach
  void start() throws Exception {
    jetty = ServletContainer.Kind.JETTY.create();
    URI app1 = jetty.start(TestWebapp.write(TestWebapp.standardParams()), new EnhancedListener());
    tomcat = ServletContainer.Kind.TOMCAT.create();
    Map<String, String> params = TestWebapp.standardParams();
    params.put("targetId", "app-2");
    URI app2 = tomcat.start(TestWebapp.write(params), null);
    CodecCounters counters = CodecMetrics.counting();
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(TestWebapp.KEYRING).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup blue = TargetGroup.builder("blue")
        .target("app-1", URI.create("http://127.0.0.1:" + app1.getPort()), 1)
        .target("app-2", URI.create("http://127.0.0.1:" + app2.getPort()), 1)
        .build();
    balancer = AffinityServer.builder(Router.builder(cookies).group(blue).build(), counters).build().start();
    browser = HttpClient.newBuilder().cookieHandler(new CookieManager()).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (balancer != null) {
      balancer.stop();
    }
    if (jetty != null) {
      jetty.close();
    }
    if (tomcat != null) {
      tomcat.close();
    }
  }

  private String get(String path) throws Exception {
    HttpResponse<String> response = browser.send(HttpRequest.newBuilder(balancer.uri().resolve(path)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as("status of %s: %s", path, response.body()).isEqualTo(200);
    return response.body();
  }

  private static String target(String whoami) {
    return whoami.substring("target=".length(), whoami.indexOf(' '));
  }

  @Test
  void applicationPinsMovesAndReleasesThroughTheBalancer() throws Exception {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      seen.add(target(get("/whoami")));
    }
    assertThat(seen).as("unpinned clients are balanced").containsExactlyInAnyOrder("app-1", "app-2");

    // The application pins the client on whichever target served /pin; the balancer honours it.
    String pinned = get("/pin").substring("pinned to ".length());
    for (int i = 0; i < 10; i++) {
      assertThat(target(get("/whoami"))).isEqualTo(pinned);
    }
    // moveTo: the application sends the client to the other target.
    String other = pinned.equals("app-1") ? "app-2" : "app-1";
    assertThat(get("/pin?to=" + other)).isEqualTo("pinned to " + other);
    for (int i = 0; i < 5; i++) {
      assertThat(get("/whoami")).startsWith("target=" + other + " pinned=" + other);
    }
    // release: balanced again.
    assertThat(get("/release")).isEqualTo("released");
    seen.clear();
    for (int i = 0; i < 4; i++) {
      seen.add(target(get("/whoami")));
    }
    assertThat(seen).containsExactlyInAnyOrder("app-1", "app-2");
  }

  @Test
  void stickyCdiMethodPinsAndFailoverReachesTheApplication() throws Exception {
    // Weld runs in the Jetty target only: make app-1 the one that serves /cdi.
    assertThat(get("/pin?to=app-1")).isEqualTo("pinned to app-1");
    assertThat(get("/release")).isEqualTo("released");
    String next = target(get("/whoami"));
    if (next.equals("app-1")) {
      get("/whoami");
    }
    assertThat(get("/cdi?op=checkout")).isEqualTo("checked out");
    for (int i = 0; i < 6; i++) {
      assertThat(get("/whoami")).startsWith("target=app-1 pinned=app-1");
    }
    // app-1 dies: the balancer moves the client, tells app-2 where it came from, and app-2 re-pins it.
    jetty.close();
    String failedOver = get("/whoami");
    assertThat(failedOver).startsWith("target=app-2").contains("previous=app-1");
    for (int i = 0; i < 5; i++) {
      assertThat(get("/whoami")).startsWith("target=app-2 pinned=app-2 previous=-");
    }
  }
}
