package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpHeader;

/**
 * {@code CookiePolicy.sealReuse} over real sockets, on both paths to a target: clients that keep
 * sending a stale sliding cookie (as wrk does, or any client that ignores {@code Set-Cookie}) are sent
 * one refreshed value per target when it is on, each their own when it is off, and stay on their target.
 */
class SealReuseBalancerTest extends BalancerTestBase {

  private void start(TargetPath path, boolean sealReuse) throws Exception {
    clock.advance(Duration.ofSeconds(5)); // mid-granule (36 s for an hour), so moving a time back shows
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))),
        CookiePolicy.builder().sealReuse(sealReuse).build(), "a", "b");
  }

  /** One request with {@code cookie} ({@code null}: none); asserts it was served. */
  private ContentResponse get(String cookie) throws Exception {
    var request = http.newRequest(balancer.uri().resolve("/")).timeout(5, java.util.concurrent.TimeUnit.SECONDS);
    if (cookie != null) {
      request.headers(h -> h.put(HttpHeader.COOKIE, cookie));
    }
    ContentResponse response = request.send();
    assertThat(response.getStatus()).isEqualTo(200);
    return response;
  }

  /** The {@code AFFINITY=value} pair the answer sets, or {@code null}. */
  private static String pin(ContentResponse response) {
    List<String> set = response.getHeaders().getValuesList(HttpHeader.SET_COOKIE);
    assertThat(set).hasSizeLessThanOrEqualTo(1);
    return set.isEmpty() ? null : set.get(0).substring(0, set.get(0).indexOf(';'));
  }

  /** Pins new clients until two are on target {@code a}; their cookies. */
  private String[] twoNewClientsOnA() throws Exception {
    String[] onA = new String[2];
    for (int found = 0, i = 0; found < 2 && i < 10; i++) {
      ContentResponse r = get(null);
      if ("a".equals(r.getHeaders().get("X-Backend"))) {
        onA[found++] = pin(r);
      }
    }
    assertThat(onA).doesNotContainNull();
    return onA;
  }

  @OverBothPaths
  void withReuseStaleClientsOfOneTargetGetOneRefreshedValueAndStayThere(TargetPath path) throws Exception {
    start(path, true);
    String[] clients = twoNewClientsOnA();
    assertThat(clients[1]).as("new clients of one target in one granule").isEqualTo(clients[0]);
    long sealed = counters.sealedCount();

    clock.advance(Duration.ofMinutes(5)); // the cookies they keep sending are now stale
    ContentResponse first = get(clients[0]);
    ContentResponse second = get(clients[1]);
    ContentResponse again = get(clients[0]);
    for (ContentResponse r : List.of(first, second, again)) {
      assertThat(r.getHeaders().get("X-Backend")).isEqualTo("a");
    }
    assertThat(pin(first)).isNotNull().isNotEqualTo(clients[0]);
    assertThat(pin(second)).isEqualTo(pin(first));
    assertThat(pin(again)).isEqualTo(pin(first));
    assertThat(counters.sealedCount() - sealed).as("one seal for three refreshes").isEqualTo(1);

    ContentResponse refreshed = get(pin(first));
    assertThat(refreshed.getHeaders().get("X-Backend")).isEqualTo("a");
    assertThat(pin(refreshed)).as("a fresh cookie needs no refresh").isNull();
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void withoutReuseEveryClientGetsItsOwnValueAndStaysThere(TargetPath path) throws Exception {
    start(path, false);
    String[] clients = twoNewClientsOnA();
    assertThat(clients[1]).isNotEqualTo(clients[0]);

    clock.advance(Duration.ofMinutes(5));
    ContentResponse first = get(clients[0]);
    ContentResponse second = get(clients[1]);
    assertThat(first.getHeaders().get("X-Backend")).isEqualTo("a");
    assertThat(second.getHeaders().get("X-Backend")).isEqualTo("a");
    assertThat(pin(first)).isNotNull().isNotEqualTo(clients[0]);
    assertThat(pin(second)).isNotNull().isNotEqualTo(pin(first));

    ContentResponse refreshed = get(pin(second));
    assertThat(refreshed.getHeaders().get("X-Backend")).isEqualTo("a");
    assertThat(pin(refreshed)).isNull();
    path.assertTaken(balancer.balancer());
  }
}
