package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import dev.affinity.balancer.TrustedProxies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BalancerConfigLoaderTest {
  static final String K1 = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=";
  static final String K2 = "qYc0yJ5m8Vw7M3hJX1b3Qe5yQyNnR9kJ2dE2l5tVq9Y=";
  static final String SHORT_SECRET = "AAECAwQFBgcICQoLDA0ODw=="; // 16 bytes

  /** DESIGN.md's example, with real secrets in place of the placeholders. */
  static final String DESIGN_EXAMPLE = """
      listen: { host: 127.0.0.1, port: 8080 }      # optional tls: { keystore, password }
      keys:                                         # first one seals; all open
        - { id: k2, secret: "%s" }
        - { id: k1, secret: "%s" }
      cookies: { prefix: AFFINITY, cors: true, sameSite: Lax, secure: auto, maxShardBytes: 4096, maxTotalBytes: 16384 }
      targetGroups:
        - name: blue
          algorithm: round_robin
          stickiness: { type: duration, duration: PT1H, sliding: true }
          # or { type: application, cookie: JSESSIONID, duration: PT1H }, or { type: none }
          healthCheck: { path: /health, interval: PT5S, timeout: PT2S, healthyThreshold: 2, unhealthyThreshold: 2 }
          slowStart: PT30S
          deregistrationDelay: PT300S
          boundedLoad: { factor: 1.25 }             # optional; off by default
          targets:
            - { id: blue-1, uri: "http://127.0.0.1:9001", weight: 1 }
            - { id: blue-2, uri: "http://127.0.0.1:9002" }
        - name: green
          targets: [ { id: green-1, uri: "http://127.0.0.1:9101" } ]
      forward:
        - { group: blue, weight: 90 }
        - { group: green, weight: 10 }
      groupStickiness: { duration: PT24H }          # optional; omit for none
      admin: { path: /affinity }                     # status page, JSON, metrics, target admin
      websocket: { maxMessageBytes: 1048576, idleTimeout: PT5M }
      """.formatted(K2, K1);

  static final String MINIMAL = """
      targetGroups:
        - name: blue
          targets:
            - { id: blue-1, uri: "http://127.0.0.1:9001" }
      """;

  @Test
  void designExampleParsesWithEveryFieldAsWritten() {
    BalancerConfig config = BalancerConfigLoader.parse(DESIGN_EXAMPLE, "balancer.yaml");

    assertThat(config.listen()).isEqualTo(new Listen("127.0.0.1", 8080, null));
    assertThat(config.keys()).containsExactly(new KeyConfig("k2", K2), new KeyConfig("k1", K1));
    assertThat(config.keyring()).hasValueSatisfying(k -> {
      assertThat(k.primaryId()).isEqualTo("k2");
      assertThat(k.ids()).containsExactly("k2", "k1");
    });
    assertThat(config.cookies()).isEqualTo(new CookieConfig("AFFINITY", true, SameSite.LAX, SecureMode.AUTO, 4096, 16384));
    CookiePolicy policy = config.cookies().toPolicy();
    assertThat(policy.cors()).isTrue();
    assertThat(policy.maxTotalBytes()).isEqualTo(16384);

    assertThat(config.targetGroups()).hasSize(2);
    TargetGroupConfig blue = config.targetGroups().get(0);
    assertThat(blue.name()).isEqualTo("blue");
    assertThat(blue.algorithm()).isEqualTo("round_robin");
    assertThat(blue.stickiness()).isEqualTo(new StickinessConfig(StickinessConfig.Type.DURATION, Duration.ofHours(1), Expiry.Mode.SLIDING, null));
    assertThat(blue.healthCheck()).isEqualTo(new HealthCheckConfig(true, "/health", Duration.ofSeconds(5), Duration.ofSeconds(2), 2, 2, 200, 399));
    assertThat(blue.slowStart()).isEqualTo(Duration.ofSeconds(30));
    assertThat(blue.deregistrationDelay()).isEqualTo(Duration.ofSeconds(300));
    assertThat(blue.boundedLoadFactor()).isEqualTo(1.25);
    assertThat(blue.targets()).containsExactly(
        new TargetConfig("blue-1", URI.create("http://127.0.0.1:9001"), 1),
        new TargetConfig("blue-2", URI.create("http://127.0.0.1:9002"), 1));

    TargetGroupConfig green = config.targetGroups().get(1);
    assertThat(green.name()).isEqualTo("green");
    assertThat(green.algorithm()).isEqualTo("round_robin");
    assertThat(green.stickiness()).isEqualTo(StickinessConfig.none());
    assertThat(green.healthCheck()).isEqualTo(HealthCheckConfig.defaults());
    assertThat(green.boundedLoadFactor()).isNull();
    assertThat(green.targets()).containsExactly(new TargetConfig("green-1", URI.create("http://127.0.0.1:9101"), 1));

    assertThat(config.forward()).containsExactly(new ForwardConfig("blue", 90), new ForwardConfig("green", 10));
    assertThat(config.groupStickiness()).isEqualTo(Duration.ofHours(24));
    assertThat(config.admin()).isEqualTo(new AdminConfig("/affinity", true, null));
    assertThat(config.websocket()).isEqualTo(new WebSocketConfig(1048576, Duration.ofMinutes(5)));
    assertThat(config.targetGroup("green")).contains(green);
  }

  @Test
  void exampleFileParses() {
    BalancerConfig config = BalancerConfigLoader.load(Path.of("balancer.example.yaml"));
    assertThat(config.targetGroups()).extracting(TargetGroupConfig::name).containsExactly("blue", "green");
    assertThat(config.targetGroups().get(0).targets()).extracting(t -> t.uri().getPort()).containsExactly(9001, 9002, 9003);
    assertThat(config.targetGroups().get(0).healthCheck().matcherHigh()).isEqualTo(399);
    assertThat(config.keyring()).isPresent();
    assertThat(config.forward()).hasSize(2);
    assertThat(config.groupStickiness()).isEqualTo(Duration.ofHours(24));
  }

  @Test
  void defaults() {
    BalancerConfig config = BalancerConfigLoader.parse(MINIMAL, "min.yaml");

    assertThat(config.listen()).isEqualTo(new Listen("127.0.0.1", 8080, null));
    assertThat(config.keys()).isEmpty();
    assertThat(config.keyring()).isEmpty();
    assertThat(config.cookies()).isEqualTo(new CookieConfig("AFFINITY", false, SameSite.LAX, SecureMode.AUTO, 4096, 16384));
    TargetGroupConfig group = config.targetGroups().get(0);
    assertThat(group.algorithm()).isEqualTo("round_robin");
    assertThat(group.stickiness()).isEqualTo(new StickinessConfig(StickinessConfig.Type.NONE, Duration.ofHours(1), Expiry.Mode.SLIDING, null));
    assertThat(group.healthCheck()).isEqualTo(new HealthCheckConfig(true, "/", Duration.ofSeconds(10), Duration.ofSeconds(5), 2, 2, 200, 399));
    assertThat(group.slowStart()).isEqualTo(Duration.ZERO);
    assertThat(group.deregistrationDelay()).isEqualTo(Duration.ofSeconds(300));
    assertThat(group.boundedLoadFactor()).isNull();
    assertThat(group.targets()).containsExactly(new TargetConfig("blue-1", URI.create("http://127.0.0.1:9001"), 1));
    assertThat(config.forward()).containsExactly(new ForwardConfig("blue", 1));
    assertThat(config.groupStickiness()).isNull();
    assertThat(config.admin()).isEqualTo(new AdminConfig("/affinity", true, null));
    assertThat(config.websocket()).isEqualTo(new WebSocketConfig(1024 * 1024, Duration.ofMinutes(5)));
    assertThat(config.upstream()).isEqualTo(new UpstreamConfig(Duration.ofSeconds(60), Duration.ofSeconds(2), true));
    assertThat(config.trustedProxies()).isEqualTo(TrustedProxies.none());
    assertThat(config.listen().proxyProtocol()).isFalse();
  }

  @Test
  void trustedProxiesShorthandAndLongForm() {
    BalancerConfig shorthand = BalancerConfigLoader.parse(MINIMAL + "trustedProxies: [ 127.0.0.1/32, 10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7 ]\n", "t.yaml");
    assertThat(shorthand.trustedProxies()).isEqualTo(TrustedProxies.of("127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"));
    assertThat(shorthand.trustedProxies().header()).isEqualTo(TrustedProxies.Header.X_FORWARDED_FOR);
    assertThat(shorthand.trustedProxies().recursive()).isTrue();

    BalancerConfig longForm = BalancerConfigLoader.parse(MINIMAL
        + "trustedProxies: { cidrs: [ 10.0.0.0/8 ], header: forwarded, recursive: false }\n", "t.yaml");
    assertThat(longForm.trustedProxies()).isEqualTo(
        TrustedProxies.builder().cidr("10.0.0.0/8").header(TrustedProxies.Header.FORWARDED).recursive(false).build());

    BalancerConfig none = BalancerConfigLoader.parse(MINIMAL + "trustedProxies: []\n", "t.yaml");
    assertThat(none.trustedProxies().isEmpty()).isTrue();

    BalancerConfig proxied = BalancerConfigLoader.parse("listen: { port: 8080, proxyProtocol: true }\ntrustedProxies: [ 10.0.0.0/8 ]\n"
        + MINIMAL, "t.yaml");
    assertThat(proxied.listen()).isEqualTo(new Listen("127.0.0.1", 8080, null, true));
  }

  @Test
  void http2Keys() {
    BalancerConfig config = BalancerConfigLoader.parse("listen: { port: 8080, http2: false }\n"
        + MINIMAL.replace("  - name: blue\n", "  - name: blue\n    protocolVersion: HTTP2\n"), "h2.yaml");
    assertThat(config.listen()).isEqualTo(new Listen("127.0.0.1", 8080, null, null, false, false));
    assertThat(config.targetGroups().get(0).protocolVersion()).isEqualTo(dev.affinity.balancer.TargetProtocol.HTTP2);
    BalancerConfig defaults = BalancerConfigLoader.parse(MINIMAL, "min.yaml");
    assertThat(defaults.listen().http2()).isTrue();
    assertThat(defaults.targetGroups().get(0).protocolVersion()).isEqualTo(dev.affinity.balancer.TargetProtocol.HTTP1);
    assertThat(BalancerConfigLoader.parse(MINIMAL.replace("  - name: blue\n", "  - name: blue\n    protocolVersion: http1\n"), "l.yaml")
        .targetGroups().get(0).protocolVersion()).isEqualTo(dev.affinity.balancer.TargetProtocol.HTTP1);
  }

  @Test
  void grpcKeys() {
    BalancerConfig config = BalancerConfigLoader.parse(MINIMAL.replace("  - name: blue\n",
        "  - name: blue\n    protocolVersion: GRPC\n    healthCheck: { grpcService: shop.v1.Cart, interval: PT3S, timeout: PT1S }\n"), "g.yaml");
    TargetGroupConfig group = config.targetGroups().get(0);
    assertThat(group.protocolVersion()).isEqualTo(dev.affinity.balancer.TargetProtocol.GRPC);
    assertThat(group.healthCheck().grpcService()).isEqualTo("shop.v1.Cart");
    assertThat(group.healthCheck().interval()).isEqualTo(java.time.Duration.ofSeconds(3));
    // Absent: "", the server as a whole (grpc.health.v1's convention).
    BalancerConfig whole = BalancerConfigLoader.parse(MINIMAL.replace("  - name: blue\n", "  - name: blue\n    protocolVersion: grpc\n"), "w.yaml");
    assertThat(whole.targetGroups().get(0).protocolVersion()).isEqualTo(dev.affinity.balancer.TargetProtocol.GRPC);
    assertThat(whole.targetGroups().get(0).healthCheck().grpcService()).isEmpty();
  }

  @Test
  void limitsSection() {
    assertThat(BalancerConfigLoader.parse(MINIMAL, "l.yaml").limits()).isEqualTo(dev.affinity.jetty.Limits.defaults());
    BalancerConfig config = BalancerConfigLoader.parse(MINIMAL
        + "limits: { idleTimeout: PT45S, requestHeaderTimeout: PT5S, maxConnections: 500, maxRequestHeaderBytes: 16_384,\n"
        + "          maxRequestBodyBytes: 10_000_000_000, threads: 64, h2MaxConcurrentStreams: 32 }\n", "l.yaml");
    assertThat(config.limits()).isEqualTo(dev.affinity.jetty.Limits.builder().idleTimeout(Duration.ofSeconds(45))
        .requestHeaderTimeout(Duration.ofSeconds(5)).maxConnections(500).maxRequestHeaderBytes(16_384)
        .maxRequestBodyBytes(10_000_000_000L).threads(64).h2MaxConcurrentStreams(32).build());
    // One key alone leaves the others at their defaults.
    assertThat(BalancerConfigLoader.parse(MINIMAL + "limits: { maxRequestBodyBytes: 0 }\n", "l.yaml").limits())
        .isEqualTo(dev.affinity.jetty.Limits.builder().maxRequestBodyBytes(0).build());
  }

  @Test
  void accessLogSection() {
    assertThat(BalancerConfigLoader.parse(MINIMAL, "a.yaml").accessLog()).isEqualTo(AccessLogConfig.off());
    assertThat(BalancerConfigLoader.parse(MINIMAL + "accessLog: {}\n", "a.yaml").accessLog())
        .isEqualTo(new AccessLogConfig("json", null, 7));
    assertThat(BalancerConfigLoader.parse(MINIMAL + "accessLog: { format: Combined, to: stdout }\n", "a.yaml").accessLog())
        .isEqualTo(new AccessLogConfig("combined", null, 7));
    AccessLogConfig file = BalancerConfigLoader.parse(MINIMAL + "accessLog: { to: /tmp/affinity-access.log, maxHistory: 30 }\n",
        "a.yaml").accessLog();
    assertThat(file).isEqualTo(new AccessLogConfig("json", java.nio.file.Path.of("/tmp/affinity-access.log"), 30));
    assertThat(BalancerConfigLoader.parse(MINIMAL + "accessLog: { format: off }\n", "a.yaml").accessLog().enabled()).isFalse();
  }

  @Test
  void shutdownSection() {
    assertThat(BalancerConfigLoader.parse(MINIMAL, "s.yaml").shutdown()).isEqualTo(dev.affinity.jetty.GracefulShutdown.defaults());
    assertThat(BalancerConfigLoader.parse(MINIMAL + "shutdown: { grace: PT45S, unreadyDelay: PT10S }\n", "s.yaml").shutdown())
        .isEqualTo(new dev.affinity.jetty.GracefulShutdown(Duration.ofSeconds(45), Duration.ofSeconds(10)));
    // One key alone leaves the other at its default; a whole number is seconds; PT0S cuts at once.
    assertThat(BalancerConfigLoader.parse(MINIMAL + "shutdown: { unreadyDelay: 5 }\n", "s.yaml").shutdown())
        .isEqualTo(new dev.affinity.jetty.GracefulShutdown(Duration.ofSeconds(30), Duration.ofSeconds(5)));
    assertThat(BalancerConfigLoader.parse(MINIMAL + "shutdown: { grace: PT0S }\n", "s.yaml").shutdown())
        .isEqualTo(new dev.affinity.jetty.GracefulShutdown(Duration.ZERO, Duration.ZERO));
  }

  @Test
  void warmupSection() {
    // On by default: the starts that matter are the ones into load (docs/configuration.md, "warmup").
    assertThat(BalancerConfigLoader.parse(MINIMAL, "w.yaml").warmup()).isEqualTo(WarmupConfig.defaults());
    assertThat(WarmupConfig.defaults().enabled()).isTrue();
    assertThat(BalancerConfigLoader.parse(MINIMAL + "warmup: { enabled: false }\n", "w.yaml").warmup().enabled()).isFalse();
    assertThat(BalancerConfigLoader.parse(MINIMAL + "warmup: { requests: 30_000, timeout: PT5S }\n", "w.yaml").warmup())
        .isEqualTo(new WarmupConfig(true, 30_000, Duration.ofSeconds(5)));
    // One key alone leaves the others at their defaults; a whole number is seconds.
    assertThat(BalancerConfigLoader.parse(MINIMAL + "warmup: { timeout: 3 }\n", "w.yaml").warmup())
        .isEqualTo(new WarmupConfig(true, WarmupConfig.DEFAULT_REQUESTS, Duration.ofSeconds(3)));
  }

  @Test
  void upstreamSection() {
    BalancerConfig config = BalancerConfigLoader.parse(MINIMAL
        + "upstream: { timeout: PT4M, connectTimeout: PT0.5S, directRelay: false }\n", "up.yaml");
    assertThat(config.upstream()).isEqualTo(new UpstreamConfig(Duration.ofMinutes(4), Duration.ofMillis(500), false));
  }

  @Test
  void sealReuseCanBeTurnedOff() {
    BalancerConfig config = BalancerConfigLoader.parse("cookies: { sealReuse: false }\n" + MINIMAL, "reuse.yaml");
    assertThat(config.cookies().sealReuse()).isFalse();
    assertThat(config.cookies().toPolicy().sealReuse()).isFalse();
    assertThat(BalancerConfigLoader.parse("cookies: { sealReuse: true }\n" + MINIMAL, "reuse.yaml").cookies().toPolicy().sealReuse()).isTrue();
  }

  @Test
  void alternativeSpellings() {
    BalancerConfig config = BalancerConfigLoader.parse("""
        listen: { host: 0.0.0.0, port: 0 }
        cookies: { sameSite: none, secure: always, prefix: LB }
        targetGroups:
          - name: app
            algorithm: WEIGHTED_RANDOM
            stickiness: { type: application, cookie: JSESSIONID, duration: 600, sliding: false }
            healthCheck: { enabled: false, matcher: 200, interval: 30, timeout: PT0.5S }
            deregistrationDelay: 0
            targets:
              - { id: a, uri: "HTTPS://backend.internal:8443/", weight: 0 }
              - { id: b, uri: "http://[::1]:9000", weight: "5" }
          - name: other
            stickiness: { type: duration, browserSession: true, duration: P7D }
        admin: { path: /ops/lb, loopbackOnly: false, port: 9090 }
        websocket: { maxMessageBytes: 65_536, idleTimeout: 3600 }
        """, "alt.yaml");
    assertThat(config.listen()).isEqualTo(new Listen("0.0.0.0", 0, null));
    assertThat(config.cookies().sameSite()).isEqualTo(SameSite.NONE);
    assertThat(config.cookies().secure()).isEqualTo(SecureMode.ALWAYS);
    assertThat(config.cookies().prefix()).isEqualTo("LB");
    assertThat(config.cookies().sealReuse()).as("default").isTrue();
    assertThat(config.cookies().toPolicy().sealReuse()).isTrue();
    TargetGroupConfig app = config.targetGroups().get(0);
    assertThat(app.algorithm()).isEqualTo("weighted_random");
    assertThat(app.stickiness()).isEqualTo(new StickinessConfig(StickinessConfig.Type.APPLICATION, Duration.ofMinutes(10), Expiry.Mode.FIXED, "JSESSIONID"));
    assertThat(app.stickiness().toExpiry().mode()).isEqualTo(Expiry.Mode.FIXED);
    assertThat(app.healthCheck()).isEqualTo(new HealthCheckConfig(false, "/", Duration.ofSeconds(30), Duration.ofMillis(500), 2, 2, 200, 200));
    assertThat(app.deregistrationDelay()).isZero();
    assertThat(app.targets()).containsExactly(
        new TargetConfig("a", URI.create("https://backend.internal:8443"), 0),
        new TargetConfig("b", URI.create("http://[::1]:9000"), 5));
    assertThat(config.targetGroups().get(1).stickiness().expiry()).isEqualTo(Expiry.Mode.BROWSER_SESSION);
    assertThat(config.targetGroups().get(1).stickiness().duration()).isEqualTo(Duration.ofDays(7));
    assertThat(config.admin()).isEqualTo(new AdminConfig("/ops/lb", false, 9090));
    assertThat(config.websocket()).isEqualTo(new WebSocketConfig(65536, Duration.ofHours(1)));
  }

  @Test
  void aliasesOfWholeMapsWork() {
    BalancerConfig config = BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
            healthCheck: &hc { path: /ready, interval: PT3S, timeout: PT1S }
            targets: [ { id: b1, uri: "http://127.0.0.1:9001" } ]
          - name: green
            healthCheck: *hc
            targets: [ { id: g1, uri: "http://127.0.0.1:9101" } ]
        """, "alias.yaml");
    assertThat(config.targetGroups().get(1).healthCheck().path()).isEqualTo("/ready");
  }

  @Test
  void mergeKeysWork() {
    BalancerConfig config = BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
            healthCheck: &hc { path: /health, interval: PT3S, timeout: PT1S }
          - name: green
            healthCheck:
              <<: *hc
              path: /ready
        """, "merge.yaml");
    assertThat(config.targetGroups().get(1).healthCheck())
        .isEqualTo(new HealthCheckConfig(true, "/ready", Duration.ofSeconds(3), Duration.ofSeconds(1), 2, 2, 200, 399));
  }

  @Test
  void secretsAreNotPrinted() {
    BalancerConfig config = BalancerConfigLoader.parse(DESIGN_EXAMPLE, "balancer.yaml");
    assertThat(config.toString()).doesNotContain(K1).doesNotContain(K2);
    assertThat(new TlsConfig("ks.p12", "hunter2").toString()).doesNotContain("hunter2");
  }

  static Stream<Arguments> badFiles() {
    return Stream.of(
        // name, yaml, line, key path, problem fragment
        arguments("empty file", "", 0, "", "the file is empty"),
        arguments("only comments", "# nothing here\n\n", 0, "", "the file is empty"),
        arguments("top level is a list", "- listen\n- targetGroups\n", 1, "", "the top level must be a map of settings"),
        arguments("top level is a string", "hello\n", 1, "", "the top level must be a map of settings"),
        arguments("unknown top-level key with suggestion", """
            listen: { port: 8080 }
            targetGroup:
              - name: blue
            """, 2, "targetGroup",
            "unknown key \"targetGroup\"; did you mean \"targetGroups\"? Allowed keys: listen, listeners, keys, cookies, targetGroups, forward, groupStickiness, admin, websocket, upstream, trustedProxies, limits, accessLog, shutdown"),
        arguments("targetGroups missing", "listen: { port: 8080 }\n", 1, "targetGroups", "is required"),
        arguments("targetGroups empty", "targetGroups: []\n", 1, "targetGroups", "must list at least one target group"),
        arguments("targetGroups is a map", """
            targetGroups:
              name: blue
            """, 2, "targetGroups", "must be a list, got a map"),
        arguments("group without name", """
            targetGroups:
              - algorithm: round_robin
                targets: []
            """, 2, "targetGroups[0].name", "is required"),
        arguments("bad group name", """
            targetGroups:
              - name: "blue green"
            """, 2, "targetGroups[0].name", "must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"blue green\""),
        arguments("duplicate group name", """
            targetGroups:
              - name: blue
                targets: [ { id: b1, uri: "http://127.0.0.1:9001" } ]
              - name: blue
            """, 4, "targetGroups[1].name", "target group \"blue\" is already defined at line 2"),
        arguments("target id used in two groups", """
            targetGroups:
              - name: blue
                targets: [ { id: t1, uri: "http://127.0.0.1:9001" } ]
              - name: green
                targets:
                  - { id: t2, uri: "http://127.0.0.1:9002" }
                  - { id: t1, uri: "http://127.0.0.1:9003" }
            """, 7, "targetGroups[1].targets[1].id",
            "target id \"t1\" is already used at line 3 (targetGroups[0].targets[0].id); ids must be unique across all groups"),
        arguments("target without uri", """
            targetGroups:
              - name: blue
                targets:
                  - id: blue-1
            """, 4, "targetGroups[0].targets[0].uri", "is required"),
        arguments("ftp uri", """
            targetGroups:
              - name: blue
                targets: [ { id: b1, uri: "http://127.0.0.1:9001" } ]
              - name: green
                targets:
                  - { id: g1, uri: "ftp://x" }
            """, 6, "targetGroups[1].targets[0].uri", "\"ftp://x\" must be an http or https URI with host and port"),
        arguments("uri without port", MINIMAL.replace("http://127.0.0.1:9001", "http://127.0.0.1"), 4,
            "targetGroups[0].targets[0].uri", "\"http://127.0.0.1\" must be an http or https URI with host and port"),
        arguments("uri with path", MINIMAL.replace("http://127.0.0.1:9001", "http://127.0.0.1:9001/app?x=1"), 4,
            "targetGroups[0].targets[0].uri", "must be only scheme://host:port, without path, query, fragment or user info"),
        arguments("weight above 999", MINIMAL.replace(" }", ", weight: 1000 }"), 4,
            "targetGroups[0].targets[0].weight", "must be a whole number between 0 and 999, got 1000"),
        arguments("weight not a number", MINIMAL.replace(" }", ", weight: heavy }"), 4,
            "targetGroups[0].targets[0].weight", "must be a whole number between 0 and 999, got \"heavy\""),
        arguments("stickiness duration zero", """
            targetGroups:
              - name: blue
                stickiness:
                  type: duration
                  duration: PT0S
            """, 5, "targetGroups[0].stickiness.duration",
            "must be between 1 second (PT1S) and 7 days (P7D), got PT0S"),
        arguments("stickiness duration eight days", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, duration: P8D }
            """, 3, "targetGroups[0].stickiness.duration",
            "must be between 1 second (PT1S) and 7 days (P7D), got PT192H"),
        arguments("stickiness type unknown", """
            targetGroups:
              - name: blue
                stickiness: { type: session }
            """, 3, "targetGroups[0].stickiness.type",
            "must be one of duration (alias cookie), application, header, none; got \"session\""),
        arguments("idle timeout beside duration", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, idleTimeout: PT30M, duration: PT1H }
            """, 3, "targetGroups[0].stickiness.duration", "cannot be combined with idleTimeout"),
        arguments("absolute timeout beside sliding", """
            targetGroups:
              - name: blue
                stickiness:
                  type: cookie
                  absoluteTimeout: PT8H
                  sliding: false
            """, 6, "targetGroups[0].stickiness.sliding", "cannot be combined with absoluteTimeout"),
        arguments("idle timeout of zero", """
            targetGroups:
              - name: blue
                stickiness: { type: header, idleTimeout: PT0S }
            """, 3, "targetGroups[0].stickiness.idleTimeout", "must be between 1 second (PT1S) and 7 days (P7D), got PT0S"),
        arguments("lifetime on a header", """
            targetGroups:
              - name: blue
                stickiness: { type: header, lifetime: session }
            """, 3, "targetGroups[0].stickiness.lifetime", "applies only to cookie persistence"),
        arguments("lifetime unknown", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, lifetime: forever }
            """, 3, "targetGroups[0].stickiness.lifetime", "must be permanent (the cookie has Max-Age, the default) or session"),
        arguments("lifetime beside browserSession", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, browserSession: true, lifetime: session }
            """, 3, "targetGroups[0].stickiness.lifetime", "cannot be combined with browserSession"),
        arguments("session name not a token", """
            targetGroups:
              - name: blue
                stickiness: { type: header, sessionName: "X Session" }
            """, 3, "targetGroups[0].stickiness.sessionName", "session name is not a valid"),
        arguments("strict not a boolean", """
            targetGroups:
              - name: blue
                stickiness: { type: header, strict: maybe }
            """, 3, "targetGroups[0].stickiness.strict", "must be true or false"),
        arguments("strict on none", """
            targetGroups:
              - name: blue
                stickiness: { strict: true }
            """, 3, "targetGroups[0].stickiness.strict", "applies only to stickiness types duration, application or header"),
        arguments("cookie on duration", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, cookie: SID }
            """, 3, "targetGroups[0].stickiness.cookie", "to name the balancer's own cookie, use sessionName"),
        arguments("application stickiness without cookie", """
            targetGroups:
              - name: blue
                stickiness:
                  type: application
                  duration: PT1H
            """, 4, "targetGroups[0].stickiness.cookie", "is required"),
        arguments("application cookie not a cookie name", """
            targetGroups:
              - name: blue
                stickiness: { type: application, cookie: "JSESSION ID" }
            """, 3, "targetGroups[0].stickiness.cookie", "application cookie name is not a valid cookie name"),
        arguments("duration on stickiness none", """
            targetGroups:
              - name: blue
                stickiness:
                  duration: PT1H
            """, 4, "targetGroups[0].stickiness.duration",
            "applies only to stickiness types duration, application or header, but type is none (the default)"),
        arguments("fixed browser session", """
            targetGroups:
              - name: blue
                stickiness: { type: duration, sliding: false, browserSession: true }
            """, 3, "targetGroups[0].stickiness.sliding", "must not be false with browserSession: true"),
        arguments("typo in group key", """
            targetGroups:
              - name: blue
                strickiness: { type: duration }
            """, 3, "targetGroups[0].strickiness", "unknown key \"strickiness\"; did you mean \"stickiness\"?"),
        arguments("stickiness is a string", """
            targetGroups:
              - name: blue
                stickiness: duration
            """, 3, "targetGroups[0].stickiness",
            "must be a map of type, duration, sliding, browserSession, cookie, sessionName, idleTimeout, absoluteTimeout, lifetime, strict, got \"duration\""),
        arguments("targets is a string", """
            targetGroups:
              - name: blue
                targets: blue-1
            """, 3, "targetGroups[0].targets", "must be a list, got \"blue-1\""),
        arguments("listen is a list", "listen: [127.0.0.1, 8080]\n" + MINIMAL, 1, "listen",
            "must be a map of host, port, tls, proxyProtocol, http2, got a list"),
        arguments("listen has no value", "listen:\n" + MINIMAL, 1, "listen",
            "must be a map of host, port, tls, proxyProtocol, http2, got no value (remove the key to use the defaults)"),
        arguments("trusted proxy not an address", "trustedProxies:\n  - 10.0.0.0/8\n  - proxy.internal\n" + MINIMAL, 3,
            "trustedProxies[1]", "trusted proxy must be an IPv4 or IPv6 address with an optional /prefix"),
        arguments("trusted proxy host bits", "trustedProxies: { cidrs: [ 10.0.0.1/8 ] }\n" + MINIMAL, 1,
            "trustedProxies.cidrs[0]", "has host bits set below its /8 prefix; write the block as 10.0.0.0/8"),
        arguments("trusted proxy prefix", "trustedProxies: [ \"::/129\" ]\n" + MINIMAL, 1,
            "trustedProxies[0]", "trusted proxy prefix must be between 0 and 128 for IPv6"),
        arguments("trusted proxy header", "trustedProxies:\n  cidrs: [ 10.0.0.0/8 ]\n  header: X-Real-IP\n" + MINIMAL, 3,
            "trustedProxies.header", "must be X-Forwarded-For or Forwarded, got \"X-Real-IP\""),
        arguments("trusted proxies without cidrs", "trustedProxies: { header: Forwarded }\n" + MINIMAL, 1,
            "trustedProxies.cidrs", "is required"),
        arguments("trusted proxies a string", "trustedProxies: 10.0.0.0/8\n" + MINIMAL, 1,
            "trustedProxies", "must be a list"),
        arguments("proxyProtocol without trusted proxies", "listen:\n  port: 8080\n  proxyProtocol: true\n" + MINIMAL, 3,
            "listen.proxyProtocol", "needs trustedProxies: a PROXY header is accepted only from a trusted proxy"),
        arguments("proxyProtocol with an empty list", "listen: { proxyProtocol: true }\ntrustedProxies: []\n" + MINIMAL, 1,
            "listen.proxyProtocol", "needs trustedProxies"),
        arguments("proxyProtocol not a boolean", "listen: { proxyProtocol: v2 }\n" + MINIMAL, 1,
            "listen.proxyProtocol", "must be true or false, got \"v2\""),
        arguments("listen port too big", "listen: { port: 70000 }\n" + MINIMAL, 1, "listen.port",
            "must be a whole number between 0 and 65535, got 70000"),
        arguments("tls without password", "listen:\n  tls:\n    keystore: ks.p12\n" + MINIMAL, 3, "listen.tls.password", "is required"),
        arguments("timeout not below interval", """
            targetGroups:
              - name: blue
                healthCheck:
                  interval: PT5S
                  timeout: PT5S
            """, 5, "targetGroups[0].healthCheck.timeout", "must be shorter than the interval (PT5S), got PT5S"),
        arguments("interval below default timeout", """
            targetGroups:
              - name: blue
                healthCheck:
                  interval: PT3S
            """, 4, "targetGroups[0].healthCheck.interval", "must be longer than the timeout (PT5S, the default"),
        arguments("matcher list", """
            targetGroups:
              - name: blue
                healthCheck: { matcher: "200,204" }
            """, 3, "targetGroups[0].healthCheck.matcher",
            "must be one HTTP status (\"200\") or a range (\"200-399\") within 100-599, got \"200,204\""),
        arguments("matcher reversed", """
            targetGroups:
              - name: blue
                healthCheck: { matcher: "399-200" }
            """, 3, "targetGroups[0].healthCheck.matcher", "got \"399-200\""),
        arguments("healthy threshold 11", """
            targetGroups:
              - name: blue
                healthCheck:
                  path: /health
                  healthyThreshold: 11
            """, 5, "targetGroups[0].healthCheck.healthyThreshold", "must be a whole number between 1 and 10, got 11"),
        arguments("health path without slash", """
            targetGroups:
              - name: blue
                healthCheck: { path: health }
            """, 3, "targetGroups[0].healthCheck.path", "must start with / and hold only URI path and query characters"),
        arguments("bounded load factor 1.0", """
            targetGroups:
              - name: blue
                boundedLoad: { factor: 1.0 }
            """, 3, "targetGroups[0].boundedLoad.factor", "must be above 1.0 and at most 100, got \"1.0\""),
        arguments("bounded load without factor", """
            targetGroups:
              - name: blue
                boundedLoad: {}
            """, 3, "targetGroups[0].boundedLoad.factor", "is required"),
        arguments("slow start not a duration", """
            targetGroups:
              - name: blue
                slowStart: 30s
            """, 3, "targetGroups[0].slowStart",
            "must be an ISO-8601 duration such as PT30S, PT5M or P1D, or a whole number of seconds, got \"30s\""),
        arguments("negative deregistration delay", """
            targetGroups:
              - name: blue
                deregistrationDelay: -PT1S
            """, 3, "targetGroups[0].deregistrationDelay", "must be between PT0S and 1 hour (PT1H), got PT-1S"),
        arguments("algorithm unknown", """
            targetGroups:
              - name: blue
                algorithm: random
            """, 3, "targetGroups[0].algorithm",
            "must be one of round_robin, least_outstanding_requests, weighted_random, got \"random\""),
        arguments("forward to missing group", MINIMAL + """
            forward:
              - { group: blue, weight: 90 }
              - { group: gren, weight: 10 }
            """, 7, "forward[1].group", "\"gren\" is not a target group; the groups are blue"),
        arguments("forward weights all zero", MINIMAL + """
            forward:
              - { group: blue, weight: 0 }
            """, 6, "forward", "every weight is 0"),
        arguments("forward weight 1000", MINIMAL + "forward: [ { group: blue, weight: 1000 } ]\n", 5,
            "forward[0].weight", "must be a whole number between 0 and 999, got 1000"),
        arguments("forward group twice", MINIMAL + "forward:\n  - { group: blue }\n  - { group: blue }\n", 7,
            "forward[1].group", "group \"blue\" is already listed at line 6 (forward[0].group)"),
        arguments("admin path root", "admin: { path: / }\n" + MINIMAL, 1, "admin.path", "must start with / and not be /"),
        arguments("admin path relative", MINIMAL + "admin:\n  path: affinity\n", 6, "admin.path", "got \"affinity\""),
        arguments("admin port same as listener", "listen: { port: 8080 }\nadmin: { port: 8080 }\n" + MINIMAL, 2, "admin.port",
            "must differ from listen.port (8080)"),
        arguments("key secret too short", "keys:\n  - { id: k1, secret: \"" + SHORT_SECRET + "\" }\n" + MINIMAL, 2,
            "keys[0].secret", "secret of key \"k1\" must be 32 bytes"),
        arguments("key secret not base64", "keys:\n  - id: k1\n    secret: \"not base64!\"\n" + MINIMAL, 3,
            "keys[0].secret", "secret of key \"k1\" is not valid base64"),
        arguments("key id twice", "keys:\n  - { id: k1, secret: \"" + K1 + "\" }\n  - { id: k1, secret: \"" + K2 + "\" }\n" + MINIMAL, 3,
            "keys[1].id", "key id \"k1\" was already added"),
        arguments("key id too long", "keys:\n  - { id: " + "k".repeat(33) + ", secret: \"" + K1 + "\" }\n" + MINIMAL, 2,
            "keys[0].id", "key id must be 1-32 characters"),
        arguments("keys empty list", "keys: []\n" + MINIMAL, 1, "keys", "lists no key"),
        arguments("key without secret", "keys:\n  - id: k1\n" + MINIMAL, 2, "keys[0].secret", "is required"),
        arguments("sameSite unknown", "cookies:\n  sameSite: Loose\n" + MINIMAL, 2, "cookies.sameSite",
            "sameSite must be one of Strict, Lax, None; got \"Loose\""),
        arguments("sameSite none with secure never", "cookies:\n  sameSite: None\n  secure: never\n" + MINIMAL, 3, "cookies.secure",
            "sameSite None requires Secure"),
        arguments("shard bytes too small", "cookies: { maxShardBytes: 100 }\n" + MINIMAL, 1, "cookies.maxShardBytes",
            "maxShardBytes must be between 512 and 4096"),
        arguments("bad cookie prefix", "cookies: { prefix: \"AFF-INITY\" }\n" + MINIMAL, 1, "cookies.prefix",
            "cookie prefix must be 1-64 characters of A-Z a-z 0-9 _, got \"AFF-INITY\""),
        arguments("cors not a boolean", "cookies: { cors: yes }\n" + MINIMAL, 1, "cookies.cors", "must be true or false, got \"yes\""),
        arguments("sealReuse not a boolean", "cookies: { sealReuse: sometimes }\n" + MINIMAL, 1, "cookies.sealReuse",
            "must be true or false, got \"sometimes\""),
        arguments("duplicate key", "listen:\n  port: 8080\n  host: 127.0.0.1\n  port: 8081\n" + MINIMAL, 4, "listen.port",
            "duplicate key; \"port\" is already set at line 2"),
        arguments("duplicate top-level key", MINIMAL + "targetGroups: []\n", 5, "targetGroups", "duplicate key"),
        arguments("group stickiness without duration", MINIMAL + "groupStickiness: {}\n", 5, "groupStickiness.duration", "is required"),
        arguments("group stickiness too long", MINIMAL + "groupStickiness: { duration: P30D }\n", 5, "groupStickiness.duration",
            "must be between 1 second (PT1S) and 7 days (P7D), got PT720H"),
        arguments("websocket idle timeout zero", MINIMAL + "websocket: { idleTimeout: 0 }\n", 5, "websocket.idleTimeout",
            "must be between 1 second (PT1S) and 1 day (P1D), got PT0S"),
        arguments("websocket message too large", MINIMAL + "websocket:\n  maxMessageBytes: 1000000000\n", 6,
            "websocket.maxMessageBytes", "must be a whole number between 125 and 67108864, got 1000000000"),
        // Below a control frame's payload the proxy itself refuses it: refused here, with the line.
        arguments("websocket message smaller than a control frame", MINIMAL + "websocket:\n  maxMessageBytes: 124\n", 6,
            "websocket.maxMessageBytes", "must be a whole number between 125 and 67108864, got 124"),
        arguments("upstream timeout zero", MINIMAL + "upstream: { timeout: 0 }\n", 5, "upstream.timeout",
            "must be between 100 milliseconds (PT0.1S) and 1 day (P1D), got PT0S"),
        arguments("upstream connect timeout too long", MINIMAL + "upstream:\n  connectTimeout: PT1H\n", 6, "upstream.connectTimeout",
            "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M), got PT1H"),
        arguments("upstream directRelay not a boolean", MINIMAL + "upstream: { directRelay: maybe }\n", 5, "upstream.directRelay",
            "must be true or false, got \"maybe\""),
        arguments("upstream unknown key", MINIMAL + "upstream: { idleTimeout: PT1M }\n", 5, "upstream.idleTimeout",
            "unknown key \"idleTimeout\""),
        arguments("limits threads too few", MINIMAL + "limits: { threads: 4 }\n", 5, "limits.threads",
            "must be a whole number between 8 and 10000, got 4"),
        arguments("limits negative body", MINIMAL + "limits:\n  maxRequestBodyBytes: -1\n", 6, "limits.maxRequestBodyBytes",
            "must be a whole number between 0 and 9223372036854775806, got -1"),
        arguments("limits body not a number", MINIMAL + "limits: { maxRequestBodyBytes: 10MB }\n", 5, "limits.maxRequestBodyBytes",
            "got \"10MB\""),
        arguments("limits header timeout zero", MINIMAL + "limits: { requestHeaderTimeout: 0 }\n", 5, "limits.requestHeaderTimeout",
            "must be between 100 milliseconds (PT0.1S) and 1 hour (PT1H), got PT0S"),
        arguments("limits idle timeout too long", MINIMAL + "limits: { idleTimeout: P2D }\n", 5, "limits.idleTimeout",
            "must be between 100 milliseconds (PT0.1S) and 1 day (P1D), got PT48H"),
        arguments("limits no connections", MINIMAL + "limits: { maxConnections: 0 }\n", 5, "limits.maxConnections",
            "must be a whole number between 1 and 1000000, got 0"),
        arguments("limits tiny header", MINIMAL + "limits: { maxRequestHeaderBytes: 100 }\n", 5, "limits.maxRequestHeaderBytes",
            "must be a whole number between 1024 and 1048576, got 100"),
        arguments("limits no streams", MINIMAL + "limits: { h2MaxConcurrentStreams: 0 }\n", 5, "limits.h2MaxConcurrentStreams",
            "must be a whole number between 1 and 10000, got 0"),
        arguments("limits unknown key", MINIMAL + "limits: { maxBodyBytes: 1 }\n", 5, "limits.maxBodyBytes",
            "unknown key \"maxBodyBytes\" Allowed keys: idleTimeout, requestHeaderTimeout, maxConnections"),
        arguments("accessLog format unknown", MINIMAL + "accessLog: { format: clf }\n", 5, "accessLog.format",
            "must be off, json or combined, got \"clf\""),
        arguments("accessLog to a missing directory", MINIMAL + "accessLog: { to: /no/such/dir/access.log }\n", 5, "accessLog.to",
            "the directory of \"/no/such/dir/access.log\" does not exist"),
        arguments("accessLog maxHistory with stdout", MINIMAL + "accessLog: { to: stdout, maxHistory: 3 }\n", 5, "accessLog.maxHistory",
            "applies to a log file only"),
        arguments("accessLog off with a destination", MINIMAL + "accessLog: { format: off, to: stdout }\n", 5, "accessLog.to",
            "has no effect with format: off"),
        arguments("accessLog maxHistory zero", MINIMAL + "accessLog: { to: /tmp/a.log, maxHistory: 0 }\n", 5, "accessLog.maxHistory",
            "must be a whole number between 1 and 3650, got 0"),
        arguments("shutdown grace too long", MINIMAL + "shutdown: { grace: PT2H }\n", 5, "shutdown.grace",
            "must be between 0 (PT0S: cut at once) and 1 hour (PT1H), got PT2H"),
        arguments("shutdown grace negative", MINIMAL + "shutdown: { grace: PT-1S }\n", 5, "shutdown.grace",
            "must be between 0 (PT0S: cut at once) and 1 hour (PT1H), got PT-1S"),
        arguments("shutdown unready delay not shorter than the grace", MINIMAL + "shutdown:\n  grace: PT10S\n  unreadyDelay: PT10S\n", 7,
            "shutdown.unreadyDelay", "must be shorter than shutdown.grace (PT10S), which counts from the stop and includes it, got PT10S"),
        arguments("shutdown unready delay with the default grace", MINIMAL + "shutdown: { unreadyDelay: PT31S }\n", 5,
            "shutdown.unreadyDelay", "must be shorter than shutdown.grace (PT30S)"),
        arguments("shutdown unready delay too long", MINIMAL + "shutdown: { grace: PT1H, unreadyDelay: PT10M }\n", 5,
            "shutdown.unreadyDelay", "must be between 0 (PT0S) and 5 minutes (PT5M), got PT10M"),
        arguments("shutdown unknown key", MINIMAL + "shutdown: { timeout: PT10S }\n", 5, "shutdown.timeout",
            "unknown key \"timeout\""),
        arguments("warmup requests zero", MINIMAL + "warmup: { requests: 0 }\n", 5, "warmup.requests",
            "must be a whole number between 1 and 10000000, got 0"),
        arguments("warmup timeout zero", MINIMAL + "warmup: { timeout: PT0S }\n", 5, "warmup.timeout",
            "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M), got PT0S"),
        arguments("warmup timeout too long", MINIMAL + "warmup: { timeout: PT1H }\n", 5, "warmup.timeout",
            "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M), got PT1H"),
        arguments("warmup enabled not a boolean", MINIMAL + "warmup: { enabled: yes please }\n", 5, "warmup.enabled",
            "must be true or false"),
        arguments("warmup unknown key", MINIMAL + "warmup: { seconds: 5 }\n", 5, "warmup.seconds",
            "unknown key \"seconds\""),
        arguments("listen http2 not a boolean", "listen: { http2: h2c }\n" + MINIMAL, 1, "listen.http2", "must be true or false, got \"h2c\""),
        arguments("protocolVersion unknown", MINIMAL.replace("  - name: blue\n", "  - name: blue\n    protocolVersion: HTTP3\n"),
            3, "targetGroups[0].protocolVersion", "must be one of HTTP1, HTTP2, GRPC, got \"HTTP3\""),
        arguments("healthCheck path in a GRPC group", MINIMAL.replace("  - name: blue\n",
                "  - name: blue\n    protocolVersion: GRPC\n    healthCheck: { path: /health }\n"),
            4, "targetGroups[0].healthCheck.path", "does not apply to a GRPC group: its health check is the call grpc.health.v1.Health/Check"),
        arguments("healthCheck matcher in a GRPC group", MINIMAL.replace("  - name: blue\n",
                "  - name: blue\n    protocolVersion: grpc\n    healthCheck:\n      matcher: \"200\"\n"),
            5, "targetGroups[0].healthCheck.matcher", "does not apply to a GRPC group"),
        arguments("healthCheck grpcService in an HTTP group", MINIMAL.replace("  - name: blue\n",
                "  - name: blue\n    protocolVersion: HTTP2\n    healthCheck: { grpcService: shop.Cart }\n"),
            4, "targetGroups[0].healthCheck.grpcService", "applies only to a group with protocolVersion: GRPC (this one is HTTP2)"),
        arguments("healthCheck grpcService in a group without protocolVersion", MINIMAL.replace("  - name: blue\n",
                "  - name: blue\n    healthCheck: { grpcService: shop.Cart }\n"),
            3, "targetGroups[0].healthCheck.grpcService", "applies only to a group with protocolVersion: GRPC (this one is HTTP1)"),
        arguments("healthCheck grpcService not a service name", MINIMAL.replace("  - name: blue\n",
                "  - name: blue\n    protocolVersion: GRPC\n    healthCheck: { grpcService: \"shop/Cart\" }\n"),
            4, "targetGroups[0].healthCheck.grpcService", "must be a gRPC service name such as my.package.Cart"),
        arguments("custom tag", "listen: { host: !env HOST }\n" + MINIMAL, 1, "listen.host", "uses the YAML tag !env"),
        arguments("merge key", "base: &b { port: 1 }\n" + MINIMAL, 1, "base", "unknown key \"base\""),
        arguments("error inside a merged map names the anchor's line", """
            targetGroups:
              - name: blue
                healthCheck: &hc { path: /health, healthyThreshold: 0 }
              - name: green
                healthCheck:
                  <<: *hc
                  path: /ready
            """, 3, "targetGroups[0].healthCheck.healthyThreshold", "must be a whole number between 1 and 10, got 0"),
        arguments("unclosed flow map", "listen: { host: 127.0.0.1, port: 8080\ntargetGroups: []\n", 2, "",
            "invalid YAML: "),
        arguments("tab indentation", "targetGroups:\n\t- name: blue\n", 2, "", "invalid YAML: "),
        arguments("bad indentation", "targetGroups:\n  - name: blue\n   targets: []\n", 3, "", "invalid YAML: "),
        arguments("two documents", MINIMAL + "---\nlisten: {}\n", 5, "", "invalid YAML: but found another document"),
        arguments("control character", MINIMAL + "listen: { host: \"a\u0001b\" }\n", 5, "", "invalid YAML: special characters are not allowed"),
        arguments("deep nesting", "targetGroups: " + "[".repeat(5000) + "]".repeat(5000) + "\n", 1, "", "nested more than 32 levels deep"),
        arguments("non-scalar key", "? [a, b]\n: 1\n" + MINIMAL, 1, "", "keys must be plain names, got a list as a key"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFiles")
  void badFileNamesLineAndKey(String name, String yaml, int line, String keyPath, String problem) {
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(yaml, "balancer.yaml"));
    assertThat(e.line()).as("line of: %s", e.getMessage()).isEqualTo(line);
    assertThat(e.keyPath()).as("key path of: %s", e.getMessage()).isEqualTo(keyPath);
    String prefix = "balancer.yaml" + (line > 0 ? ":" + line : "") + ": " + (keyPath.isEmpty() ? "" : keyPath + ": ");
    assertThat(e.getMessage()).startsWith(prefix).contains(problem).doesNotContain("\n").doesNotContain("\r");
    assertThat(e.source()).isEqualTo("balancer.yaml");
  }

  @Test
  void exactMessagesFromTheBrief() {
    assertThatThrownBy(() -> BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
            stickiness:
              type: duration
              duration: PT0S
        """, "balancer.yaml"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("balancer.yaml:5: targetGroups[0].stickiness.duration: must be between 1 second (PT1S) and 7 days (P7D), got PT0S");
    assertThatThrownBy(() -> BalancerConfigLoader.parse("""
        targetGroups:
          - name: blue
          - name: green
            targets:
              - id: g1
                uri: "ftp://x"
        """, "balancer.yaml"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("balancer.yaml:6: targetGroups[1].targets[0].uri: \"ftp://x\" must be an http or https URI with host and port");
  }

  @Test
  void secretsStayOutOfMessages() {
    String secret = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0";
    ConfigException e = assertThrows(ConfigException.class,
        () -> BalancerConfigLoader.parse("keys:\n  - { id: k1, secret: \"" + secret + "\" }\n" + MINIMAL, "b.yaml"));
    assertThat(e.getMessage()).doesNotContain(secret);
  }

  @Test
  void tooLargeFile() {
    String huge = MINIMAL + "#" + "x".repeat(BalancerConfigLoader.MAX_CHARS) + "\n";
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(huge, "huge.yaml"));
    assertThat(e.getMessage()).isEqualTo("huge.yaml: the file is larger than 1048576 characters");
  }

  @Test
  void manyAliasesAreRefusedOrCheap() {
    StringBuilder yaml = new StringBuilder("listen: &a [1, 2]\n");
    yaml.append("x: [").append("*a, ".repeat(200)).append("*a]\n");
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(yaml.toString(), "alias.yaml"));
    assertThat(e.getMessage()).startsWith("alias.yaml:");
  }

  @Test
  void missingFile(@TempDir Path dir) {
    Path file = dir.resolve("nope.yaml");
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.load(file));
    assertThat(e.getMessage()).isEqualTo(file + ": no such file");
    assertThat(e.line()).isZero();
  }

  @Test
  void invalidUtf8NamesTheLine(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("bad.yaml");
    byte[] head = MINIMAL.getBytes(StandardCharsets.UTF_8);
    byte[] bytes = new byte[head.length + 12];
    System.arraycopy(head, 0, bytes, 0, head.length);
    byte[] tail = "admin: {}\n".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(tail, 0, bytes, head.length, tail.length);
    bytes[head.length + 3] = (byte) 0xC3; // a lead byte without its continuation
    bytes[head.length + 4] = (byte) 0x28;
    Files.write(file, bytes);
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.load(file));
    assertThat(e.line()).isEqualTo(5);
    assertThat(e.getMessage()).contains("not valid UTF-8");
  }

  @Test
  void loadReadsAFileAndNamesIt(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("balancer.yaml");
    Files.writeString(file, "\uFEFF" + MINIMAL + "admin: { path: / }\n");
    ConfigException e = assertThrows(ConfigException.class, () -> BalancerConfigLoader.load(file));
    assertThat(e.getMessage()).startsWith(file + ":5: admin.path: ");
  }

  @Test
  void everyKeyOfTheDesignSchemaIsAccepted() {
    // The loader must accept every key the public contract shows; parsing the example proves it, and
    // this guards the list of top-level keys against accidental removal.
    assertThat(List.of("listen", "keys", "cookies", "targetGroups", "forward", "groupStickiness", "admin", "websocket"))
        .allSatisfy(key -> assertThat(DESIGN_EXAMPLE).contains(key + ":"));
  }
}
