package dev.affinity.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TargetTls}: the server name rule, what it reads and when its files count as changed. */
class TargetTlsTest {
  @TempDir
  Path dir;

  @Test
  void theServerNameIsAHostNameInItsAsciiLowerCaseForm() {
    assertThat(TargetTls.builder().serverName("API.Internal.").build().serverName()).contains("api.internal");
    assertThat(TargetTls.builder().serverName("backend").build().serverName()).contains("backend");
    assertThat(TargetTls.builder().serverName("bücher.example").build().serverName()).contains("xn--bcher-kva.example");
    for (String bad : List.of("", " ", "10.0.0.5", "*.internal", "api internal", "api.internal:8443", "-api.internal", "a..b",
        "a".repeat(64) + ".internal")) {
      assertThatThrownBy(() -> TargetTls.builder().serverName(bad), bad).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("serverName must be a host name");
    }
  }

  @Test
  void filesAreReadAtBuildAndAgainAtEachLoad() throws Exception {
    TestPki ca = TestPki.newCa("Targets CA");
    TestPki.Issued client = ca.issueClient("balancer", TestPki.KeyKind.EC);
    Path caFile = ca.writeCertificate(dir.resolve("ca.pem"));
    PemPair pair = new PemPair(client.writeChain(dir.resolve("c.crt")), client.writeKey(dir.resolve("c.key"), TestPki.KeyForm.SEC1_WITH_PARAMETERS));
    TargetTls tls = TargetTls.builder().ca(caFile).clientCertificate(pair).build();

    assertThat(tls.files()).containsExactly(caFile, pair.certificate(), pair.key());
    TargetTls.Material material = tls.load();
    assertThat(material.trustStore().size()).isEqualTo(1);
    assertThat(material.keyStore().isKeyEntry("client")).isTrue();
    assertThat(material.clientCertificate().getSubjectX500Principal().getName()).isEqualTo("CN=balancer");
    assertThat(TargetTls.builder().serverName("x.test").build().load()).isEqualTo(new TargetTls.Material(null, null, null, null));

    // A certificate rotated without its key: the fingerprint changed, the pair does not load.
    byte[] before = tls.fingerprint();
    ca.issueClient("balancer-2", TestPki.KeyKind.EC).writeChain(pair.certificate());
    assertThat(tls.fingerprint()).isNotEqualTo(before);
    assertThatThrownBy(tls::load).isInstanceOf(KeyMaterialException.class).hasMessageContaining("does not match");
    assertThatThrownBy(() -> TargetTls.builder().clientCertificate(pair).build()).isInstanceOf(KeyMaterialException.class);
  }

  @Test
  void equalWhenTheyNameTheSameFilesAndName() throws Exception {
    TestPki ca = TestPki.newCa("Targets CA");
    Path caFile = ca.writeCertificate(dir.resolve("ca.pem"));
    assertThat(TargetTls.builder().ca(caFile).serverName("a.test").build())
        .isEqualTo(TargetTls.builder().ca(caFile).serverName("A.test").build())
        .hasSameHashCodeAs(TargetTls.builder().ca(caFile).serverName("a.test").build())
        .isNotEqualTo(TargetTls.builder().ca(caFile).build())
        .isNotEqualTo(TargetTls.builder().serverName("a.test").build());
  }

  @Test
  void aMissingFileOrAFifoCountsAsSuchInTheFingerprintWithoutBlocking() throws Exception {
    Path missing = dir.resolve("missing.pem");
    byte[] none = FileFingerprint.of(List.of(missing));
    Files.writeString(missing, "x");
    assertThat(FileFingerprint.of(List.of(missing))).isNotEqualTo(none);
    Path fifo = dir.resolve("fifo");
    Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
    if (mkfifo.waitFor() == 0) {
      assertThat(FileFingerprint.of(List.of(fifo))).hasSize(32);
    }
  }
}
