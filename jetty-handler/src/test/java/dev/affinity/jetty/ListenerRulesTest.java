package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Forward;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TrustedProxies;
import dev.affinity.cookie.Expiry;
import dev.affinity.rules.Conditions;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.ResponseHeaders;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterEach;

/**
 * Each listener rule condition and action over real sockets, on both paths: method, header, query and
 * source address conditions (the address through trusted proxies only), a rule's own persistence
 * scoped to its path, and response header changes on a forwarded answer.
 */
class ListenerRulesTest extends BalancerTestBase {
  private Backends api;

  @AfterEach
  void stopApi() throws Exception {
    if (api != null) {
      api.close();
    }
  }

  private void startWithRules(TargetPath path) throws Exception {
    api = Backends.start("api-1", "api-2");
    TargetGroup.Builder apiGroup = TargetGroup.builder("api")
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .target("api-1", api.uri("api-1"), 1).target("api-2", api.uri("api-2"), 1);
    Forward toApi = Forward.to("api");
    routing = r -> r.group(apiGroup.build()).rules(RuleSet.of(List.of(
        Rule.builder(10).name("no-deletes").when(Conditions.builder().methods(List.of("DELETE")).build())
            .action(new FixedResponse(405, "application/json", "{\"error\":\"no deletes\"}")).build(),
        Rule.builder(20).name("canary").when(Conditions.builder().header("X-Canary", List.of("1", "yes")).build())
            .action(new RuleAction.Forward(toApi)).build(),
        Rule.builder(30).name("beta").when(Conditions.builder().query("beta", List.of("on")).build())
            .action(new RuleAction.Forward(toApi)).build(),
        Rule.builder(40).name("office").when(Conditions.builder().sourceIp(List.of("10.0.0.0/8")).build())
            .action(new FixedResponse(200, null, "office")).build(),
        Rule.builder(50).name("shop").when(Conditions.builder().paths(List.of(PathPattern.parse("/shop/*"))).build())
            .action(new RuleAction.Forward(toApi))
            .persistence(StickinessPolicy.duration(Expiry.sliding(Duration.ofMinutes(10))).withSessionName("SHOP"))
            .responseHeaders(new ResponseHeaders(Map.of("X-Frame-Options", "DENY"), List.of("X-Kept")))
            .build())));
    startDuration(path, "web-1", "web-2");
  }

  private Request get(String pathQuery) {
    return http.newRequest(balancer.uri().resolve(pathQuery)).timeout(5, TimeUnit.SECONDS);
  }

  private static String backend(ContentResponse r) {
    return r.getHeaders().get("X-Backend");
  }

  @OverBothPaths
  void methodConditionAndAFixedResponse(TargetPath path) throws Exception {
    startWithRules(path);
    ContentResponse delete = get("/item/1").method("DELETE").send();
    assertThat(delete.getStatus()).isEqualTo(405);
    assertThat(delete.getContentAsString()).isEqualTo("{\"error\":\"no deletes\"}");
    assertThat(delete.getHeaders().get(HttpHeader.CONTENT_TYPE)).startsWith("application/json");
    assertThat(backend(get("/item/1").send())).as("GET is not DELETE").startsWith("web-");
  }

  @OverBothPaths
  void headerConditionMatchesAnyListedValueIgnoringCase(TargetPath path) throws Exception {
    startWithRules(path);
    assertThat(backend(get("/").headers(h -> h.put("X-Canary", "YES")).send())).startsWith("api-");
    assertThat(backend(get("/").headers(h -> h.put("x-canary", "1")).send())).startsWith("api-");
    assertThat(backend(get("/").headers(h -> h.put("X-Canary", "2")).send())).startsWith("web-");
    assertThat(backend(get("/").send())).startsWith("web-");
  }

  @OverBothPaths
  void queryConditionMatchesTheDecodedValue(TargetPath path) throws Exception {
    startWithRules(path);
    assertThat(backend(get("/?beta=on").send())).startsWith("api-");
    assertThat(backend(get("/?x=1&beta=%6Fn").send())).as("decoded: %6F is o").startsWith("api-");
    assertThat(backend(get("/?beta=off").send())).startsWith("web-");
    assertThat(backend(get("/?notbeta=on").send())).startsWith("web-");
  }

  @OverBothPaths
  void sourceIpIsTheClientATrustedProxyReportsAndNeverAClaim(TargetPath path) throws Exception {
    startWithRules(path);
    // No trusted proxy: an X-Forwarded-For claim is ignored; the client is 127.0.0.1, not in 10/8.
    assertThat(backend(get("/").headers(h -> h.put("X-Forwarded-For", "10.1.2.3")).send())).startsWith("web-");
    balancer.balancer().setTrustedProxies(TrustedProxies.of("127.0.0.1/32"));
    ContentResponse office = get("/").headers(h -> h.put("X-Forwarded-For", "10.1.2.3")).send();
    assertThat(office.getContentAsString()).isEqualTo("office");
    assertThat(backend(get("/").headers(h -> h.put("X-Forwarded-For", "192.0.2.7")).send())).startsWith("web-");
  }

  @OverBothPaths
  void aRulesPersistenceIsScopedToItsPathAndItsHeaderChangesApply(TargetPath path) throws Exception {
    startWithRules(path);
    ContentResponse first = get("/shop/cart").send();
    assertThat(backend(first)).startsWith("api-");
    assertThat(first.getHeaders().get("X-Frame-Options")).isEqualTo("DENY");
    List<String> cookies = first.getHeaders().getValuesList(HttpHeader.SET_COOKIE);
    assertThat(cookies).singleElement().asString().startsWith("SHOP=").contains("Path=/shop/");
    String shop = cookies.get(0).substring(0, cookies.get(0).indexOf(';'));
    for (int i = 0; i < 10; i++) {
      assertThat(backend(get("/shop/item/" + i).headers(h -> h.put(HttpHeader.COOKIE, shop)).send())).isEqualTo(backend(first));
    }
    // Outside the rule: the web group's own cookie, Path=/, and no rule headers.
    ContentResponse web = get("/home").send();
    assertThat(web.getHeaders().get("X-Frame-Options")).isNull();
    assertThat(web.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).singleElement().asString()
        .startsWith("AFFINITY=").contains("Path=/;");
  }
}
