package dev.affinity.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyForm;
import dev.affinity.tls.TestPki.KeyKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PEM files in every form cert-manager, certbot and openssl write, and what is refused. */
class PemTest {
  private static TestPki ca;
  private static Issued rsa;
  private static Issued ec;
  @TempDir
  Path dir;

  @BeforeAll
  static void issue() {
    ca = TestPki.newCa("Test CA");
    rsa = ca.issueServer("rsa.test", KeyKind.RSA, Duration.ofDays(30), "rsa.test");
    ec = ca.issueServer("ec.test", KeyKind.EC, Duration.ofDays(30), "ec.test");
  }

  @ParameterizedTest(name = "{0} key as {1}")
  @CsvSource({"RSA, PKCS8", "RSA, TRADITIONAL", "EC, PKCS8", "EC, TRADITIONAL", "EC, SEC1_WITH_PARAMETERS"})
  void readsAChainAndItsKeyInEveryForm(KeyKind kind, KeyForm form) throws Exception {
    Issued issued = kind == KeyKind.RSA ? rsa : ec;
    Path cert = issued.writeChain(dir.resolve("tls.crt"));
    Path key = issued.writeKey(dir.resolve("tls.key"), form);
    String header = Files.readString(key);
    assertThat(header).contains(switch (form) {
      case PKCS8 -> "-----BEGIN PRIVATE KEY-----";
      case TRADITIONAL -> kind == KeyKind.RSA ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----";
      case SEC1_WITH_PARAMETERS -> "-----BEGIN EC PARAMETERS-----";
    });

    CertifiedKey certified = CertifiedKey.readPem(cert, key);

    assertThat(certified.chain()).containsExactly(issued.certificate(), ca.certificate());
    assertThat(secret(certified.privateKey())).isEqualTo(secret(issued.keys().getPrivate()));
  }

  /** The key's secret number, whatever encoding it was read from (SEC1 carries the public point, PKCS#8 from the JDK does not). */
  private static java.math.BigInteger secret(java.security.PrivateKey key) {
    return key instanceof java.security.interfaces.ECPrivateKey e ? e.getS() : ((java.security.interfaces.RSAPrivateKey) key).getPrivateExponent();
  }

  @Test
  void aKeyAndCertificateInOneFileIsReadFromEither() throws Exception {
    Path both = Files.writeString(dir.resolve("both.pem"), rsa.keyPem(KeyForm.TRADITIONAL) + TestPki.pem(rsa.certificate()));
    CertifiedKey certified = CertifiedKey.readPem(both, both);
    assertThat(certified.certificate()).isEqualTo(rsa.certificate());
  }

  @Test
  void aKeyOfAnotherCertificateIsRefusedNamingBoth() throws Exception {
    Path cert = rsa.writeChain(dir.resolve("new.crt"));
    Issued old = ca.issueServer("rsa.test", KeyKind.RSA, Duration.ofDays(30), "rsa.test");
    Path key = old.writeKey(dir.resolve("old.key"), KeyForm.PKCS8);
    assertThatThrownBy(() -> CertifiedKey.readPem(cert, key))
        .isInstanceOf(KeyMaterialException.class)
        .hasMessageContaining("old.key with " + cert)
        .hasMessageContaining("does not match the certificate CN=rsa.test");
  }

  @Test
  void anEcKeyForAnotherEcCertificateAndAKeyOfAnotherKindAreRefused() throws Exception {
    Issued otherEc = ca.issueServer("ec.test", KeyKind.EC, Duration.ofDays(30), "ec.test");
    Path cert = ec.writeChain(dir.resolve("ec.crt"));
    assertThatThrownBy(() -> CertifiedKey.readPem(cert, otherEc.writeKey(dir.resolve("other-ec.key"), KeyForm.TRADITIONAL)))
        .hasMessageContaining("does not match");
    assertThatThrownBy(() -> CertifiedKey.readPem(cert, rsa.writeKey(dir.resolve("rsa.key"), KeyForm.PKCS8)))
        .hasMessageContaining("does not match");
  }

  @Test
  void aFileWithoutACertificateOrKeyIsRefused() throws Exception {
    Path keyOnly = ec.writeKey(dir.resolve("key-only.pem"), KeyForm.PKCS8);
    assertThatThrownBy(() -> Pem.certificates(keyOnly)).isInstanceOf(KeyMaterialException.class)
        .hasMessage(keyOnly + ": holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)");
    Path certOnly = ec.writeChain(dir.resolve("cert-only.pem"));
    assertThatThrownBy(() -> Pem.privateKey(certOnly)).isInstanceOf(KeyMaterialException.class)
        .hasMessageContaining(certOnly + ": holds no private key");
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    assertThatThrownBy(() -> Pem.certificates(garbage)).isInstanceOf(KeyMaterialException.class)
        .hasMessageStartingWith(garbage + ": ");
    assertThatThrownBy(() -> Pem.certificates(Path.of("/dev/zero"))).hasMessage("/dev/zero: is not a regular file");
    assertThatThrownBy(() -> Pem.certificates(dir)).hasMessage(dir + ": is not a regular file");
    Path missing = dir.resolve("missing.pem");
    assertThatThrownBy(() -> Pem.certificates(missing)).hasMessage(missing + ": no such file");
  }

