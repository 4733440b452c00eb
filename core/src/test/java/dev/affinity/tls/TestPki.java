package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A test certificate authority made with Bouncy Castle: it issues RSA and EC server and client
 * certificates with DNS and IP subject alternative names, and writes them as PEM in every key form
 * the balancer reads (PKCS#8, PKCS#1, SEC1 with and without {@code EC PARAMETERS}) or as PKCS#12.
 * Certificates are valid from an hour ago, by the real clock, because TLS clients check them by it.
 */
public final class TestPki {
  private static final AtomicLong SERIAL = new AtomicLong(System.nanoTime());

  /** Key algorithm of an issued certificate. */
  public enum KeyKind { RSA, EC }

  /** How a private key is written: PKCS#8, the traditional form (PKCS#1 for RSA, SEC1 for EC), or SEC1 after EC PARAMETERS. */
  public enum KeyForm { PKCS8, TRADITIONAL, SEC1_WITH_PARAMETERS }

  private final X500Principal name;
  private final KeyPair keys;
  private final X509Certificate certificate;

  private TestPki(X500Principal name, KeyPair keys, X509Certificate certificate) {
    this.name = name;
    this.keys = keys;
    this.certificate = certificate;
  }

  /** A new self-signed RSA CA named {@code CN=commonName}. */
  public static TestPki newCa(String commonName) {
    X500Principal name = new X500Principal("CN=" + commonName);
    KeyPair keys = generate(KeyKind.RSA);
    X509Certificate certificate = sign(name, keys, name, keys, true,
        Duration.ofDays(365), List.of(), null);
    return new TestPki(name, keys, certificate);
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /** Writes this CA's certificate as PEM. */
  public Path writeCertificate(Path file) throws IOException {
    return Files.writeString(file, pem(certificate));
  }

  /** A server certificate for {@code names} (DNS names, or IP addresses such as 127.0.0.1), valid for {@code validity}. */
  public Issued issueServer(String commonName, KeyKind kind, Duration validity, String... names) {
    return issue(commonName, kind, validity, KeyPurposeId.id_kp_serverAuth, names);
  }

  /** A client certificate (for mutual TLS). */
  public Issued issueClient(String commonName, KeyKind kind) {
    return issue(commonName, kind, Duration.ofDays(30), KeyPurposeId.id_kp_clientAuth);
  }

  /** A client certificate with subject alternative names: {@code scheme://...} as URIs (SPIFFE ids), the rest as for servers. */
  public Issued issueClient(String commonName, KeyKind kind, String... names) {
    return issue(commonName, kind, Duration.ofDays(30), KeyPurposeId.id_kp_clientAuth, names);
  }

  private Issued issue(String commonName, KeyKind kind, Duration validity, KeyPurposeId purpose, String... names) {
    KeyPair leafKeys = generate(kind);
    List<GeneralName> alternatives = new ArrayList<>();
    for (String n : names) {
      if (n.contains("://")) {
        alternatives.add(new GeneralName(GeneralName.uniformResourceIdentifier, n));
        continue;
      }
      alternatives.add(n.matches("[0-9.]+|.*:.*") ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n));
    }
    X509Certificate leaf = sign(new X500Principal("CN=" + commonName), leafKeys, name, keys, false, validity, alternatives, purpose);
    return new Issued(leaf, leafKeys, certificate);
  }

  /** An issued certificate, its key pair and its issuer. */
  public record Issued(X509Certificate certificate, KeyPair keys, X509Certificate issuer) {
    /** Writes the leaf certificate, then its issuer: a full chain as certbot's {@code fullchain.pem}. */
    public Path writeChain(Path file) throws IOException {
      return Files.writeString(file, pem(certificate) + pem(issuer));
    }

    public Path writeKey(Path file, KeyForm form) throws IOException {
      return Files.writeString(file, keyPem(form));
    }

    public String keyPem(KeyForm form) {
      try {
        StringWriter out = new StringWriter();
        if (form == KeyForm.SEC1_WITH_PARAMETERS) {
          if (!keys.getPrivate().getAlgorithm().equals("EC")) {
            throw new IllegalArgumentException("EC PARAMETERS go with EC keys only");
          }
          // `openssl ecparam -name prime256v1 -genkey` writes the curve's OID block first.
          out.write("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n");
        }
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
          if (form == KeyForm.PKCS8) {
            writer.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null));
          } else if (keys.getPrivate().getAlgorithm().equals("EC")) {
            writer.writeObject(new PemObject("EC PRIVATE KEY", sec1()));
          } else {
            writer.writeObject(keys.getPrivate()); // RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC1)
          }
        }
        return out.toString();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    /**
     * SEC1 as openssl writes it: with the curve in the structure. The JDK's PKCS#8 encoding keeps the
     * curve only in its algorithm identifier, so it is moved back in here.
     */
    private byte[] sec1() throws IOException {
      PrivateKeyInfo info = PrivateKeyInfo.getInstance(keys.getPrivate().getEncoded());
      ECPrivateKey inner = ECPrivateKey.getInstance(info.parsePrivateKey());
      SubjectPublicKeyInfo publicInfo = SubjectPublicKeyInfo.getInstance(keys.getPublic().getEncoded());
      return new ECPrivateKey(256, inner.getKey(), publicInfo.getPublicKeyData(),
          info.getPrivateKeyAlgorithm().getParameters()).getEncoded();
    }

    /** A PKCS#12 file with this key and chain under {@code alias}. */
    public Path writePkcs12(Path file, String alias, String password) throws IOException {
      try (OutputStream out = Files.newOutputStream(file)) {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry(alias, keys.getPrivate(), password.toCharArray(), new X509Certificate[] {certificate, issuer});
        store.store(out, password.toCharArray());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
      return file;
    }
  }

  public static String pem(X509Certificate certificate) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(certificate);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toString();
  }

  static KeyPair generate(KeyKind kind) {
    try {
      if (kind == KeyKind.RSA) {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        return generator.generateKeyPair();
      }
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static X509Certificate sign(X500Principal subject, KeyPair subjectKeys, X500Principal issuer, KeyPair issuerKeys,
      boolean ca, Duration validity, List<GeneralName> alternatives, KeyPurposeId purpose) {
    requireNonNull(issuerKeys, "issuerKeys");
    Instant now = Instant.now();
    try {
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, subjectKeys.getPublic());
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
      if (ca) {
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      } else {
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
        builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
      }
      if (!alternatives.isEmpty()) {
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(alternatives.toArray(new GeneralName[0])));
      }
      String algorithm = issuerKeys.getPrivate().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
      ContentSigner signer = new JcaContentSignerBuilder(algorithm).build(issuerKeys.getPrivate());
      return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException(e);
    }
  }
}
