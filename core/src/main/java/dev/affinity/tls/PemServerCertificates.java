package dev.affinity.tls;

import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** PEM pairs as one in-memory key store: alias {@code "0"}, {@code "1"}, ... in the configured order. */
final class PemServerCertificates implements ServerCertificates {
  private final List<PemPair> pairs;
  /** Only protects the in-memory entries from nothing in particular; the JDK's key stores need one. */
  private final String keyPassword;

  PemServerCertificates(List<PemPair> pairs) {
    this.pairs = List.copyOf(pairs);
    this.keyPassword = CertifiedKey.newKeyStorePassword();
  }

  @Override
  public KeyStore load() {
    Map<String, CertifiedKey> keys = new LinkedHashMap<>();
    for (PemPair pair : pairs) {
      keys.put(String.valueOf(keys.size()), CertifiedKey.readPem(pair.certificate(), pair.key()));
    }
    return CertifiedKey.keyStore(keys, keyPassword, pairs.toString());
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
