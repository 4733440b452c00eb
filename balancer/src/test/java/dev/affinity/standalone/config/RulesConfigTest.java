package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.RuleAction;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code rules}, {@code listeners[].rules} and {@code defaultAction}: what loads, and every bad rule refused with file, line and key. */
class RulesConfigTest {
  /** Two groups; rules start at line 7. */
  static final String GROUPS = """
      targetGroups:
        - name: web
          targets: [ { id: web-1, uri: "http://127.0.0.1:9001" } ]
        - name: api
          protocolVersion: HTTP2
          targets: [ { id: api-1, uri: "http://127.0.0.1:9002" } ]
      """;

  @Test
  void theIssuesExampleLoads() {
    BalancerConfig config = BalancerConfigLoader.parse(GROUPS + """
        rules:
          - priority: 10
            when: { host: "api.*", path: "/v1/*" }
            forward: [ { group: api, weight: 1 } ]
            persistence: { type: header, sessionName: X-Affinity-Session }
          - priority: 20
            when: { path: "/old/*" }
            redirect: { status: 301, path: "/new/#{path}" }
          - priority: 30
            when: { path: /maintenance }
            fixedResponse: { status: 503, contentType: text/plain, body: "back soon" }
        defaultAction: { forward: { groups: [ { group: web } ], stickiness: { duration: PT1H } } }
        """, "r.yaml");
    assertThat(config.rules()).extracting(RuleConfig::priority).containsExactly(10, 20, 30);
    RuleConfig api = config.rules().get(0);
    assertThat(api.action()).isInstanceOf(RuleAction.Forward.class);
    assertThat(((RuleAction.Forward) api.action()).forward().weights()).containsEntry("api", 1);
    assertThat(api.persistence().toPolicy().type()).isEqualTo(StickinessPolicy.Type.HEADER);
    assertThat(api.line()).isEqualTo(8);
    assertThat(config.rules().get(1).action()).isEqualTo(new Redirect(301, null, null, null, "/new/#{path}", null));
    assertThat(config.rules().get(2).action()).isEqualTo(new FixedResponse(503, "text/plain", "back soon"));
    assertThat(((RuleAction.Forward) config.defaultAction()).forward().groupStickiness()).isNotNull();
  }

  @Test
  void aListenersOwnRulesAreKeptUnderItsName() {
    BalancerConfig config = BalancerConfigLoader.parse("""
        listeners:
          - { host: 127.0.0.1, port: 8080, rules: [ { priority: 1, when: { path: "/admin/*" }, fixedResponse: { status: 403 } } ] }
          - { host: 127.0.0.1, port: 8081 }
        """ + GROUPS, "r.yaml");
    assertThat(config.listenerRules()).containsOnlyKeys("127.0.0.1:8080");
    assertThat(config.rules()).isEmpty();
  }

