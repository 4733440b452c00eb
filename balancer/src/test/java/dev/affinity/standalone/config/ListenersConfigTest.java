package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.jetty.ListenerSpec;
import dev.affinity.tls.PemPair;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** listen.tls, listeners and secrets: what each key loads as, and every refusal with its file, line and key. */
class ListenersConfigTest {
  private static final String GROUPS = """
      targetGroups:
        - name: web
          targets: [ { id: web-1, uri: "http://127.0.0.1:9001" } ]
      """;
  @TempDir
  Path dir;

  @BeforeEach
  void files() throws Exception {
    TlsFiles.writeTo(dir);
  }

  private BalancerConfig load(String yaml) throws Exception {
    return BalancerConfigLoader.load(Files.writeString(dir.resolve("balancer.yaml"), yaml + GROUPS));
  }

  private void refused(String yaml, int line, String key, String problem) {
    Path file = dir.resolve("balancer.yaml");
    assertThatThrownBy(() -> load(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(file + ":" + line + ": " + key + ": ")
        .hasMessageContaining(problem);
  }

  @Test
  void listenersWithPemTlsAndARedirectLoadWithPathsRelativeToTheFile() throws Exception {
    BalancerConfig config = load("""
        listeners:
          - host: 0.0.0.0
            port: 8443
            tls:
              certificates:
                - { cert: site.crt, key: site.key }
                - { cert: other.crt, key: other.key }
              protocols: [ TLSv1.3 ]
              clientCa: clients.pem
          - { port: 8080, redirectToHttps: 8443 }
        """);
    TlsConfig tls = new TlsConfig(List.of(new PemPair(dir.resolve("site.crt"), dir.resolve("site.key")),
        new PemPair(dir.resolve("other.crt"), dir.resolve("other.key"))), null, null, List.of("TLSv1.3"), dir.resolve("clients.pem"));
    assertThat(config.listeners()).containsExactly(
        new Listen("0.0.0.0", 8443, tls, null),
        new Listen("127.0.0.1", 8080, null, 8443));
    assertThat(config.listen()).isEqualTo(config.listeners().get(0));
  }

  @Test
  void listenTlsTakesAKeyStoreWhosePasswordComesFromAFile() throws Exception {
    BalancerConfig config = load("listen: { port: 8443, tls: { keystore: balancer.p12, password: { file: keystore-password.txt } } }\n");
    assertThat(config.listeners()).containsExactly(new Listen("127.0.0.1", 8443,
        new TlsConfig(List.of(), dir.resolve("balancer.p12"), "changeit", dir.resolve("keystore-password.txt"), List.of("TLSv1.3", "TLSv1.2"),
            null, null)));
    assertThat(config.listen().tls().toString()).doesNotContain("changeit");
    // Inline, there is no file to follow.
    assertThat(load("listen: { port: 8443, tls: { keystore: balancer.p12, password: changeit } }\n").listen().tls().passwordFile()).isNull();
  }

  @Test
  void aRotatedPasswordFileIsNotAListenerChange() {
    TlsConfig before = new TlsConfig(List.of(), dir.resolve("balancer.p12"), "one", dir.resolve("pw.txt"), TlsConfig.DEFAULT_PROTOCOLS, null, null);
    TlsConfig after = new TlsConfig(List.of(), dir.resolve("balancer.p12"), "two", dir.resolve("pw.txt"), TlsConfig.DEFAULT_PROTOCOLS, null, null);
    assertThat(after).isEqualTo(before).hasSameHashCodeAs(before);
    assertThat(new TlsConfig("balancer.p12", "one")).isNotEqualTo(new TlsConfig("balancer.p12", "two"));
  }

  @Test
  void clientAuthIsRequiredByDefaultOrOptionalAndNeedsAClientCa() throws Exception {
    String pem = "certificates: [ { cert: site.crt, key: site.key } ]";
    assertThat(load("listen: { port: 8443, tls: { " + pem + ", clientCa: clients.pem } }\n").listen().tls().clientAuth())
        .isEqualTo(TlsConfig.ClientAuth.REQUIRED);
    assertThat(load("listen: { port: 8443, tls: { " + pem + ", clientCa: clients.pem, clientAuth: required } }\n").listen().tls().clientAuth())
        .isEqualTo(TlsConfig.ClientAuth.REQUIRED);
    assertThat(load("listeners:\n  - { port: 8443, tls: { " + pem + ", clientCa: clients.pem, clientAuth: optional } }\n")
        .listeners().get(0).tls().clientAuth()).isEqualTo(TlsConfig.ClientAuth.OPTIONAL);
    assertThat(load("listen: { port: 8443, tls: { " + pem + " } }\n").listen().tls().clientAuth()).isNull();

    refused("listen:\n  tls:\n    " + pem + "\n    clientAuth: optional\n", 4, "listen.tls.clientAuth",
        "needs clientCa: the CAs that client certificates must chain to");
    refused("listeners:\n  - port: 8443\n    tls:\n      " + pem + "\n      clientCa: clients.pem\n      clientAuth: want\n", 6,
        "listeners[0].tls.clientAuth", "must be required or optional, got \"want\"");
  }

  @Test
  void aCookieKeyFromASecretFileDropsOneTrailingNewline() throws Exception {
    Files.writeString(dir.resolve("k1"), BalancerConfigLoaderTest.K1 + "\n");
    BalancerConfig config = load("keys:\n  - { id: k1, secret: { file: k1 } }\n");
    assertThat(config.keys()).containsExactly(new KeyConfig("k1", BalancerConfigLoaderTest.K1));
  }

  @Test
  void aSecretFromTheEnvironment() {
    YamlNode node = YamlDocument.parse("s: { env: PATH }\n", "t.yaml").map(Schema.keys("s")).get("s");
    assertThat(node.secret()).isEqualTo(System.getenv("PATH"));
    YamlNode inline = YamlDocument.parse("s: hunter2\n", "t.yaml").map(Schema.keys("s")).get("s");
    assertThat(inline.secret()).isEqualTo("hunter2");
  }

  @Test
  void secretsThatCannotBeReadAreRefused() {
    refused("keys:\n  - { id: k1, secret: { file: missing.txt } }\n", 2, "keys[0].secret.file",
        "cannot read the secret file " + dir.resolve("missing.txt") + ": no such file");
    refused("keys:\n  - { id: k1, secret: { env: AFFINITY_SURELY_NOT_SET_42 } }\n", 2, "keys[0].secret.env",
        "the environment variable AFFINITY_SURELY_NOT_SET_42 is not set");
    refused("keys:\n  - { id: k1, secret: { env: PATH, file: k } }\n", 2, "keys[0].secret", "give one of file and env");
    refused("keys:\n  - { id: k1, secret: { vault: x } }\n", 2, "keys[0].secret.vault", "unknown key \"vault\"");
    refused("keys:\n  - { id: k1, secret: { file: /dev/zero } }\n", 2, "keys[0].secret.file", "the secret file /dev/zero is not a regular file");
  }

  @Test
  void tlsFilesThatCannotBeUsedAreRefusedAtTheirLine() throws Exception {
    refused("listen:\n  tls:\n    certificates:\n      - { cert: nothere.crt, key: site.key }\n", 4, "listen.tls.certificates[0].cert",
        dir.resolve("nothere.crt") + ": no such file");
    refused("listen:\n  tls:\n    certificates:\n      - { cert: site.key, key: site.key }\n", 4, "listen.tls.certificates[0].cert",
        "holds no certificate");
    refused("listen:\n  tls:\n    certificates:\n      - { cert: site.crt, key: other.key }\n", 4, "listen.tls.certificates[0].key",
        "does not match the certificate CN=site.test");
    refused("listen:\n  tls:\n    certificates:\n      - { cert: site.crt, key: site.crt }\n", 4, "listen.tls.certificates[0].key",
        "holds no private key");
    refused("listen:\n  tls: { keystore: balancer.p12, password: wrong }\n", 2, "listen.tls.keystore",
        "the password does not open this key store");
    refused("listen:\n  tls: { certificates: [ { cert: site.crt, key: site.key } ], clientCa: site.key }\n", 2, "listen.tls.clientCa",
        "holds no certificate");
  }

  @Test
  void tlsSettingsThatCannotBeHonouredAreRefused() {
    refused("listen:\n  tls:\n    certificates: [ { cert: site.crt, key: site.key } ]\n    protocols: [ TLSv1.3, TLSv1.1 ]\n", 4,
        "listen.tls.protocols[1]", "must be TLSv1.3 or TLSv1.2 (older versions are broken), got \"TLSv1.1\"");
    refused("listen:\n  tls:\n    certificates: [ { cert: site.crt, key: site.key } ]\n    protocols: [ TLSv1.2, TLSv1.2 ]\n", 4,
        "listen.tls.protocols[1]", "TLSv1.2 is listed twice");
    refused("listen:\n  tls: { keystore: balancer.p12, password: changeit, certificates: [ { cert: site.crt, key: site.key } ] }\n",
        2, "listen.tls", "give certificates (PEM) or keystore, not both");
    refused("listen:\n  tls: { protocols: [ TLSv1.3 ] }\n", 2, "listen.tls", "needs certificates");
    refused("listen:\n  tls: { certificates: [ { cert: site.crt, key: site.key } ], password: x }\n", 2, "listen.tls.password",
        "goes with keystore");
    refused("listen:\n  tls: { certificates: [] }\n", 2, "listen.tls.certificates", "lists no certificate");
  }

  @Test
  void tlsProviderChoosesConscryptPerListenerAndTheJdkByDefault() throws Exception {
    BalancerConfig config = load("""
        listeners:
          - { port: 8443, tls: { certificates: [ { cert: site.crt, key: site.key } ], provider: conscrypt } }
          - { port: 8444, tls: { certificates: [ { cert: site.crt, key: site.key } ], provider: JDK } }
          - { port: 8445, tls: { keystore: balancer.p12, password: changeit } }
        """);
    assertThat(config.listeners()).extracting(l -> l.tls().provider())
        .containsExactly(ListenerSpec.Tls.Provider.CONSCRYPT, ListenerSpec.Tls.Provider.JDK, ListenerSpec.Tls.Provider.JDK);
    BalancerConfig listen = load("listen: { port: 8443, tls: { keystore: balancer.p12, password: changeit, provider: conscrypt } }\n");
    assertThat(listen.listen().tls().provider()).isEqualTo(ListenerSpec.Tls.Provider.CONSCRYPT);
    refused("listen:\n  tls:\n    certificates: [ { cert: site.crt, key: site.key } ]\n    provider: openssl\n", 4,
        "listen.tls.provider", "must be one of jdk, conscrypt, got \"openssl\"");
    refused("listeners:\n  - port: 8443\n    tls:\n      keystore: balancer.p12\n      password: changeit\n      provider: [ conscrypt ]\n", 6,
        "listeners[0].tls.provider", "must be a single value");
  }

  @Test
  void listenersThatCannotWorkTogetherAreRefused() {
    refused("listen: { port: 8080 }\nlisteners:\n  - { port: 8081 }\n", 3, "listeners",
        "cannot be used together with listen (line 1)");
    refused("listeners:\n  - { port: 8080 }\n  - { host: 0.0.0.0, port: 8080 }\n", 3, "listeners[1].port",
        "port 8080 is already used by the listener at line 2");
    refused("listeners:\n  - { port: 8443 }\n  - { port: 8080, redirectToHttps: 8443 }\n", 3, "listeners[1].redirectToHttps",
        "must be the port of a TLS listener of this file, got 8443");
    refused("listeners:\n  - { port: 8443, redirectToHttps: 8444, tls: { keystore: balancer.p12, password: changeit } }\n", 2,
        "listeners[0].redirectToHttps", "a listener with tls serves HTTPS itself");
    refused("listeners:\n  - { host: 0.0.0.0 }\n", 2, "listeners[0].port", "is required");
    refused("listeners: []\n", 1, "listeners", "lists no listener");
    refused("listeners:\n  - { port: 8080 }\nadmin: { port: 8080 }\n", 3, "admin.port", "must differ from every listener's port (8080)");
  }

  @Test
  void anEmptyRulesListGivesTheListenerNoRulesEvenWithGlobalOnes() throws Exception {
    BalancerConfig config = load("listeners:\n  - { port: 8080, rules: [] }\n  - { port: 8081 }\n"
        + "rules: [ { priority: 1, when: { path: /x }, fixedResponse: { status: 404 } } ]\n");
    assertThat(config.listenerRules()).containsOnlyKeys("127.0.0.1:8080");
    assertThat(config.listenerRules().get("127.0.0.1:8080")).isEmpty();
    assertThat(config.rules()).hasSize(1);
  }

  @Test
  void aListenersProxyProtocolNeedsTrustedProxiesAndReachesItsListener() throws Exception {
    refused("listeners:\n  - { port: 8081 }\n  - { port: 8080, proxyProtocol: true }\n", 3, "listeners[1].proxyProtocol",
        "needs trustedProxies");
    BalancerConfig config = load("trustedProxies: [ 127.0.0.1 ]\nlisteners:\n  - { port: 8081 }\n"
        + "  - { port: 8443, proxyProtocol: true, tls: { certificates: [ { cert: site.crt, key: site.key } ] } }\n");
    assertThat(config.listeners()).extracting(Listen::proxyProtocol).containsExactly(false, true);
    BalancerConfig h2 = load("listeners:\n  - { port: 8081, http2: false }\n  - { port: 8082 }\n");
    assertThat(h2.listeners()).extracting(Listen::http2).containsExactly(false, true);
  }
}
