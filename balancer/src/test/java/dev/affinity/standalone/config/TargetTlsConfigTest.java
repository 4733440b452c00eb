package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.affinity.tls.PemPair;
import dev.affinity.tls.TargetTls;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code targetGroups[].tls}: each key read (relative to the file), and every way it cannot be honoured
 * refused with file, line and key. What each key does on the wire is TargetTlsTest's (jetty-handler) and
 * TargetTlsLauncherTest's.
 */
class TargetTlsConfigTest {
  @TempDir
  Path dir;

  @BeforeEach
  void files() throws Exception {
    TlsFiles.writeTo(dir);
  }

  private static String group(String tls, String uri) {
    return "targetGroups:\n"
        + "  - name: api\n"
        + "    tls: " + tls + "\n"
        + "    targets:\n"
        + "      - { id: api-1, uri: \"" + uri + "\" }\n";
  }

  private TargetGroupConfig parse(String tls) {
    return BalancerConfigLoader.parse(group(tls, "https://10.0.0.5:8443"), "balancer.yaml", dir).targetGroups().get(0);
  }

  private ConfigException refused(String yaml) {
    return assertThrows(ConfigException.class, () -> BalancerConfigLoader.parse(yaml, "balancer.yaml", dir));
  }

  @Test
  void absentMeansTheDefaults() {
    TargetGroupConfig g = BalancerConfigLoader.parse(group("{ ca: ca.pem }", "https://10.0.0.5:8443").replace("    tls: { ca: ca.pem }\n", ""),
        "balancer.yaml", dir).targetGroups().get(0);
    assertThat(g.tls()).isNull();
  }

  @Test
  void eachKeyIsRead() {
    assertThat(parse("{ ca: ca.pem }").tls().ca()).contains(dir.resolve("ca.pem"));
    assertThat(parse("{ ca: ca.pem }").tls().serverName()).isEmpty();
    assertThat(parse("{ serverName: API.Internal. }").tls().serverName()).contains("api.internal");
    assertThat(parse("{ serverName: api.internal }").tls().ca()).as("the JDK's trust store").isEmpty();
    TargetTls all = parse("{ ca: ca.pem, serverName: api.internal, clientCert: { cert: client.crt, key: client.key } }").tls();
    assertThat(all.clientCertificate()).contains(new PemPair(dir.resolve("client.crt"), dir.resolve("client.key")));
    assertThat(all.load().clientCertificate().getSubjectX500Principal().getName()).isEqualTo("CN=balancer");
    assertThat(all.load().trustStore()).isNotNull();
    assertThat(all).isEqualTo(TargetTls.builder().ca(dir.resolve("ca.pem")).serverName("api.internal")
        .clientCertificate(new PemPair(dir.resolve("client.crt"), dir.resolve("client.key"))).build());
  }

  @Test
  void discoveredHttpsTargetsMayHaveTls() {
    String yaml = "targetGroups:\n"
        + "  - name: api\n"
        + "    tls: { serverName: api.internal }\n"
        + "    discovery: { dns: api.service.internal, type: SRV, scheme: https }\n";
    assertThat(BalancerConfigLoader.parse(yaml, "balancer.yaml", dir).targetGroups().get(0).tls().serverName()).contains("api.internal");
  }

  @Test
  void plainTargetsWouldNotUseItSoItIsRefused() {
    ConfigException e = refused(group("{ ca: ca.pem }", "http://10.0.0.5:8080"));
    assertThat(e.getMessage()).startsWith("balancer.yaml:3: targetGroups[0].tls: applies to https:// targets, but target \"api-1\"");

    ConfigException discovered = refused("targetGroups:\n"
        + "  - name: api\n"
        + "    tls: { serverName: api.internal }\n"
        + "    discovery: { dns: api.service.internal, type: SRV }\n");
    assertThat(discovered.getMessage()).startsWith("balancer.yaml:3: targetGroups[0].tls: applies to https:// targets, but discovery makes http://");
  }

  @Test
  void whatCannotBeHonouredIsRefusedWithFileLineAndKey() throws Exception {
    Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
    assertThat(refused(group("{}", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls: must set ca, serverName, clientCert or several");
    assertThat(refused(group("{ ca: missing.pem }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.ca: ").contains("no such file");
    assertThat(refused(group("{ ca: empty.pem }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.ca: ").contains("holds no certificate");
    assertThat(refused(group("{ serverName: 10.0.0.5 }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.serverName: ").contains("not an IP address");
    assertThat(refused(group("{ serverName: \"api internal\" }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.serverName: ").contains("must be a host name");
    assertThat(refused(group("{ serverName: \"*.internal\" }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.serverName: ");
    assertThat(refused(group("{ clientCert: { cert: client.crt, key: site.key } }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.clientCert.key: ").contains("does not match");
    assertThat(refused(group("{ clientCert: { cert: client.crt } }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.clientCert.key: is required");
    assertThat(refused(group("{ ca: ca.pem, verify: false }", "https://10.0.0.5:8443")).getMessage())
        .startsWith("balancer.yaml:3: targetGroups[0].tls.verify: ").contains("unknown key");
  }
}
