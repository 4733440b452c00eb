package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reads PEM files as cert-manager, Let's Encrypt (certbot, lego) and openssl write them: certificate
 * chains ({@code CERTIFICATE} blocks, leaf first) and unencrypted private keys in PKCS#8
 * ({@code PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE KEY}) or SEC1 ({@code EC PRIVATE KEY}, with or
 * without the {@code EC PARAMETERS} block openssl puts before it). Keys and certificates are
 * converted with the JDK's own providers, so nothing is registered globally.
 */
public final class Pem {
  /** Larger than any real chain or key; keeps a wrong path (a log file, a device) cheap to refuse. */
  static final long MAX_FILE_BYTES = 1024 * 1024;

  private Pem() {}

  /** Every certificate in {@code file}, in order; refuses a file with none. */
  public static List<X509Certificate> certificates(Path file) {
    requireNonNull(file, "file");
    List<X509Certificate> certificates = certificates(read(file), file.toString());
    if (certificates.isEmpty()) {
      throw new KeyMaterialException(file + ": holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)");
    }
    return certificates;
  }

  static List<X509Certificate> certificates(String pem, String source) {
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    List<X509Certificate> certificates = new ArrayList<>();
    for (Object object : objects(pem, source)) {
      if (object instanceof X509CertificateHolder holder) {
        try {
          certificates.add(converter.getCertificate(holder));
        } catch (CertificateException e) {
          throw new KeyMaterialException(source + ": certificate " + (certificates.size() + 1) + " cannot be read: " + e.getMessage(), e);
        }
      }
    }
    return certificates;
  }

  /** The one private key in {@code file}; refuses none, several and encrypted keys. */
  public static PrivateKey privateKey(Path file) {
    requireNonNull(file, "file");
    return privateKey(read(file), file.toString());
  }

  static PrivateKey privateKey(String pem, String source) {
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    PrivateKey key = null;
    for (Object object : objects(pem, source)) {
      PrivateKey found;
      try {
        if (object instanceof PEMKeyPair pair) {
          found = converter.getPrivateKey(pair.getPrivateKeyInfo()); // PKCS#1 or SEC1
        } else if (object instanceof PrivateKeyInfo info) {
          found = converter.getPrivateKey(info); // PKCS#8
        } else if (object instanceof PEMEncryptedKeyPair || object instanceof PKCS8EncryptedPrivateKeyInfo) {
          throw new KeyMaterialException(source + ": the private key is encrypted; give the balancer an unencrypted key"
              + " (openssl pkey -in KEY -out KEY.plain) and protect the file instead");
        } else {
          continue; // certificates or EC PARAMETERS (ASN1ObjectIdentifier) next to the key
        }
      } catch (IOException e) {
        throw new KeyMaterialException(source + ": the private key cannot be read: " + e.getMessage(), e);
      }
      if (key != null) {
        throw new KeyMaterialException(source + ": holds more than one private key; give one key per file");
      }
      key = found;
    }
    if (key == null) {
      throw new KeyMaterialException(source + ": holds no private key (expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)");
    }
    return key;
  }

  /** A trust store of every certificate in {@code file} (a CA bundle), for client certificates. */
  public static KeyStore trustStore(Path file) {
    List<X509Certificate> certificates = certificates(file);
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      for (int i = 0; i < certificates.size(); i++) {
        store.setCertificateEntry("ca-" + i, certificates.get(i));
      }
      return store;
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new KeyMaterialException(file + ": cannot make a trust store of its certificates: " + e.getMessage(), e);
    }
  }

  private static List<Object> objects(String pem, String source) {
    List<Object> objects = new ArrayList<>();
    try (Reader reader = new StringReader(pem); PEMParser parser = new PEMParser(reader)) {
      Object object;
      while ((object = parser.readObject()) != null) {
        if (!(object instanceof ASN1ObjectIdentifier)) {
          objects.add(object);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new KeyMaterialException(source + ": is not valid PEM: " + e.getMessage(), e);
    }
    return objects;
  }

  static String read(Path file) {
    try {
      // A FIFO or a device (/dev/zero) would block or never end; certificates live in regular files.
      if (Files.exists(file) && !Files.isRegularFile(file)) {
        throw new KeyMaterialException(file + ": is not a regular file");
      }
      if (Files.size(file) > MAX_FILE_BYTES) {
        throw new KeyMaterialException(file + ": is larger than " + MAX_FILE_BYTES + " bytes; not a PEM file");
      }
      return new String(Files.readAllBytes(file), StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new KeyMaterialException(file + ": no such file", e);
    } catch (IOException | SecurityException e) {
      throw new KeyMaterialException(file + ": cannot be read: " + e, e);
    }
  }
}
