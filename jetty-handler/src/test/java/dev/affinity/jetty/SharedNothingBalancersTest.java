package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;

/**
 * All client state lives in the sealed cookie, so balancers that share keys are interchangeable:
 * a client that alternates between three of them (as behind DNS round robin or an L4 balancer)
 * stays on one target with no re-pin. Nothing is shared between the three but the keyring.
 */
class SharedNothingBalancersTest {

  @OverBothPaths
  void clientAlternatingBetweenThreeBalancersStaysOnOneTarget(TargetPath path) throws Exception {
    Keyring keys = Keyring.parse("k1:" + BalancerTestBase.SECRET);
    List<AffinityServer> balancers = new ArrayList<>();
    List<CodecCounters> counters = new ArrayList<>();
    HttpClient http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    try (Backends backends = Backends.start("a", "b", "c")) {
      for (int i = 0; i < 3; i++) {
        CodecCounters c = CodecMetrics.counting();
        AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keys).metrics(c).build(), CookiePolicy.defaults());
        TargetGroup.Builder group = TargetGroup.builder("web")
            .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
            .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399, Duration.ofSeconds(10)));
        for (String id : List.of("a", "b", "c")) {
          group.target(id, backends.uri(id), 1);
        }
        AffinityServer balancer = AffinityServer.builder(Router.builder(cookies).group(group.build()).build(), c).build();
        path.applyTo(balancer.balancer());
        balancers.add(balancer.start());
        counters.add(c);
      }
      http.start();
      List<UserAgent> views = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        views.add(new UserAgent(http, balancers.get(i).uri()));
      }
      java.util.Map<String, String> browserJar = new java.util.HashMap<>();
      String pinned = null;
      for (int i = 0; i < 300; i++) {
        UserAgent via = views.get(i % 3);
        // One browser: the same cookie jar whichever balancer DNS hands out.
        via.jar.clear();
        via.jar.putAll(browserJar);
        ContentResponse r = via.get("/cart");
        assertThat(r.getStatus()).isEqualTo(200);
        if (pinned == null) {
          pinned = r.getContentAsString();
        }
        assertThat(r.getContentAsString()).as("request %d via balancer %d", i, i % 3).isEqualTo(pinned);
        browserJar.clear();
        browserJar.putAll(via.jar);
      }
      long rePins = 0;
      long newPins = 0;
      for (AffinityServer balancer : balancers) {
        for (Target t : balancer.balancer().router().groups().get(0).targets()) {
          rePins += t.rePins();
          newPins += t.newPins();
        }
      }
      assertThat(rePins).isZero();
      assertThat(newPins).isEqualTo(1);
      assertThat(counters).allSatisfy(c -> assertThat(c.rejectedTotal()).isZero());
      // The other two balancers opened a cookie they never sealed.
      assertThat(counters.get(1).openedCount(false) + counters.get(2).openedCount(false)).isGreaterThanOrEqualTo(2);
      for (AffinityServer balancer : balancers) {
        path.assertTaken(balancer.balancer());
      }
    } finally {
      http.stop();
      for (AffinityServer b : balancers) {
        b.stop();
      }
    }
  }

}
