package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import dev.affinity.balancer.PassiveHealth;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code targetGroups[].passiveHealth} and {@code targetGroups[].upstream}: each key read, defaults, and refusals with file, line and key. */
class PassiveHealthConfigTest {
  private static String group(String lines) {
    return "targetGroups:\n"
        + "  - name: blue\n"
        + lines
        + "    targets:\n"
        + "      - { id: blue-1, uri: \"http://127.0.0.1:9001\" }\n";
  }

  private static TargetGroupConfig parse(String lines) {
    return BalancerConfigLoader.parse(group(lines), "balancer.yaml").targetGroups().get(0);
  }

  @Test
  void absentMeansOnWithTheDefaultsAndTheTopLevelTimeouts() {
    TargetGroupConfig g = parse("");
    assertThat(g.passiveHealth()).isEqualTo(PassiveHealth.defaults());
    assertThat(g.passiveHealth()).isEqualTo(new PassiveHealth(5, 3, Duration.ofSeconds(30), Duration.ofSeconds(300), 50));
    assertThat(g.upstreamTimeout()).isNull();
    assertThat(g.upstreamConnectTimeout()).isNull();
  }

  @Test
  void eachKeyIsRead() {
    assertThat(parse("    passiveHealth: { consecutive5xx: 7 }\n").passiveHealth().consecutive5xx()).isEqualTo(7);
    assertThat(parse("    passiveHealth: { consecutiveTimeouts: 2 }\n").passiveHealth().consecutiveTimeouts()).isEqualTo(2);
    assertThat(parse("    passiveHealth: { ejectFor: PT10S }\n").passiveHealth().ejectFor()).isEqualTo(Duration.ofSeconds(10));
    assertThat(parse("    passiveHealth: { maxEjectFor: PT2M }\n").passiveHealth().maxEjectFor()).isEqualTo(Duration.ofMinutes(2));
    assertThat(parse("    passiveHealth: { maxEjectedPercent: 34 }\n").passiveHealth().maxEjectedPercent()).isEqualTo(34);
    assertThat(parse("    passiveHealth: { enabled: true }\n").passiveHealth()).isEqualTo(PassiveHealth.defaults());
    assertThat(parse("    passiveHealth: { enabled: false }\n").passiveHealth()).isEqualTo(PassiveHealth.off());
    assertThat(parse("    passiveHealth: { enabled: false }\n").passiveHealth().enabled()).isFalse();
    assertThat(parse("    passiveHealth: { consecutive5xx: 0 }\n").passiveHealth().consecutive5xx()).as("timeouts only").isZero();
    // A long first ejection raises the default ceiling with it.
    assertThat(parse("    passiveHealth: { ejectFor: PT10M }\n").passiveHealth().maxEjectFor()).isEqualTo(Duration.ofMinutes(10));
    TargetGroupConfig all = parse("    passiveHealth: { consecutive5xx: 4, consecutiveTimeouts: 1, ejectFor: PT5S, maxEjectFor: PT20S,\n"
        + "                     maxEjectedPercent: 100 }\n");
    assertThat(all.passiveHealth()).isEqualTo(new PassiveHealth(4, 1, Duration.ofSeconds(5), Duration.ofSeconds(20), 100));
  }

  @Test
  void groupUpstreamOverridesEitherTimeout() {
    TargetGroupConfig both = parse("    upstream: { timeout: PT5S, connectTimeout: PT0.5S }\n");
    assertThat(both.upstreamTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(both.upstreamConnectTimeout()).isEqualTo(Duration.ofMillis(500));
    TargetGroupConfig timeout = parse("    upstream: { timeout: 7 }\n");
    assertThat(timeout.upstreamTimeout()).isEqualTo(Duration.ofSeconds(7));
    assertThat(timeout.upstreamConnectTimeout()).isNull();
    TargetGroupConfig connect = parse("    upstream: { connectTimeout: PT1S }\n");
    assertThat(connect.upstreamTimeout()).isNull();
    assertThat(connect.upstreamConnectTimeout()).isEqualTo(Duration.ofSeconds(1));
  }

  static Stream<Arguments> badValues() {
    return Stream.of(
        arguments("    passiveHealth: { consecutive5xx: -1 }\n", "targetGroups[0].passiveHealth.consecutive5xx", "between 0 and 1000"),
        arguments("    passiveHealth: { consecutive5xx: 1001 }\n", "targetGroups[0].passiveHealth.consecutive5xx", "between 0 and 1000"),
        arguments("    passiveHealth: { consecutiveTimeouts: many }\n", "targetGroups[0].passiveHealth.consecutiveTimeouts", "whole number"),
        arguments("    passiveHealth: { consecutive5xx: 0, consecutiveTimeouts: 0 }\n", "targetGroups[0].passiveHealth.consecutiveTimeouts",
            "cannot both be 0; to turn passive health off, write enabled: false"),
        arguments("    passiveHealth: { ejectFor: PT0S }\n", "targetGroups[0].passiveHealth.ejectFor", "between 1 second (PT1S) and 1 hour (PT1H), got PT0S"),
        arguments("    passiveHealth: { ejectFor: PT2H }\n", "targetGroups[0].passiveHealth.ejectFor", "got PT2H"),
        arguments("    passiveHealth: { ejectFor: PT1M, maxEjectFor: PT30S }\n", "targetGroups[0].passiveHealth.maxEjectFor",
            "must be between ejectFor (PT1M) and 1 day (P1D), got PT30S"),
        arguments("    passiveHealth: { maxEjectedPercent: 0 }\n", "targetGroups[0].passiveHealth.maxEjectedPercent", "between 1 and 100"),
        arguments("    passiveHealth: { maxEjectedPercent: 101 }\n", "targetGroups[0].passiveHealth.maxEjectedPercent", "between 1 and 100"),
        arguments("    passiveHealth: { enabled: false, ejectFor: PT5S }\n", "targetGroups[0].passiveHealth.ejectFor",
            "has no effect with enabled: false"),
        arguments("    passiveHealth: { enabled: maybe }\n", "targetGroups[0].passiveHealth.enabled", "true or false"),
        arguments("    passiveHealth: { consecutive_5xx: 5 }\n", "targetGroups[0].passiveHealth.consecutive_5xx", "unknown key"),
        arguments("    passiveHealth: 5\n", "targetGroups[0].passiveHealth", "must be a map"),
        arguments("    upstream: {}\n", "targetGroups[0].upstream", "must set timeout, connectTimeout or both"),
        arguments("    upstream: { timeout: PT0.01S }\n", "targetGroups[0].upstream.timeout", "between 100 milliseconds (PT0.1S) and 1 day (P1D)"),
        arguments("    upstream: { connectTimeout: PT6M }\n", "targetGroups[0].upstream.connectTimeout", "and 5 minutes (PT5M), got PT6M"),
        arguments("    upstream: { directRelay: false }\n", "targetGroups[0].upstream.directRelay", "unknown key"));
  }

  @ParameterizedTest(name = "{1}: {2}")
  @MethodSource("badValues")
  void badValuesAreRefusedWithFileLineAndKey(String lines, String keyPath, String problem) {
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(group(lines), "balancer.yaml"));
    assertThat(e.line()).as(e.getMessage()).isEqualTo(3);
    assertThat(e.keyPath()).as(e.getMessage()).isEqualTo(keyPath);
    assertThat(e.getMessage()).startsWith("balancer.yaml:3: " + keyPath + ": ").contains(problem);
  }
}
