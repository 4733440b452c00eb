package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Deployment on both containers: bad settings fail it with the setting named; affinity.properties registers the filter. */
class DeploymentTest {

  static Stream<Arguments> badParams() {
    return Stream.of(ServletContainer.Kind.values()).flatMap(kind -> Stream.of(
        Arguments.of(kind, "pinDuration", "1h", "1h"),
        Arguments.of(kind, "sameSite", "Sometimes", "Sometimes"),
        Arguments.of(kind, "keysFile", "/no/such/affinity-keys", "/no/such/affinity-keys"),
        // A misspelt name is refused, and the message lists the right one.
        Arguments.of(kind, "pinDuraton", "PT5M", "pinDuration")));
  }

  @ParameterizedTest(name = "{0} {1}={2}")
  @MethodSource("badParams")
  void invalidInitParamFailsDeploymentNamingIt(ServletContainer.Kind kind, String param, String value, String named)
      throws Exception {
    Map<String, String> params = TestWebapp.standardParams();
    params.remove("keys");
    params.put(param, value);
    Path webapp = TestWebapp.write(params);
    try (ServletContainer container = kind.create()) {
      assertThatThrownBy(() -> container.start(webapp, null))
          .isInstanceOf(ServletContainer.DeploymentFailed.class)
          .hasMessageContaining(param)
          .hasMessageContaining(named);
    }
  }

  @ParameterizedTest
  @EnumSource(ServletContainer.Kind.class)
  void missingTargetIdNamesAllThreeSources(ServletContainer.Kind kind) throws Exception {
    Map<String, String> params = TestWebapp.standardParams();
    params.remove("targetId");
    Path webapp = TestWebapp.write(params);
    try (ServletContainer container = kind.create()) {
      assertThatThrownBy(() -> container.start(webapp, null))
          .isInstanceOf(ServletContainer.DeploymentFailed.class)
          .hasMessageContaining("\"targetId\"")
          .hasMessageContaining("affinity.targetId")
          .hasMessageContaining("AFFINITY_TARGET_ID");
    }
  }

  @ParameterizedTest
  @EnumSource(ServletContainer.Kind.class)
  void affinityPropertiesRegistersTheFilter(ServletContainer.Kind kind) throws Exception {
    Path webapp = TestWebapp.write(Map.of(), false);
    try (ServletContainer container = kind.create()) {
      URI uri = container.start(webapp, new AffinityInitializer("affinity-test.properties"));
      HttpResponse<String> response = HttpClient.newHttpClient()
          .send(HttpRequest.newBuilder(uri.resolve("/pin")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.body()).isEqualTo("pinned to app-props");
      assertThat(FilterContractTest.routeTicket(response)).hasValueSatisfying(t -> {
        assertThat(t.targetId()).isEqualTo("app-props");
        assertThat(t.targetGroup()).isEqualTo("green");
      });
      assertThat(FilterContractTest.byName(response).get("AFFINITYROUTE").maxAge()).isBetween(595L, 600L);
    }
  }

  @ParameterizedTest
  @EnumSource(ServletContainer.Kind.class)
  void affinityPropertiesYieldsToWebXml(ServletContainer.Kind kind) throws Exception {
    Path webapp = TestWebapp.write(TestWebapp.standardParams(), true);
    try (ServletContainer container = kind.create()) {
      URI uri = container.start(webapp, new AffinityInitializer("affinity-test.properties"));
      HttpResponse<String> response = HttpClient.newHttpClient()
          .send(HttpRequest.newBuilder(uri.resolve("/pin")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.body()).isEqualTo("pinned to app-1");
      assertThat(response.headers().allValues("set-cookie")).filteredOn(h -> h.startsWith("AFFINITYROUTE=")).hasSize(1);
    }
  }
}
