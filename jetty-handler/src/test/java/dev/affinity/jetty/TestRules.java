package dev.affinity.jetty;

import dev.affinity.balancer.Forward;
import dev.affinity.balancer.Router;
import dev.affinity.cookie.Expiry;
import dev.affinity.rules.Conditions;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleSet;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * Listener rules for the status, metrics and access log tests, over group "web": {@code /shop/*}
 * forwards (rule "shop"), {@code /old/*} redirects (unnamed: "priority 20"), a request with
 * {@code X-Maintenance: on} gets a fixed 503 (rule "maintenance"); a listener no test binds
 * ({@link #OTHER_LISTENER}) has one rule of its own.
 */
final class TestRules {
  static final String OTHER_LISTENER = "10.0.0.1:8080";

  private TestRules() {}

  static Consumer<Router.Builder> shop() {
    return r -> r.rules(RuleSet.of(List.of(
            Rule.builder(10).name("shop").when(paths("/shop/*")).action(new RuleAction.Forward(Forward.to("web"))).build(),
            Rule.builder(20).when(paths("/old/*")).action(new Redirect(301, "HTTPS", null, "443", "/new/#{path}", null)).build(),
            Rule.builder(30).name("maintenance").when(Conditions.builder().header("X-Maintenance", List.of("on")).build())
                .action(new FixedResponse(503, null, "down for maintenance")).build())))
        .rules(OTHER_LISTENER, RuleSet.of(List.of(
            Rule.builder(5).name("internal").when(Conditions.builder().methods(List.of("GET", "HEAD")).build())
                .action(new RuleAction.Forward(Forward.builder().group("web", 1)
                    .groupStickiness(Expiry.sliding(Duration.ofMinutes(10))).build())).build())));
  }

  private static Conditions paths(String shorthand) {
    return Conditions.builder().paths(List.of(PathPattern.parse(shorthand))).build();
  }
}
