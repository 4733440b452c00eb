package dev.affinity.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityTicket;
import dev.affinity.spring.app.CartApp;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.json.JsonParserFactory;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The tests' app on embedded Tomcat with only application.yml's four lines (target id, keys, actuator
 * exposure): pins, releases, the Affinity argument, the meters and the endpoint, over real sockets.
 */
// Boot 3's @SpringBootTest turns metrics export (Prometheus) off unless this is set; Boot 4 ignores it.
@SpringBootTest(classes = CartApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "spring.test.observability.auto-configure=true")
class StarterTest {
  @Value("${local.server.port}")
  int port;

  Http http;

  @BeforeEach
  void client() {
    http = new Http(port);
  }

  @Test
  void stickyHandlerMethodSetsARouteCookieTheBalancerOpens() {
    HttpResponse<String> response = http.post("/cart");

    assertThat(response.statusCode()).isEqualTo(200);
    String cookie = Http.setCookie(response, "AFFINITYROUTE").orElseThrow();
    // Max-Age counts whole seconds left: 3600, or 3599 when the second turned over while it was sealed.
    assertThat(cookie).containsPattern("Max-Age=(3600|3599);").contains("HttpOnly").contains("SameSite=Lax").contains("Path=/");
    AffinityTicket ticket = Http.openRoute(Http.value(cookie)).orElseThrow();
    assertThat(ticket.targetId()).isEqualTo("app-1");
    assertThat(Duration.between(ticket.issuedAt(), ticket.expiresAt())).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void stickyDurationIsHonoured() {
    String cookie = Http.setCookie(http.post("/cart/short"), "AFFINITYROUTE").orElseThrow();

    assertThat(cookie).containsPattern("Max-Age=(300|299);");
    AffinityTicket ticket = Http.openRoute(Http.value(cookie)).orElseThrow();
    assertThat(Duration.between(ticket.issuedAt(), ticket.expiresAt())).isEqualTo(Duration.ofMinutes(5));
  }

  @Test
  void anAsyncHandlerPinsToo() {
    HttpResponse<String> response = http.post("/cart/async");

    assertThat(response.body()).isEqualTo("created later");
    String cookie = Http.setCookie(response, "AFFINITYROUTE").orElseThrow();
    assertThat(Http.openRoute(Http.value(cookie)).orElseThrow().targetId()).isEqualTo("app-1");
  }

  @Test
  void aStickyMethodThatThrowsPinsNothing() {
    HttpResponse<String> response = http.post("/cart/fail");

    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(Http.setCookie(response, "AFFINITYROUTE")).isEmpty();
  }

  @Test
  void releaseAffinityExpiresTheRouteCookie() {
    String pinned = Http.value(Http.setCookie(http.post("/cart"), "AFFINITYROUTE").orElseThrow());

    HttpResponse<String> response = http.post("/logout", "Cookie", "AFFINITYROUTE=" + pinned);

    String cookie = Http.setCookie(response, "AFFINITYROUTE").orElseThrow();
    // Tomcat renders Max-Age=0 as an Expires in 1970.
    assertThat(cookie).startsWith("AFFINITYROUTE=;").containsAnyOf("Max-Age=0", "Expires=Thu, 01 Jan 1970");
  }

  @Test
  void stickyOnTheControllerClassPinsEveryHandler() {
    String cookie = Http.setCookie(http.get("/wizard/step"), "AFFINITYROUTE").orElseThrow();

    assertThat(Http.openRoute(Http.value(cookie)).orElseThrow().targetId()).isEqualTo("app-1");
  }

  @Test
  void stickyOnAServiceMethodPinsTheRequestThatCalledIt() {
    HttpResponse<String> response = http.post("/checkout");

    assertThat(response.body()).isEqualTo("paid");
    assertThat(Http.setCookie(response, "AFFINITYROUTE")).isPresent();
  }

  @Test
  void anAffinityArgumentIsTheRequestsAffinity() {
    String pinned = Http.value(Http.setCookie(http.post("/cart"), "AFFINITYROUTE").orElseThrow());

    assertThat(http.get("/where").body()).isEqualTo("app-1 pinned=none");
    assertThat(http.get("/where", "Cookie", "AFFINITYROUTE=" + pinned).body()).isEqualTo("app-1 pinned=app-1");

    HttpResponse<String> moved = http.post("/move/app-2");
    String cookie = Http.setCookie(moved, "AFFINITYROUTE").orElseThrow();
    assertThat(Http.openRoute(Http.value(cookie)).orElseThrow().targetId()).isEqualTo("app-2");
  }

  @Test
  void creatingAContainerSessionPins() {
    HttpResponse<String> response = http.get("/session");

    assertThat(Http.setCookie(response, "JSESSIONID")).isPresent();
    String cookie = Http.setCookie(response, "AFFINITYROUTE").orElseThrow();
    assertThat(Http.openRoute(Http.value(cookie)).orElseThrow().targetId()).isEqualTo("app-1");
  }

  @Test
  void metersCountPinsMovesReleasesAndRejectedCookies() {
    double pins = count("affinity.pins");
    double moves = count("affinity.moves");
    double releases = count("affinity.releases");
    double notBase64 = count("affinity.route.rejected?tag=reason:not_base64");

    http.post("/cart");
    http.post("/cart");
    http.post("/move/app-2");
    http.post("/logout");
    http.get("/where", "Cookie", "AFFINITYROUTE=***forged***");

    assertThat(count("affinity.pins")).isEqualTo(pins + 2);
    assertThat(count("affinity.moves")).isEqualTo(moves + 1);
    assertThat(count("affinity.releases")).isEqualTo(releases + 1);
    assertThat(count("affinity.route.rejected?tag=reason:not_base64")).isEqualTo(notBase64 + 1);

    String prometheus = http.get("/actuator/prometheus").body();
    assertThat(prometheus).contains("affinity_pins_total").contains("affinity_moves_total")
        .contains("affinity_releases_total").contains("affinity_route_rejected_total{reason=\"tampered\"}")
        .contains("affinity_session_bytes_count{mode=\"cookie\"}");
  }

  @Test
  void endpointShowsTheEffectiveConfigurationWithoutSecrets() {
    HttpResponse<String> response = http.get("/actuator/affinity");

    assertThat(response.statusCode()).isEqualTo(200);
    Map<String, Object> json = JsonParserFactory.getJsonParser().parseMap(response.body());
    assertThat(json).containsEntry("targetId", "app-1").containsEntry("pinDuration", "PT1H")
        .containsEntry("pinOnSessionCreate", true);
    @SuppressWarnings("unchecked")
    Map<String, Object> keys = (Map<String, Object>) json.get("keys");
    assertThat(keys).containsEntry("primary", "k1").containsEntry("ids", List.of("k1"))
        .containsEntry("ephemeral", false);
    @SuppressWarnings("unchecked")
    Map<String, Object> cookie = (Map<String, Object>) json.get("routeCookie");
    assertThat(cookie).containsEntry("name", "AFFINITYROUTE").containsEntry("sameSite", "Lax")
        .containsEntry("secure", "auto");
    @SuppressWarnings("unchecked")
    Map<String, Object> session = (Map<String, Object>) json.get("session");
    assertThat(session).containsEntry("mode", "container");

    // Not here, and not in Boot's own endpoints that show configuration either.
    for (String path : List.of("/actuator/affinity", "/actuator/configprops", "/actuator/env")) {
      assertThat(http.get(path).body()).as(path).doesNotContain(Http.SECRET).doesNotContain("ZGVmZ2hp");
    }
  }

  /** A meter's COUNT (or the summary's COUNT) from /actuator/metrics, 0 when the meter has none yet. */
  private double count(String meterAndQuery) {
    HttpResponse<String> response = http.get("/actuator/metrics/" + meterAndQuery);
    assertThat(response.statusCode()).as(meterAndQuery + ": " + response.body()).isEqualTo(200);
    Map<String, Object> json = JsonParserFactory.getJsonParser().parseMap(response.body());
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> measurements = (List<Map<String, Object>>) json.get("measurements");
    return measurements.stream().filter(m -> "COUNT".equals(m.get("statistic")))
        .mapToDouble(m -> ((Number) m.get("value")).doubleValue()).findFirst().orElseThrow();
  }
}
