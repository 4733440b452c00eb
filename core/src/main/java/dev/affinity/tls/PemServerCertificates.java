package dev.affinity.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** PEM pairs as one in-memory key store: alias {@code "0"}, {@code "1"}, ... in the configured order. */
final class PemServerCertificates implements ServerCertificates {
  private final List<PemPair> pairs;
  /** Only protects the in-memory entries from nothing in particular; the JDK's key stores need one. */
  private final String keyPassword;

  PemServerCertificates(List<PemPair> pairs) {
    this.pairs = List.copyOf(pairs);
    byte[] random = new byte[18];
    new SecureRandom().nextBytes(random);
    this.keyPassword = Base64.getEncoder().encodeToString(random);
  }

  @Override
  public KeyStore load() {
    List<CertifiedKey> keys = new ArrayList<>(pairs.size());
    for (PemPair pair : pairs) {
      keys.add(CertifiedKey.readPem(pair.certificate(), pair.key()));
    }
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      for (int i = 0; i < keys.size(); i++) {
        CertifiedKey key = keys.get(i);
        store.setKeyEntry(String.valueOf(i), key.privateKey(), keyPassword.toCharArray(),
            key.chain().toArray(new X509Certificate[0]));
      }
      return store;
    } catch (IOException | GeneralSecurityException e) {
      throw new KeyMaterialException("cannot make a key store of " + pairs + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String keyPassword() {
    return keyPassword;
  }

  @Override
  public List<Path> files() {
    List<Path> files = new ArrayList<>();
    for (PemPair pair : pairs) {
      files.add(pair.certificate());
      files.add(pair.key());
    }
    return files;
  }

  @Override
  public String toString() {
    return "PEM " + pairs;
  }
}
