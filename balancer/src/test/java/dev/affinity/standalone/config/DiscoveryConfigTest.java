package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code targetGroups[].discovery}: each key read, defaults, and refusals with file, line and key. That
 * each key takes effect against a real DNS server is {@code DnsDiscoveryTest}'s.
 */
class DiscoveryConfigTest {
  private static String group(String lines) {
    return "targetGroups:\n"
        + "  - name: blue\n"
        + lines;
  }

  private static DiscoveryConfig parse(String discovery) {
    return BalancerConfigLoader.parse(group("    discovery: " + discovery + "\n"), "balancer.yaml").targetGroups().get(0).discovery();
  }

  @Test
  void absentMeansNoDiscovery() {
    TargetGroupConfig g = BalancerConfigLoader.parse(group("    targets: []\n"), "balancer.yaml").targetGroups().get(0);
    assertThat(g.discovery()).isNull();
  }

  @Test
  void theDefaults() {
    DiscoveryConfig d = parse("{ dns: Web.Service.Internal., port: 8080 }");
    assertThat(d).isEqualTo(new DiscoveryConfig("web.service.internal", DiscoveryConfig.Type.A, 8080, "http", Duration.ofSeconds(5),
        Duration.ofSeconds(2), List.of(), Duration.ofSeconds(30)));
  }

  @Test
  void eachKeyIsRead() {
    assertThat(parse("{ dns: api.service.internal, type: SRV }").type()).isEqualTo(DiscoveryConfig.Type.SRV);
    assertThat(parse("{ dns: api.service.internal, type: srv }").port()).isZero();
    assertThat(parse("{ dns: api.internal, type: aaaa, port: 443 }").type()).isEqualTo(DiscoveryConfig.Type.AAAA);
    assertThat(parse("{ dns: api.internal, port: 9000 }").port()).isEqualTo(9000);
    assertThat(parse("{ dns: api.internal, port: 443, scheme: HTTPS }").scheme()).isEqualTo("https");
    assertThat(parse("{ dns: api.internal, port: 80, interval: PT30S }").interval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(parse("{ dns: api.internal, port: 80, timeout: PT0.5S }").timeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(parse("{ dns: api.internal, port: 80, hold: { nx: PT2M } }").holdNx()).isEqualTo(Duration.ofMinutes(2));
    assertThat(parse("{ dns: api.internal, port: 80, hold: { nx: PT0S } }").holdNx()).isZero();
    assertThat(parse("{ dns: api.internal, port: 80, resolvers: [ \"127.0.0.1:5353\", 10.0.0.2, \"[fd00::53]:5353\", \"fd00::54\" ] }")
        .resolvers()).containsExactly(new InetSocketAddress("127.0.0.1", 5353), new InetSocketAddress("10.0.0.2", 53),
            new InetSocketAddress("fd00::53", 5353), new InetSocketAddress("fd00::54", 53));
  }

  @Test
  void staticTargetsAreAllowedBesideDiscovery() {
    TargetGroupConfig g = BalancerConfigLoader.parse(group("    targets: [ { id: blue-1, uri: \"http://127.0.0.1:9001\" } ]\n"
        + "    discovery: { dns: blue.internal, port: 9001 }\n"), "balancer.yaml").targetGroups().get(0);
    assertThat(g.targets()).hasSize(1);
    assertThat(g.discovery().dns()).isEqualTo("blue.internal");
    assertThat(g.withTargets(List.of()).discovery()).as("runtime targets keep the group's discovery").isEqualTo(g.discovery());
  }

  static Stream<Arguments> badValues() {
    String k = "targetGroups[0].discovery";
    return Stream.of(
        arguments("{ port: 80 }", k + ".dns", "is required (the DNS name to ask"),
        arguments("{ dns: \"bad..name\", port: 80 }", k + ".dns", "is not a DNS name"),
        arguments("{ dns: api.internal }", k + ".port", "is required (the targets' port, as A records carry none)"),
        arguments("{ dns: api.internal, port: 0 }", k + ".port", "between 1 and 65535"),
        arguments("{ dns: api.internal, type: SRV, port: 80 }", k + ".port", "refused with type SRV"),
        arguments("{ dns: api.internal, type: MX, port: 80 }", k + ".type", "must be one of A, AAAA, SRV, got \"MX\""),
        arguments("{ dns: api.internal, port: 80, scheme: ftp }", k + ".scheme", "must be http or https"),
        arguments("{ dns: api.internal, port: 80, interval: PT0.5S }", k + ".interval", "between PT1S and 1 hour"),
        arguments("{ dns: api.internal, port: 80, timeout: PT0S }", k + ".timeout", "between PT0.01S and PT30S"),
        arguments("{ dns: api.internal, port: 80, interval: PT2S, timeout: PT2S }", k + ".timeout", "must be shorter than interval"),
        arguments("{ dns: api.internal, port: 80, resolvers: [] }", k + ".resolvers", "must list 1-8 resolvers"),
        arguments("{ dns: api.internal, port: 80, resolvers: [ dns.google ] }", k + ".resolvers[0]", "IP address"),
        arguments("{ dns: api.internal, port: 80, resolvers: [ \"127.0.0.1:99999\" ] }", k + ".resolvers[0]", "port 1-65535"),
        arguments("{ dns: api.internal, port: 80, hold: { nx: P2D } }", k + ".hold.nx", "between PT0S and 1 day"),
        arguments("{ dns: api.internal, port: 80, hold: {} }", k + ".hold.nx", "is required"),
        arguments("{ dns: api.internal, port: 80, hold: { servfail: PT1M } }", k + ".hold.servfail", "unknown key"),
        arguments("{ dns: api.internal, port: 80, ttl: PT5S }", k + ".ttl", "unknown key"),
        arguments("api.internal", k, "must be a map"));
  }

  @ParameterizedTest(name = "{1}: {2}")
  @MethodSource("badValues")
  void badValuesAreRefusedWithFileLineAndKey(String discovery, String keyPath, String problem) {
    ConfigException e = assertThrows(ConfigException.class,
        () -> BalancerConfigLoader.parse(group("    discovery: " + discovery + "\n"), "balancer.yaml"));
    assertThat(e.line()).as(e.getMessage()).isEqualTo(3);
    assertThat(e.keyPath()).as(e.getMessage()).isEqualTo(keyPath);
    assertThat(e.getMessage()).startsWith("balancer.yaml:3: " + keyPath + ": ").contains(problem);
  }
}
