package dev.affinity.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A key store whose password lives in a secret file: both are read at each load, as a pair. */
class KeyStorePasswordFileTest {
  @TempDir
  Path dir;

  @Test
  void thePasswordFileIsReadAtEachLoadAndIsOneOfTheWatchedFiles() throws Exception {
    TestPki ca = TestPki.newCa("CA");
    Issued first = ca.issueServer("a.test", KeyKind.EC, Duration.ofDays(30), "a.test");
    Issued second = ca.issueServer("a.test", KeyKind.RSA, Duration.ofDays(30), "a.test");
    Path p12 = first.writePkcs12(dir.resolve("site.p12"), "site", "one");
    Path passwordFile = Files.writeString(dir.resolve("password.txt"), "one\n");
    ServerCertificates certificates = ServerCertificates.keyStore(p12, passwordFile);
    assertThat(certificates.files()).containsExactly(p12, passwordFile);

    KeyStore loaded = certificates.load();
    assertThat(loaded.getCertificate("site")).isEqualTo(first.certificate());
    assertThat(certificates.keyPassword()).isEqualTo("one");

    // The password alone rotated: the old store does not open with it, and the last good password stays.
    Files.writeString(passwordFile, "two\r\n");
    assertThatThrownBy(certificates::load).isInstanceOf(KeyMaterialException.class)
        .hasMessage(p12 + ": the password in " + passwordFile + " does not open this key store")
        .hasMessageNotContaining("two");
    assertThat(certificates.keyPassword()).isEqualTo("one");

    // Then the store: the pair loads.
    second.writePkcs12(p12, "site", "two");
    KeyStore rotated = certificates.load();
    assertThat((X509Certificate) rotated.getCertificate("site")).isEqualTo(second.certificate());
    assertThat(certificates.keyPassword()).isEqualTo("two");
  }

  @Test
  void anEmptyMissingOrSpecialPasswordFileIsRefusedWithoutItsContent() throws Exception {
    Path p12 = TestPki.newCa("CA").issueServer("a.test", KeyKind.EC, Duration.ofDays(30), "a.test")
        .writePkcs12(dir.resolve("site.p12"), "site", "pw");
    Path empty = Files.writeString(dir.resolve("empty.txt"), "\n");
    assertThatThrownBy(() -> ServerCertificates.keyStore(p12, empty).load()).isInstanceOf(KeyMaterialException.class)
        .hasMessage(empty + ": the password file is empty");
    Path missing = dir.resolve("missing.txt");
    assertThatThrownBy(() -> ServerCertificates.keyStore(p12, missing).load()).isInstanceOf(KeyMaterialException.class)
        .hasMessage(missing + ": no such password file");
    assertThatThrownBy(() -> ServerCertificates.keyStore(p12, dir).load()).isInstanceOf(KeyMaterialException.class)
        .hasMessage(dir + ": the password file is not a regular file");
    assertThatThrownBy(() -> ServerCertificates.keyStore(p12, missing).keyPassword()).isInstanceOf(IllegalStateException.class);
  }
}
