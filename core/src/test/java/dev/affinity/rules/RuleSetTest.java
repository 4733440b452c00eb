package dev.affinity.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RuleSetTest {
  private static final dev.affinity.balancer.StickinessPolicy OPAQUE = dev.affinity.balancer.StickinessPolicy.header(null,
      dev.affinity.cookie.Expiry.sliding(java.time.Duration.ofMinutes(5)));

  private static Rule rule(int priority, Conditions when) {
    return Rule.builder(priority).when(when).action(new RuleAction.Forward(dev.affinity.balancer.Forward.to("g" + priority))).build();
  }

  private static Conditions path(String shorthand) {
    return Conditions.builder().paths(List.of(PathPattern.parse(shorthand))).build();
  }

  @Test
  void lowestPriorityNumberThatMatchesWinsWhateverTheOrderGiven() {
    Rule api = rule(10, Conditions.builder().host(List.of("api.example.com")).paths(List.of(PathPattern.parse("/v1/*"))).build());
    Rule anyV1 = rule(20, path("/v1/*"));
    Rule apiHost = rule(5, Conditions.builder().host(List.of("api.example.com")).methods(List.of("DELETE")).build());
    Rule wildcard = rule(30, Conditions.builder().host(List.of("*.example.com")).build());
    RuleSet rules = RuleSet.of(List.of(wildcard, anyV1, api, apiHost));
    assertThat(rules.rules()).containsExactly(apiHost, api, anyV1, wildcard);

    assertThat(rules.match(TestRequest.get("/v1/x").host("API.example.com:443"), RequestPath.parse("/v1/x"))).isSameAs(api);
    assertThat(rules.match(TestRequest.get("/v1/x").host("api.example.com").method("DELETE"), RequestPath.parse("/v1/x")))
        .isSameAs(apiHost);
    assertThat(rules.match(TestRequest.get("/v1/x").host("www.example.com"), RequestPath.parse("/v1/x"))).isSameAs(anyV1);
    assertThat(rules.match(TestRequest.get("/v2").host("www.example.com"), RequestPath.parse("/v2"))).isSameAs(wildcard);
    assertThat(rules.match(TestRequest.get("/v2").host("example.org"), RequestPath.parse("/v2"))).isNull();
    assertThat(rules.match(TestRequest.get("/v2").host(null), RequestPath.parse("/v2"))).isNull();
    assertThat(api.hits()).isEqualTo(1);
    assertThat(apiHost.hits()).isEqualTo(1);
    assertThat(anyV1.hits()).isEqualTo(1);
    assertThat(wildcard.hits()).isEqualTo(1);
  }

  @Test
  void aRefusedPathIsNeverMatched() {
    RuleSet rules = RuleSet.of(List.of(rule(1, path("/*"))));
    assertThatThrownBy(() -> rules.match(TestRequest.get("/../x"), RequestPath.parse("/../x")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dot segment");
  }

  @Test
  void emptyAndDuplicates() {
    assertThat(RuleSet.of(List.of()).match(TestRequest.get("/"), RequestPath.parse("/"))).isNull();
    assertThat(RuleSet.empty().rules()).isEmpty();
    Rule a = Rule.builder(7).name("api").when(path("/a")).action(new FixedResponse(200, null, "a")).build();
    Rule b = rule(7, path("/b"));
    assertThatThrownBy(() -> RuleSet.of(List.of(a, b))).hasMessage(
        "rules \"api\" and \"priority 7\" have the same priority 7; each rule needs its own");
  }

  @Test
  void ruleBuilder() {
    Rule r = Rule.builder(50_000).when(path("/shop/*")).action(new FixedResponse(404, null, null)).persistence(OPAQUE).build();
    assertThat(r.name()).isEqualTo("priority 50000");
    assertThat(r.responseHeaders()).isSameAs(ResponseHeaders.none());
    assertThat(r.persistence()).isSameAs(OPAQUE);
    assertThat(r.pathPrefixForCookies()).isEqualTo("/shop/");
    assertThat(rule(1, path("/login")).pathPrefixForCookies()).isEqualTo("/login");
    assertThat(rule(1, path("/img/*.png")).pathPrefixForCookies()).isEqualTo("/");
    assertThat(rule(1, path("/café/*")).pathPrefixForCookies()).as("a browser compares Path encoded").isEqualTo("/");
    assertThat(rule(1, Conditions.builder().methods(List.of("GET")).build()).pathPrefixForCookies()).isEqualTo("/");
    assertThat(rule(1, Conditions.builder().paths(List.of(PathPattern.parse("/a/*"), PathPattern.parse("/b/*"))).build())
        .pathPrefixForCookies()).isEqualTo("/");

    assertThatThrownBy(() -> Rule.builder(0)).hasMessage("rule priority must be between 1 and 50000, got 0");
    assertThatThrownBy(() -> Rule.builder(50_001)).hasMessageContaining("got 50001");
    assertThatThrownBy(() -> Rule.builder(3).when(path("/")).build()).isInstanceOf(IllegalStateException.class)
        .hasMessage("rule 3 has no action (forward, redirect or fixedResponse)");
    assertThatThrownBy(() -> Rule.builder(3).action(new FixedResponse(200, null, null)).build())
        .hasMessage("rule 3 has no conditions (when)");
    assertThatThrownBy(() -> Rule.builder(3).action(new FixedResponse(200, null, null)).action(new RuleAction.Forward(dev.affinity.balancer.Forward.to("x"))))
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("rule 3 action was already set to FixedResponse[");
    assertThatThrownBy(() -> Rule.builder(3).name(" ")).hasMessage("rule name must be non-blank text without control characters, got \" \"");
    assertThatThrownBy(() -> new RuleAction.Forward(null)).isInstanceOf(NullPointerException.class).hasMessage("forward");
  }

  /** The index only narrows the rules a request is checked against; the answer must be the linear scan's. */
  @Test
  void theIndexGivesExactlyWhatALinearScanGives() {
    String[] hostPatterns = {"a.example.com", "b.example.com", "i.example.com", "k.example.com", "*.example.com", "a.*", "?.example.com", "c.example.org",
        "A.Example.com"};
    String[] pathPatterns = {"/", "/v1", "/v1/x", "/v2", "/v1/*", "/*", "/v*", "/v1/*/x", "/*/x", "/v?/x", "/x"};
    String[] requestHosts = {"a.example.com", "A.EXAMPLE.COM:8080", "b.example.com.", "x.example.com", "a.org", null,
        "[::1]:80", "c.example.org", "example.com", "", "\u0131.example.com", "\u212A.example.com", "\u0130.example.com"};
    String[] requestPaths = {"/", "/v1", "/v1/", "/v1/x", "/v1/y/x", "/v2", "/v2/x", "/v10", "/x", "/a/x", "//v1//x",
        "/v1;p/x", "/%761/x", "/V1/x"};
    Random random = new Random(20);
    int compared = 0;
    int matched = 0;
    for (int set = 0; set < 400; set++) {
      int size = 1 + random.nextInt(30);
      List<Integer> priorities = new ArrayList<>();
      for (int p = 1; p <= 100; p++) {
        priorities.add(p);
      }
      Collections.shuffle(priorities, random);
      List<Rule> rules = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        Conditions.Builder c = Conditions.builder();
        boolean any = false;
        if (random.nextInt(3) > 0) {
          c.host(pick(random, hostPatterns, 1 + random.nextInt(2)));
          any = true;
        }
        if (random.nextInt(3) > 0) {
          List<PathPattern> paths = new ArrayList<>();
          for (String p : pick(random, pathPatterns, 1 + random.nextInt(2))) {
            paths.add(PathPattern.parse(p));
          }
          c.paths(paths);
          any = true;
        }
        if (random.nextInt(5) == 0) {
          c.methods(List.of(random.nextBoolean() ? "GET" : "POST"));
          any = true;
        }
        if (random.nextInt(6) == 0) {
          c.header("X-A", List.of(random.nextBoolean() ? "1" : "*"));
          any = true;
        }
        if (random.nextInt(6) == 0) {
          c.query("k", List.of("1"));
          any = true;
        }
        if (random.nextInt(6) == 0 || !any) {
          c.sourceIp(List.of("10.0.0.0/8"));
        }
        rules.add(rule(priorities.get(i), c.build()));
      }
      RuleSet ruleSet = RuleSet.of(rules);
      for (int r = 0; r < 60; r++) {
        TestRequest request = TestRequest.get(requestPaths[random.nextInt(requestPaths.length)])
            .host(requestHosts[random.nextInt(requestHosts.length)])
            .method(random.nextBoolean() ? "GET" : "POST")
            .query(random.nextBoolean() ? "k=1" : null)
            .source(random.nextBoolean() ? "10.0.0.1" : "192.0.2.1");
        if (random.nextBoolean()) {
          request.header("X-A", "1");
        }
        RequestPath path = request.path();
        Rule expected = ruleSet.matchByScan(request, path);
        assertThat(ruleSet.match(request, path)).as("%s against %s", request, ruleSet.rules()).isSameAs(expected);
        compared++;
        matched += expected == null ? 0 : 1;
      }
    }
    assertThat(compared).isEqualTo(400 * 60);
    // Both outcomes were exercised in quantity, so the comparison says something.
    assertThat(matched).isBetween(compared / 10, compared * 9 / 10);
  }

  private static List<String> pick(Random random, String[] pool, int count) {
    List<String> out = new ArrayList<>();
    while (out.size() < count) {
      String s = pool[random.nextInt(pool.length)];
      if (!out.contains(s)) {
        out.add(s);
      }
    }
    return out;
  }

  @Test
  void aRequestIsCheckedAgainstItsCandidatesOnly() {
    // 1000 rules on literal hosts; a request's candidates are its host's, not all 1000: counting
    // the conditions checked shows it (headers() is asked only of candidates that got that far).
    List<Rule> rules = new ArrayList<>();
    for (int i = 1; i <= 1000; i++) {
      rules.add(rule(i, Conditions.builder().host(List.of("h" + i + ".example.com")).header("X-A", List.of("1")).build()));
    }
    RuleSet set = RuleSet.of(rules);
    int[] asked = {0};
    TestRequest request = new TestRequest() {
      @Override
      public List<String> headers(String name) {
        asked[0]++;
        return List.of("1");
      }
    }.host("h500.example.com");
    assertThat(set.match(request, RequestPath.parse("/"))).isSameAs(set.rules().get(499));
    assertThat(asked[0]).isEqualTo(1);
  }

  private static void hit(RuleSet set, String path, int times) {
    for (int i = 0; i < times; i++) {
      set.match(TestRequest.get(path), RequestPath.parse(path));
    }
  }

  @Test
  void aReloadedRuleWithTheSamePriorityAndNameKeepsCountingFromTheOldOne() {
    Rule shop = Rule.builder(10).name("shop").when(path("/shop/*")).action(new FixedResponse(200, null, "s")).build();
    Rule unnamed = rule(20, path("/api/*"));
    Rule renamed = Rule.builder(30).name("old-name").when(path("/old/*")).action(new FixedResponse(200, null, "o")).build();
    Rule moved = Rule.builder(40).name("moved").when(path("/moved/*")).action(new FixedResponse(200, null, "m")).build();
    RuleSet before = RuleSet.of(List.of(shop, unnamed, renamed, moved));
    hit(before, "/shop/a", 3);
    hit(before, "/api/x", 2);
    hit(before, "/old/x", 4);
    hit(before, "/moved/x", 5);

    // The reloaded configuration: shop's path changed (same priority and name), the unnamed rule is the same,
    // 30 got a new name, "moved" a new priority.
    Rule shop2 = Rule.builder(10).name("shop").when(path("/store/*")).action(new FixedResponse(200, null, "s")).build();
    Rule unnamed2 = rule(20, path("/api/*"));
    Rule renamed2 = Rule.builder(30).name("new-name").when(path("/old/*")).action(new FixedResponse(200, null, "o")).build();
    Rule moved2 = Rule.builder(45).name("moved").when(path("/moved/*")).action(new FixedResponse(200, null, "m")).build();
    RuleSet after = RuleSet.of(List.of(shop2, unnamed2, renamed2, moved2));
    assertThat(after.carryHitsFrom(before)).isSameAs(after);
    assertThat(shop2.hits()).isEqualTo(3);
    assertThat(unnamed2.hits()).isEqualTo(2);
    assertThat(renamed2.hits()).isZero();
    assertThat(moved2.hits()).isZero();

    hit(after, "/store/b", 1);
    assertThat(shop2.hits()).isEqualTo(4);
    // Carrying again takes the previous count anew: nothing is counted twice.
    after.carryHitsFrom(before);
    assertThat(shop2.hits()).isEqualTo(4);
    // A second reload carries the carried hits on.
    Rule shop3 = Rule.builder(10).name("shop").when(path("/store/*")).action(new FixedResponse(200, null, "s")).build();
    RuleSet third = RuleSet.of(List.of(shop3)).carryHitsFrom(after);
    assertThat(shop3.hits()).isEqualTo(4);
    // The same rule object in both sets is left alone, and the old set's own counts did not change.
    assertThat(RuleSet.of(List.of(shop3)).carryHitsFrom(third).rules().get(0).hits()).isEqualTo(4);
    assertThat(shop.hits()).isEqualTo(3);
    assertThat(RuleSet.empty().carryHitsFrom(before).rules()).isEmpty();
    assertThatThrownBy(() -> after.carryHitsFrom(null)).isInstanceOf(NullPointerException.class).hasMessage("previous");
  }
}
