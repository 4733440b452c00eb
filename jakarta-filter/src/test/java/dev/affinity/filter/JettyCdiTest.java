package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.jboss.weld.environment.servlet.EnhancedListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Sticky} and {@link ReleaseAffinity} in a real web application: Weld Servlet boots inside
 * Jetty ee10, a servlet calls a CDI bean, and the filter turns the recorded decision into cookies.
 */
class JettyCdiTest {
  private static final HttpClient CLIENT = HttpClient.newHttpClient();
  private static ServletContainer jetty;
  private static URI uri;

  @BeforeAll
  static void start() throws Exception {
    jetty = ServletContainer.Kind.JETTY.create();
    uri = jetty.start(TestWebapp.write(TestWebapp.standardParams()), new EnhancedListener());
  }

  @AfterAll
  static void stop() throws Exception {
    if (jetty != null) {
      jetty.close();
    }
  }

  private static HttpResponse<String> get(String path, String cookie) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri.resolve(path));
    if (cookie != null) {
      request.header("Cookie", cookie);
    }
    return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void stickyMethodPinsAndReleaseMethodReleases() throws Exception {
    HttpResponse<String> checkout = get("/cdi?op=checkout", null);
    assertThat(checkout.statusCode()).isEqualTo(200);
    assertThat(checkout.body()).isEqualTo("checked out");
    assertThat(FilterContractTest.routeTicket(checkout)).hasValueSatisfying(t -> {
      assertThat(t.targetId()).isEqualTo("app-1");
      assertThat(t.targetGroup()).isEqualTo("blue");
    });
    Map<String, FilterContractTest.Cookie> cookies = FilterContractTest.byName(checkout);
    assertThat(cookies.get("AFFINITYROUTE").maxAge()).isBetween(415L, 420L);

    HttpResponse<String> logout = get("/cdi?op=logout", FilterContractTest.cookieHeader(checkout));
    assertThat(logout.body()).isEqualTo("logged out");
    assertThat(FilterContractTest.setCookies(logout)).extracting(FilterContractTest.Cookie::name)
        .containsExactlyInAnyOrder("AFFINITYROUTE", "AFFINITYROUTECORS");
    assertThat(FilterContractTest.setCookies(logout)).allSatisfy(c -> assertThat(c.isRemoval()).isTrue());
  }

  @Test
  void theApiStillWorksWithCdiPresent() throws Exception {
    HttpResponse<String> pinned = get("/pin", null);
    assertThat(FilterContractTest.routeTicket(pinned)).isPresent();
    assertThat(get("/whoami", FilterContractTest.cookieHeader(pinned)).body()).contains("pinned=app-1");
  }
}
