package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.jetty.ListenerSpec;
import dev.affinity.tls.PemPair;
import java.nio.file.Path;
import java.util.List;

/**
 * A listener's TLS: PEM certificates (several chosen by SNI) or a key store, the protocol versions,
 * and optionally the CAs whose client certificates are required. Paths are resolved against the YAML
 * file's directory; the loader has read every file once and checked each key against its certificate.
 *
 * @param certificates PEM pairs, first the default; empty with a key store
 * @param keystore a PKCS#12 or JKS file, or {@code null} with PEM certificates
 * @param password the key store's password, or {@code null} with PEM certificates
 * @param protocols some of TLSv1.3 and TLSv1.2
 * @param clientCa a PEM bundle of CAs for client certificates, or {@code null} for none
 * @param provider whose TLS runs the listener (the JDK's unless the file says {@code provider: conscrypt})
 */
public record TlsConfig(List<PemPair> certificates, Path keystore, String password, List<String> protocols, Path clientCa,
    ListenerSpec.Tls.Provider provider) {
  public static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  public TlsConfig {
    certificates = List.copyOf(requireNonNull(certificates, "certificates"));
    protocols = List.copyOf(requireNonNull(protocols, "protocols"));
    requireNonNull(provider, "provider");
    if (certificates.isEmpty() == (keystore == null)) {
      throw new IllegalArgumentException("give PEM certificates or a key store, one of the two");
    }
    if ((keystore == null) != (password == null)) {
      throw new IllegalArgumentException("a key store goes with its password, and only a key store");
    }
  }

  /** On the JDK's TLS. */
  public TlsConfig(List<PemPair> certificates, Path keystore, String password, List<String> protocols, Path clientCa) {
    this(certificates, keystore, password, protocols, clientCa, ListenerSpec.Tls.Provider.JDK);
  }

  /** A key store with the default protocols and no client certificates. */
  public TlsConfig(String keystore, String password) {
    this(List.of(), Path.of(keystore), requireNonNull(password, "password"), DEFAULT_PROTOCOLS, null);
  }

  @Override
  public String toString() {
    return "TlsConfig[certificates=" + certificates + ", keystore=" + keystore + ", password=" + (password == null ? null : "****")
        + ", protocols=" + protocols + ", clientCa=" + clientCa + ", provider=" + provider + "]";
  }
}
