package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The YAML tree on its own: positions, typed getters, unknown keys; and the schema's key paths. */
class YamlNodeTest {
  private static YamlNode root(String yaml) {
    return YamlDocument.parse(yaml, "t.yaml");
  }

  @Test
  void everyNodeKnowsItsLineAndDottedPath() {
    YamlNode.Mapping top = root("""
        a:
          b:
            - { c: 1 }
            - c: PT5S
        """).map(Schema.keys("a"));
    YamlNode b = top.get("a").map(Schema.keys("b")).get("b");
    List<YamlNode> items = b.list();
    YamlNode second = items.get(1).map(Schema.keys("c")).get("c");
    assertThat(second.path()).isEqualTo("a.b[1].c");
    assertThat(second.line()).isEqualTo(4);
    assertThat(second.duration(Duration.ZERO, Duration.ofMinutes(1), "within a minute")).isEqualTo(Duration.ofSeconds(5));
    assertThat(items.get(0).map(Schema.keys("c")).get("c").integer(0, 9)).isEqualTo(1);
  }

  @Test
  void anUnknownNestedKeySuggestsTheNearestOneAndThePlaceToLook() {
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
            stickness: { type: duration }
        """, "t.yaml"));
    assertThat(e.getMessage()).isEqualTo("t.yaml:3: targetGroups[0].stickness: unknown key \"stickness\"; did you mean"
        + " \"stickiness\"? Allowed keys: name, algorithm, protocolVersion, stickiness, healthCheck, passiveHealth, upstream, slowStart,"
        + " deregistrationDelay, boundedLoad, targets, discovery, sharedSessions, tls (every key: docs/configuration.md)");
  }

  @Test
  void typedGettersNameTheValueAndTheRule() {
    YamlNode.Mapping m = root("n: 12\nb: maybe\ne: sticky\nd: 5m\n").map(Schema.keys("n", "b", "e", "d"));
    assertThat(assertThrows(ConfigException.class, () -> m.get("n").integer(0, 10)).getMessage())
        .isEqualTo("t.yaml:1: n: must be a whole number between 0 and 10, got 12");
    assertThat(assertThrows(ConfigException.class, () -> m.get("b").bool()).getMessage())
        .isEqualTo("t.yaml:2: b: must be true or false, got \"maybe\"");
    assertThat(assertThrows(ConfigException.class, () -> m.get("e").enumValue(StickinessConfig.Type.class)).getMessage())
        .isEqualTo("t.yaml:3: e: must be one of none, duration, application, header, got \"sticky\"");
    assertThat(assertThrows(ConfigException.class, () -> m.get("d").duration(Duration.ZERO, Duration.ofDays(1), "x")).getMessage())
        .isEqualTo("t.yaml:4: d: must be an ISO-8601 duration such as PT30S, PT5M or P1D, or a whole number of seconds, got \"5m\"");
    assertThat(assertThrows(ConfigException.class, () -> m.get("n").list()).getMessage())
        .isEqualTo("t.yaml:1: n: must be a list, got \"12\"");
  }

  @Test
  void coreRulesAreReportedAtTheValueThatBrokeThem() {
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
            targets:
              - { id: "blue 1", uri: "http://127.0.0.1:9001" }
        """, "t.yaml"));
    assertThat(e.getMessage()).isEqualTo(
        "t.yaml:4: targetGroups[0].targets[0].id: target id must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"blue 1\"");
  }

  @Test
  void theSchemaListsEveryKeyAsADottedPath() {
    assertThat(BalancerConfigLoader.acceptedKeys())
        .contains("listen", "listen.tls.keystore", "keys[].secret", "targetGroups[].stickiness.duration",
            "targetGroups[].targets[].weight", "targetGroups[].boundedLoad.factor", "forward[].group",
            "groupStickiness.duration", "upstream.directRelay")
        .doesNotContain("targetGroups.name", "stickiness");
    assertThat(Schema.keys("a", "b").map("b", Schema.keys("c")).paths()).containsExactly("a", "b", "b.c");
    assertThrows(IllegalArgumentException.class, () -> Schema.keys("a").map("b", Schema.keys("c")));
  }
}