  @Test
  void encryptedAndDuplicateKeysAreRefused() throws Exception {
    Path encrypted = Files.writeString(dir.resolve("enc.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + java.util.Base64.getMimeEncoder().encodeToString(
            new org.bouncycastle.asn1.pkcs.EncryptedPrivateKeyInfo(
                new org.bouncycastle.asn1.x509.AlgorithmIdentifier(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.pbeWithSHAAnd3_KeyTripleDES_CBC),
                new byte[16]).getEncoded()) + "\n-----END ENCRYPTED PRIVATE KEY-----\n");
    assertThatThrownBy(() -> Pem.privateKey(encrypted)).hasMessageContaining("the private key is encrypted");
    Path two = Files.writeString(dir.resolve("two.key"), rsa.keyPem(KeyForm.PKCS8) + ec.keyPem(KeyForm.PKCS8));
    assertThatThrownBy(() -> Pem.privateKey(two)).hasMessageContaining("holds more than one private key");
  }

  @Test
  void pemPairsBecomeOneKeyStoreWithAnAliasPerPairInOrder() throws Exception {
    PemPair first = new PemPair(ec.writeChain(dir.resolve("ec.crt")), ec.writeKey(dir.resolve("ec.key"), KeyForm.SEC1_WITH_PARAMETERS));
    PemPair second = new PemPair(rsa.writeChain(dir.resolve("rsa.crt")), rsa.writeKey(dir.resolve("rsa.key"), KeyForm.TRADITIONAL));
    ServerCertificates certificates = ServerCertificates.pem(List.of(first, second));

    KeyStore store = certificates.load();

    assertThat(ServerCertificates.keyAliases(store)).containsExactly("0", "1");
    assertThat(store.getCertificate("0")).isEqualTo(ec.certificate());
    assertThat(store.getCertificate("1")).isEqualTo(rsa.certificate());
    assertThat(store.getKey("1", certificates.keyPassword().toCharArray()).getEncoded())
        .isEqualTo(rsa.keys().getPrivate().getEncoded());
    assertThat(certificates.files()).containsExactly(first.certificate(), first.key(), second.certificate(), second.key());
  }

  @Test
  void aKeyStoreFileIsReadWithItsPasswordAndAWrongOneIsRefused() throws Exception {
    Path p12 = rsa.writePkcs12(dir.resolve("balancer.p12"), "site", "changeit");
    KeyStore store = ServerCertificates.keyStore(p12, "changeit").load();
    assertThat(ServerCertificates.keyAliases(store)).containsExactly("site");
    assertThatThrownBy(() -> ServerCertificates.keyStore(p12, "wrong").load())
        .isInstanceOf(KeyMaterialException.class).hasMessage(p12 + ": the password does not open this key store");
    Path notAStore = Files.writeString(dir.resolve("not.p12"), "hello");
    assertThatThrownBy(() -> ServerCertificates.keyStore(notAStore, "changeit").load())
        .isInstanceOf(KeyMaterialException.class).hasMessageStartingWith(notAStore + ": cannot be read as a PKCS#12 or JKS key store");
    assertThatThrownBy(() -> ServerCertificates.keyStore(dir.resolve("none.p12"), "x").load())
        .hasMessage(dir.resolve("none.p12") + ": no such file");
  }

  @Test
  void aCaBundleBecomesATrustStore() throws Exception {
    TestPki other = TestPki.newCa("Other CA");
    Path bundle = Files.writeString(dir.resolve("clients.pem"), TestPki.pem(ca.certificate()) + TestPki.pem(other.certificate()));
    KeyStore trust = Pem.trustStore(bundle);
    assertThat(trust.size()).isEqualTo(2);
    assertThat(trust.getCertificateAlias(other.certificate())).isNotNull();
  }

  @Test
  void certificatesThatExpireWithinTheWindowAreNamed() throws Exception {
    Issued soon = ca.issueServer("soon.test", KeyKind.EC, Duration.ofDays(10), "soon.test");
    PemPair soonPair = new PemPair(soon.writeChain(dir.resolve("soon.crt")), soon.writeKey(dir.resolve("soon.key"), KeyForm.PKCS8));
    PemPair laterPair = new PemPair(rsa.writeChain(dir.resolve("later.crt")), rsa.writeKey(dir.resolve("later.key"), KeyForm.PKCS8));
    KeyStore store = ServerCertificates.pem(List.of(laterPair, soonPair)).load();
    Instant now = Instant.now();

    List<X509Certificate> expiring = ServerCertificates.expiringWithin(store, now, Duration.ofDays(14));

    assertThat(expiring).containsExactly(soon.certificate());
    assertThat(ServerCertificates.expiringWithin(store, now, Duration.ofDays(7))).isEmpty();
    assertThat(ServerCertificates.expiringWithin(store, now.plus(Duration.ofDays(40)), Duration.ZERO)).hasSize(2);
  }

  @Test
  void noPairsIsRefused() {
    assertThatThrownBy(() -> ServerCertificates.pem(List.of()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one certificate");
  }
}
