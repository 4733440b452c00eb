package dev.affinity.samples.demo;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.PemPair;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The throwaway PKI of {@code --https}: a CA made at start and a server certificate it signs for
 * {@code localhost}, {@code 127.0.0.1} and {@code ::1}, written as PEM under the demo's temporary
 * directory (and deleted with it). Nothing trusts the CA until the user says so, with
 * {@code curl --cacert} or a browser told to accept exactly this server key, so a certificate made
 * on someone's laptop can never vouch for anything else.
 */
final class DemoCertificates {
  static final List<String> SERVER_NAMES = List.of("localhost", "127.0.0.1", "::1");
  /** Long enough for any demo session; short, because nobody renews a certificate nobody keeps. */
  static final Duration VALIDITY = Duration.ofDays(30);
  static final String CA_FILE = "affinity-demo-ca.pem";

  private final Path caFile;
  private final PemPair server;
  private final X509Certificate caCertificate;
  private final X509Certificate serverCertificate;

  private DemoCertificates(Path caFile, PemPair server, X509Certificate caCertificate, X509Certificate serverCertificate) {
    this.caFile = caFile;
    this.server = server;
    this.caCertificate = caCertificate;
    this.serverCertificate = serverCertificate;
  }

  /**
   * Makes the CA and the server certificate, valid from an hour before {@code now} (clients check by
   * their own clocks) for {@link #VALIDITY}, and writes {@value #CA_FILE}, {@code server.pem} (chain,
   * leaf first) and {@code server-key.pem} (PKCS#8, owner-only where the file system allows) into {@code dir}.
   */
  static DemoCertificates create(Path dir, Instant now) throws IOException {
    requireNonNull(dir, "dir");
    requireNonNull(now, "now");
    Files.createDirectories(dir);
    KeyPair caKeys = ecKeyPair();
    X500Principal caName = new X500Principal("CN=Affinity demo CA (throwaway)");
    KeyPair serverKeys = ecKeyPair();
    try {
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      Date notBefore = Date.from(now.minus(Duration.ofHours(1)));
      Date notAfter = Date.from(now.plus(VALIDITY));

      X509v3CertificateBuilder ca = new JcaX509v3CertificateBuilder(caName, serial(), notBefore, notAfter, caName,
          caKeys.getPublic());
      // pathLen 0: this CA signs the one server certificate, never another CA.
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      ca.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      ca.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(caKeys.getPublic()));
      X509Certificate caCertificate = sign(ca, caKeys);

      X509v3CertificateBuilder leaf = new JcaX509v3CertificateBuilder(caCertificate, serial(), notBefore, notAfter,
          new X500Principal("CN=localhost"), serverKeys.getPublic());
      leaf.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      leaf.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      leaf.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      leaf.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
          new GeneralName(GeneralName.dNSName, "localhost"),
          new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
          new GeneralName(GeneralName.iPAddress, "::1")}));
      leaf.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(serverKeys.getPublic()));
      // Strict verifiers (OpenSSL's X509_STRICT, Python 3.13's default) want the issuer's key id.
      leaf.addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(caCertificate));
      X509Certificate serverCertificate = sign(leaf, caKeys);

      Path caFile = Files.writeString(dir.resolve(CA_FILE), pem("CERTIFICATE", caCertificate.getEncoded()));
      Path chain = Files.writeString(dir.resolve("server.pem"),
          pem("CERTIFICATE", serverCertificate.getEncoded()) + pem("CERTIFICATE", caCertificate.getEncoded()));
      Path key = dir.resolve("server-key.pem");
      Files.createFile(key);
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
      }
      Files.writeString(key, pem("PRIVATE KEY", serverKeys.getPrivate().getEncoded()));
      return new DemoCertificates(caFile, new PemPair(chain, key), caCertificate, serverCertificate);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot make the demo's certificates: " + e.getMessage(), e);
    }
  }

  /** The CA certificate as PEM, for {@code curl --cacert}. */
  Path caFile() {
    return caFile;
  }

  /** The server's chain and key files, as the balancer's TLS listener reads them. */
  PemPair server() {
    return server;
  }

  X509Certificate caCertificate() {
    return caCertificate;
  }

  X509Certificate serverCertificate() {
    return serverCertificate;
  }

  /**
   * Base64 of the SHA-256 of the server certificate's SubjectPublicKeyInfo: the value of Chromium's
   * {@code --ignore-certificate-errors-spki-list}, which accepts this one key and still checks every other.
   */
  String serverKeyPin() {
    return spkiSha256(serverCertificate);
  }

  static String spkiSha256(X509Certificate certificate) {
    try {
      // X509Certificate.getPublicKey().getEncoded() is the DER SubjectPublicKeyInfo.
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getPublicKey().getEncoded());
      return Base64.getEncoder().encodeToString(digest);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair issuer)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(
        builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate())));
  }

  /** P-256: every TLS client takes it, and a key is made in milliseconds where RSA takes a noticeable pause. */
  private static KeyPair ecKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no P-256 key pair generator: " + e.getMessage(), e);
    }
  }

  /** A positive random serial of at most 20 octets (RFC 5280 section 4.1.2.2). */
  private static BigInteger serial() {
    return new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + new String(Base64.getMimeEncoder(64, new byte[] {'\n'}).encode(der), StandardCharsets.US_ASCII)
        + "\n-----END " + type + "-----\n";
  }
}
