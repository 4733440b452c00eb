package dev.affinity.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.spring.app.CartApp;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.json.JsonParserFactory;
import org.springframework.boot.test.context.SpringBootTest;

/** {@code affinity.session.mode=cookie}: the filter's own session, and its bytes in the meters. */
@SpringBootTest(classes = CartApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "affinity.session.mode=cookie")
class CookieSessionTest {
  @Value("${local.server.port}")
  int port;

  @Test
  void theSessionLivesInASealedCookieAndItsBytesAreMeasured() {
    Http http = new Http(port);

    HttpResponse<String> first = http.get("/session");

    assertThat(first.body()).startsWith("dev.affinity.filter.").endsWith("visits=1");
    assertThat(Http.setCookie(first, "JSESSIONID")).isEmpty();
    String session = Http.value(Http.setCookie(first, "AFFINITYSESSION").orElseThrow());
    String route = Http.value(Http.setCookie(first, "AFFINITYROUTE").orElseThrow());

    HttpResponse<String> second = http.get("/session", "Cookie", "AFFINITYSESSION=" + session + "; AFFINITYROUTE=" + route);
    assertThat(second.body()).endsWith("visits=2");
    String resealed = Http.value(Http.setCookie(second, "AFFINITYSESSION").orElseThrow());

    Map<String, Double> summary = measurements(http, "affinity.session.bytes?tag=mode:cookie");
    assertThat(summary.get("COUNT")).isEqualTo(2.0);
    assertThat(summary.get("TOTAL")).isEqualTo((double) session.length() + resealed.length());
    assertThat(measurements(http, "affinity.session.bytes?tag=mode:redis").get("COUNT")).isZero();
  }

  private static Map<String, Double> measurements(Http http, String meter) {
    HttpResponse<String> response = http.get("/actuator/metrics/" + meter);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> measurements = (List<Map<String, Object>>) JsonParserFactory.getJsonParser()
        .parseMap(response.body()).get("measurements");
    return measurements.stream().collect(java.util.stream.Collectors.toMap(m -> (String) m.get("statistic"),
        m -> ((Number) m.get("value")).doubleValue()));
  }
}