  static Stream<Arguments> badRules() {
    return Stream.of(
        arguments("unknown group", GROUPS + "rules:\n  - priority: 1\n    when: { path: /x }\n    forward: [ { group: mobile } ]\n",
            10, "rules[0].forward[0].group", "\"mobile\" is not a target group; the groups are web, api"),
        arguments("unknown group in map form", GROUPS + "rules:\n  - priority: 1\n    when: { path: /x }\n    forward: { groups: [ { group: x } ] }\n",
            10, "rules[0].forward.groups[0].group", "\"x\" is not a target group"),
        arguments("duplicate priority", GROUPS + """
            rules:
              - { priority: 5, when: { path: /a }, fixedResponse: { status: 404 } }
              - { priority: 5, when: { path: /b }, fixedResponse: { status: 410 } }
            """, 9, "rules[1].priority", "priority 5 is already used at line 8 (rules[0].priority)"),
        arguments("priority out of range", GROUPS + "rules:\n  - { priority: 0, when: { path: /x }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].priority", "between 1 and 50000"),
        arguments("no priority", GROUPS + "rules:\n  - { when: { path: /x }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].priority", "is required"),
        arguments("two actions", GROUPS + """
            rules:
              - priority: 1
                when: { path: /x }
                forward: [ { group: web } ]
                fixedResponse: { status: 404 }
            """, 11, "rules[0].fixedResponse", "a rule takes exactly one action, but it also has forward (line 10)"),
        arguments("no action", GROUPS + "rules:\n  - { priority: 1, when: { path: /x } }\n",
            8, "rules[0]", "a rule needs one action: forward, redirect or fixedResponse"),
        arguments("no condition", GROUPS + "rules:\n  - { priority: 1, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when", "is required (at least one condition"),
        arguments("empty when", GROUPS + "rules:\n  - { priority: 1, when: {}, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when", "a rule needs at least one condition"),
        arguments("bad glob", GROUPS + "rules:\n  - { priority: 1, when: { path: \"v1/*\" }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.path", "must start with '/'"),
        arguments("two path kinds", GROUPS + "rules:\n  - { priority: 1, when: { path: { exact: /a, prefix: /b/ } }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.path", "must have exactly one of exact, prefix or glob"),
        arguments("bad host", GROUPS + "rules:\n  - { priority: 1, when: { host: \"api_.example\" }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.host", "api_.example"),
        arguments("bad method", GROUPS + "rules:\n  - { priority: 1, when: { method: get }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.method", "method must be upper-case"),
        arguments("bad header name", GROUPS + "rules:\n  - { priority: 1, when: { headers: { \"X Bad\": \"1\" } }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.headers.X Bad", "header condition name must be an HTTP token"),
        arguments("bad cidr", GROUPS + "rules:\n  - { priority: 1, when: { sourceIp: [ 10.0.0.1/8 ] }, fixedResponse: { status: 404 } }\n",
            8, "rules[0].when.sourceIp", "10.0.0.1/8"),
        arguments("bad template", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, redirect: { path: \"/new/#{paht}\" } }\n",
            8, "rules[0].redirect", "#{paht}"),
        arguments("unclosed template", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, redirect: { host: \"#{host\" } }\n",
            8, "rules[0].redirect", "#{host"),
        arguments("redirect loop", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, redirect: { status: 302 } }\n",
            8, "rules[0].redirect", "a loop"),
        arguments("redirect status", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, redirect: { status: 305, path: /x } }\n",
            8, "rules[0].redirect", "redirect status must be one of [301, 302, 303, 307, 308], got 305"),
        arguments("fixed body too long", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, fixedResponse: { status: 200, body: \"" + "x".repeat(1025) + "\" } }\n",
            8, "rules[0].fixedResponse.body", "at most 1024 characters"),
        arguments("fixed content type", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, fixedResponse: { status: 200, contentType: image/png } }\n",
            8, "rules[0].fixedResponse.contentType", "fixedResponse contentType must be one of"),
        arguments("persistence on a redirect", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, redirect: { path: /x }, persistence: { type: header } }\n",
            8, "rules[0].persistence", "applies only to a rule that forwards"),
        arguments("persistence mixing", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, forward: [ { group: web } ], persistence: { type: cookie, idleTimeout: PT5M, duration: PT1H } }\n",
            8, "rules[0].persistence.duration", "cannot be combined with idleTimeout"),
        arguments("header change with CR", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, fixedResponse: { status: 200 }, responseHeaders: { add: { X-A: \"a\\rb\" } } }\n",
            8, "rules[0].responseHeaders", "may not hold CR, LF"),
        arguments("removing a framing header", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, fixedResponse: { status: 200 }, responseHeaders: { remove: [ Content-Length ] } }\n",
            8, "rules[0].responseHeaders", "Content-Length"),
        arguments("duplicate name", GROUPS + """
            rules:
              - { priority: 1, name: a, when: { path: /a }, fixedResponse: { status: 404 } }
              - { priority: 2, name: a, when: { path: /b }, fixedResponse: { status: 404 } }
            """, 9, "rules[1].name", "name \"a\" is already used at line 8"),
        arguments("unknown rule key", GROUPS + "rules:\n  - { priority: 1, when: { path: /x }, fixedResponse: { status: 404 }, action: x }\n",
            8, "rules[0].action", "unknown key \"action\""),
        arguments("default action beside forward", GROUPS + "forward: [ { group: web } ]\ndefaultAction: { fixedResponse: { status: 404 } }\n",
            8, "defaultAction", "cannot be used together with forward (line 7)"),
        arguments("default action with two actions", GROUPS + "defaultAction: { fixedResponse: { status: 404 }, redirect: { path: /x } }\n",
            7, "defaultAction.fixedResponse", "a defaultAction takes exactly one action, but it also has redirect"));
  }

  @Test
  void rulesOnARedirectListenerAreRefused(@TempDir Path files) throws Exception {
    TlsFiles.writeTo(files);
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse("""
        listeners:
          - { port: 8443, tls: { certificates: [ { cert: site.crt, key: site.key } ] } }
          - { port: 8080, redirectToHttps: 8443, rules: [ { priority: 1, when: { path: /x }, fixedResponse: { status: 404 } } ] }
        """ + GROUPS, "balancer.yaml", files));
    assertThat(e.getMessage()).startsWith("balancer.yaml:3: listeners[1].rules: would never apply");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRules")
  void badRulesAreRefusedWithFileLineAndKey(String name, String yaml, int line, String keyPath, String problem) {
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(yaml, "balancer.yaml"));
    assertThat(e.keyPath()).as("key path of: %s", e.getMessage()).isEqualTo(keyPath);
    assertThat(e.line()).as("line of: %s", e.getMessage()).isEqualTo(line);
    assertThat(e.getMessage()).startsWith("balancer.yaml:" + line + ": " + keyPath + ": ").contains(problem);
  }
}
