package dev.affinity.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.Forward;
import dev.affinity.balancer.Forwarder;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.rules.Conditions;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.RequestPath;
import dev.affinity.rules.ResponseHeaders;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleRequest;
import dev.affinity.rules.RuleSet;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/**
 * Listener rules on arbitrary requests (path, query, host, method, headers as a client can send them).
 * Oracles, for every input:
 * <ul>
 *   <li>{@link RequestPath#parse} never throws; a path it accepts is in normal form: it starts with
 *       {@code /} and holds no empty, {@code .} or {@code ..} segment, no backslash, no {@code ;} and no
 *       control character, and reading it again (as sent, for a path without {@code %}) gives it back;</li>
 *   <li>{@link RuleSet#match} never throws and finds the lowest-priority rule whose conditions hold: the
 *       rule it returns matches, and no rule before it does (checked one by one through the public API);</li>
 *   <li>{@link Forwarder#begin} never throws: a refused path is a 400 without a target, a redirect a 3xx
 *       whose Location stays on one line, a forward a configured target.</li>
 * </ul>
 */
class ListenerRulesFuzzTest {
  private static RuleSet rules;
  private static Router router;
  private static Forwarder forwarder;

  @BeforeAll
  static void setUp() {
    FuzzFixtures.watchCodecNet();
    Forward toApi = Forward.to("api");
    List<Rule> list = new ArrayList<>();
    list.add(Rule.builder(1).when(Conditions.builder().paths(List.of(PathPattern.parse("/admin/*"))).build())
        .action(new FixedResponse(403, null, "no")).build());
    list.add(Rule.builder(2).when(Conditions.builder().host(List.of("api.*", "*.api.example.com")).paths(List.of(PathPattern.parse("/v1/*"))).build())
        .action(new RuleAction.Forward(toApi))
        .persistence(StickinessPolicy.header(null, Expiry.timeouts(Duration.ofMinutes(5), Duration.ofHours(1), false))).build());
    list.add(Rule.builder(3).when(Conditions.builder().paths(List.of(PathPattern.parse("/old/*"))).build())
        .action(new Redirect(301, null, null, null, "/new/#{path}", null)).build());
    list.add(Rule.builder(4).when(Conditions.builder().paths(List.of(PathPattern.glob("/a/*/b?"), PathPattern.exact("/x"))).methods(List.of("POST")).build())
        .action(new RuleAction.Forward(toApi)).responseHeaders(new ResponseHeaders(Map.of("X-A", "1"), List.of("Server"))).build());
    list.add(Rule.builder(5).when(Conditions.builder().header("X-Canary", List.of("1", "y*s")).query("beta", List.of("on", "?")).build())
        .action(new RuleAction.Forward(toApi)).build());
    list.add(Rule.builder(6).when(Conditions.builder().sourceIp(List.of("10.0.0.0/8", "2001:db8::/32")).build())
        .action(new FixedResponse(200, "application/json", "{}")).build());
    list.add(Rule.builder(7).when(Conditions.builder().host(List.of("www.example.com")).build())
        .action(new RuleAction.Forward(Forward.to("web"))).build());
    rules = RuleSet.of(list);
    AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(FuzzFixtures.keyring()).build(), CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .target("w1", URI.create("http://127.0.0.1:20001"), 1).target("w2", URI.create("http://127.0.0.1:20002"), 1).build();
    TargetGroup api = TargetGroup.builder("api").target("a1", URI.create("http://127.0.0.1:20003"), 1).build();
    router = Router.builder(cookies).group(web).group(api).rules(rules).build();
    forwarder = new Forwarder(() -> router);
  }

  private record Fuzzed(String host, String method, String rawPath, String rawQuery, Map<String, List<String>> headerValues,
      InetAddress sourceAddress) implements RuleRequest {
    @Override
    public List<String> headers(String name) {
      for (Map.Entry<String, List<String>> e : headerValues.entrySet()) {
        if (e.getKey().equalsIgnoreCase(name)) {
          return e.getValue();
        }
      }
      return List.of();
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "5m")
  void matchArbitraryRequests(FuzzedDataProvider data) throws Exception {
    String host = data.consumeBoolean() ? null : data.consumeString(40);
    String method = data.pickValue(new String[] {"GET", "POST", "DELETE", "get", "", "X"});
    String rawPath = "/" + data.consumeString(120);
    String rawQuery = data.consumeBoolean() ? null : data.consumeString(60);
    Map<String, List<String>> headers = Map.of(data.pickValue(new String[] {"X-Canary", "x-canary", "Cookie"}),
        List.of(data.consumeString(20), data.consumeString(20)));
    InetAddress source = InetAddress.getByName(data.pickValue(new String[] {"10.1.2.3", "2001:db8::1", "127.0.0.1", "192.0.2.9"}));
    Fuzzed request = new Fuzzed(host, method, rawPath, rawQuery, headers, source);

    RequestPath path = RequestPath.parse(rawPath);
    if (!path.isRefused()) {
      String p = path.path();
      assertThat(p).startsWith("/").doesNotContain("//").doesNotContain(";").doesNotContain("\\");
      assertThat(p.chars().noneMatch(c -> c < 0x20 || c == 0x7F)).as(p).isTrue();
      for (String segment : p.substring(1).split("/", -1)) {
        assertThat(segment).as(p).isNotIn(".", "..");
      }
      if (p.indexOf('%') < 0) {
        assertThat(RequestPath.parse(p).path()).as("normal form reads back: " + p).isEqualTo(p);
      }
      Rule matched = rules.match(request, path);
      for (Rule rule : rules.rules()) {
        if (rule == matched) {
          break;
        }
        assertThat(rule.when().matches(request, path)).as("rule %d matches before %s", rule.priority(), matched).isFalse();
      }
      if (matched != null) {
        assertThat(matched.when().matches(request, path)).isTrue();
      }
    }

    CookieSource noCookies = CookieSource.empty();
    Attempt attempt = forwarder.begin(noCookies, request, "127.0.0.1:8080", false, true);
    if (path.isRefused()) {
      assertThat(attempt.target()).isNull();
      assertThat(attempt.unavailable().status()).isEqualTo(400);
    } else if (attempt.target() == null) {
      Attempt.Next answer = attempt.unavailable();
      assertThat(answer.status()).isIn(200, 301, 403);
      if (answer.location() != null) {
        assertThat(answer.location()).doesNotContain("\r").doesNotContain("\n").startsWith("http");
      }
    } else {
      assertThat(router.target(attempt.target().id())).isSameAs(attempt.target());
      attempt.finished();
    }
  }
}
