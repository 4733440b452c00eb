package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Forward;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.observe.RequestMetrics;
import dev.affinity.rules.Conditions;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleSet;
import java.time.Clock;
import java.util.List;
import org.eclipse.jetty.client.HttpClient;
import org.junit.jupiter.api.Test;

/** The rule families of a real scrape: hits per listener and rule, the rules' own answers, refused paths, and a reload. */
class PrometheusMetricsTest {
  private static final String OTHER_LISTENER = "10.0.0.1:8080";

  private static Conditions path(String shorthand) {
    return Conditions.builder().paths(List.of(PathPattern.parse(shorthand))).build();
  }

  private static RuleSet globalRules() {
    return RuleSet.of(List.of(
        Rule.builder(10).name("shop").when(path("/shop/*")).action(new RuleAction.Forward(Forward.to("web"))).build(),
        Rule.builder(20).when(path("/gone")).action(new FixedResponse(410, null, "gone")).build()));
  }

  @Test
  void ruleHitsPerListenerAndRuleTheRulesOwnAnswersAndRefusedPathsAndHitsCarriedOverAReload() throws Exception {
    CodecCounters counters = CodecMetrics.counting();
    AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder()
        .keyring(Keyring.builder().addKey("k1", BalancerTestBase.SECRET).build()).metrics(counters).build(), CookiePolicy.defaults());
    HttpClient http = new HttpClient();
    http.setFollowRedirects(false);
    try (Backends backends = Backends.start("web-1")) {
      TargetGroup web = TargetGroup.builder("web").target("web-1", backends.uri("web-1"), 1).build();
      RuleSet before = globalRules();
      Router router = Router.builder(cookies).group(web).rules(before)
          .rules(OTHER_LISTENER, RuleSet.of(List.of(Rule.builder(5).name("internal")
              .when(Conditions.builder().methods(List.of("GET")).build()).action(new FixedResponse(403, null, "no")).build())))
          .build();
      RequestMetrics requests = new RequestMetrics();
      PrometheusMetrics metrics = new PrometheusMetrics(requests, Clock.systemUTC());
      AffinityServer server = AffinityServer.builder(router, counters).metrics(metrics).observe(requests).build().start();
      metrics.server(server);
      http.start();
      try {
        for (int i = 0; i < 2; i++) {
          assertThat(http.GET(server.uri().resolve("/shop/cart")).getStatus()).isEqualTo(200);
        }
        assertThat(http.GET(server.uri().resolve("/gone")).getStatus()).isEqualTo(410);
        assertThat(http.GET(server.uri().resolve("/shop/a%3Bb")).getStatus()).isEqualTo(400);
        assertThat(http.GET(server.uri().resolve("/elsewhere")).getStatus()).isEqualTo(200);

        String scrape = http.GET(server.adminUri() + "/metrics").getContentAsString();
        assertThat(scrape)
            .contains("# TYPE affinity_rule_hits_total counter\n")
            .contains("affinity_rule_hits_total{listener=\"*\",priority=\"10\",rule=\"shop\"} 2.0\n")
            .contains("affinity_rule_hits_total{listener=\"*\",priority=\"20\",rule=\"priority 20\"} 1.0\n")
            .contains("affinity_rule_hits_total{listener=\"" + OTHER_LISTENER + "\",priority=\"5\",rule=\"internal\"} 0.0\n")
            .contains("affinity_rule_answers_total 1.0\n")
            .contains("affinity_refused_paths_total 1.0\n");

        // A reload with the shop rule kept and the 410 rule renamed: shop's series goes on from 2, the renamed one starts at 0.
        RuleSet after = RuleSet.of(List.of(
            Rule.builder(10).name("shop").when(path("/store/*")).action(new RuleAction.Forward(Forward.to("web"))).build(),
            Rule.builder(20).name("gone").when(path("/gone")).action(new FixedResponse(410, null, "gone")).build()))
            .carryHitsFrom(before);
        server.balancer().router(Router.builder(cookies).group(web).rules(after).build());
        assertThat(http.GET(server.uri().resolve("/store/x")).getStatus()).isEqualTo(200);
        scrape = http.GET(server.adminUri() + "/metrics").getContentAsString();
        assertThat(scrape)
            .contains("affinity_rule_hits_total{listener=\"*\",priority=\"10\",rule=\"shop\"} 3.0\n")
            .contains("affinity_rule_hits_total{listener=\"*\",priority=\"20\",rule=\"gone\"} 0.0\n")
            .doesNotContain("rule=\"priority 20\"")
            .doesNotContain("rule=\"internal\"");
      } finally {
        http.stop();
        server.stop();
      }
    }
  }
}
