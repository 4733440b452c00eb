package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where a TLS listener's certificates come from: PEM pairs or a key store file. {@link #load} reads
 * the files afresh each time (that is how a rotated certificate is picked up) and returns one
 * {@link KeyStore} with an alias per certificate, in the configured order, so that a server can choose
 * among them by SNI and fall back to the first.
 */
public interface ServerCertificates {
  /** PEM chains and keys, one key store alias per pair, in this order; at least one pair. */
  static ServerCertificates pem(List<PemPair> pairs) {
    requireNonNull(pairs, "pairs");
    if (pairs.isEmpty()) {
      throw new IllegalArgumentException("pairs must list at least one certificate and key, got none");
    }
    return new PemServerCertificates(pairs);
  }

  /** A PKCS#12 or JKS key store file (the type is detected), its keys under the store's password. */
  static ServerCertificates keyStore(Path file, String password) {
    return new KeyStoreServerCertificates(file, password);
  }

  /**
   * A PKCS#12 or JKS key store file whose password is in {@code passwordFile} (one trailing newline
   * dropped). Both are read at each {@link #load} and both are in {@link #files}: a key store rotated
   * with its password is picked up as a pair, and a password that does not open the store (one file
   * rotated, the other not yet) fails the load.
   */
  static ServerCertificates keyStore(Path file, Path passwordFile) {
    return new KeyStoreServerCertificates(file, passwordFile);
  }

  /**
   * Reads every file afresh.
   *
   * @throws KeyMaterialException when a file cannot be read or a key does not match its certificate
   */
  KeyStore load();

  /** The password of the key entries in what {@link #load} last returned. */
  String keyPassword();

  /** The files {@link #load} reads: when one of them changes, the certificates may have been rotated. */
  List<Path> files();

  /** The key store's aliases that hold a private key, in key store order. */
  static List<String> keyAliases(KeyStore store) {
    requireNonNull(store, "store");
    try {
      List<String> aliases = new ArrayList<>();
      for (String alias : Collections.list(store.aliases())) {
        if (store.isKeyEntry(alias)) {
          aliases.add(alias);
        }
      }
      return aliases;
    } catch (KeyStoreException e) {
      throw new IllegalStateException("key store not loaded", e);
    }
  }

  /** When the first leaf certificate of {@code store} expires, or {@code null} when it holds none. */
  static Instant earliestNotAfter(KeyStore store) {
    Instant earliest = null;
    try {
      for (String alias : keyAliases(store)) {
        if (store.getCertificate(alias) instanceof X509Certificate x509) {
          Instant notAfter = x509.getNotAfter().toInstant();
          earliest = earliest == null || notAfter.isBefore(earliest) ? notAfter : earliest;
        }
      }
    } catch (KeyStoreException e) {
      throw new IllegalStateException("key store not loaded", e);
    }
    return earliest;
  }

  /**
   * The leaf certificates of {@code store} that are no longer valid {@code within} from {@code now}
   * (expired ones included), for a warning before clients start refusing them.
   */
  static List<X509Certificate> expiringWithin(KeyStore store, Instant now, Duration within) {
    requireNonNull(now, "now");
    requireNonNull(within, "within");
    List<X509Certificate> expiring = new ArrayList<>();
    try {
      for (String alias : keyAliases(store)) {
        Certificate certificate = store.getCertificate(alias);
        if (certificate instanceof X509Certificate x509 && x509.getNotAfter().toInstant().isBefore(now.plus(within))) {
          expiring.add(x509);
        }
      }
    } catch (KeyStoreException e) {
      throw new IllegalStateException("key store not loaded", e);
    }
    return expiring;
  }
}
