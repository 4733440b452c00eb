package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.jetty.ListenerSpec;
import dev.affinity.tls.PemPair;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A listener's TLS: PEM certificates (several chosen by SNI) or a key store, the protocol versions,
 * and optionally the CAs whose client certificates are asked for, required or optional. Paths are
 * resolved against the YAML file's directory; the loader has read every file once and checked each
 * key against its certificate.
 *
 * @param certificates PEM pairs, first the default; empty with a key store
 * @param keystore a PKCS#12 or JKS file, or {@code null} with PEM certificates
 * @param password the key store's password (as read at load), or {@code null} with PEM certificates
 * @param passwordFile the secret file the password was read from ({@code password: { file: PATH }}), or
 *     {@code null} when it was inline or from the environment: the listener re-reads it with the key store
 * @param protocols some of TLSv1.3 and TLSv1.2
 * @param clientCa a PEM bundle of CAs for client certificates, or {@code null} for none
 * @param clientAuth whether a client certificate is required or optional; {@code null} exactly when
 *     there is no {@code clientCa} (given {@code null} with one, it is {@link ClientAuth#REQUIRED})
 * @param provider whose TLS runs the listener (the JDK's unless the file says {@code provider: conscrypt})
 */
public record TlsConfig(List<PemPair> certificates, Path keystore, String password, Path passwordFile, List<String> protocols,
    Path clientCa, ClientAuth clientAuth, ListenerSpec.Tls.Provider provider) {
  public static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  /** {@code tls.clientAuth}. */
  public enum ClientAuth {
    REQUIRED, OPTIONAL
  }

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
    if (passwordFile != null && keystore == null) {
      throw new IllegalArgumentException("a password file goes with a key store, got " + passwordFile + " without one");
    }
    if (clientAuth != null && clientCa == null) {
      throw new IllegalArgumentException("clientAuth " + clientAuth + " needs a clientCa");
    }
    if (clientCa != null && clientAuth == null) {
      clientAuth = ClientAuth.REQUIRED;
    }
  }

  /** On the JDK's TLS. */
  public TlsConfig(List<PemPair> certificates, Path keystore, String password, Path passwordFile, List<String> protocols,
      Path clientCa, ClientAuth clientAuth) {
    this(certificates, keystore, password, passwordFile, protocols, clientCa, clientAuth, ListenerSpec.Tls.Provider.JDK);
  }

  /** No password file; client certificates required when {@code clientCa} is set; on the JDK's TLS. */
  public TlsConfig(List<PemPair> certificates, Path keystore, String password, List<String> protocols, Path clientCa) {
    this(certificates, keystore, password, null, protocols, clientCa, null, ListenerSpec.Tls.Provider.JDK);
  }

  /** No password file; client certificates required when {@code clientCa} is set. */
  public TlsConfig(List<PemPair> certificates, Path keystore, String password, List<String> protocols, Path clientCa,
      ListenerSpec.Tls.Provider provider) {
    this(certificates, keystore, password, null, protocols, clientCa, null, provider);
  }

  /** A key store with the default protocols and no client certificates. */
  public TlsConfig(String keystore, String password) {
    this(List.of(), Path.of(keystore), requireNonNull(password, "password"), DEFAULT_PROTOCOLS, null);
  }

  /**
   * Equal settings: with a password file, the file stands for the password, whose content the listener
   * follows by itself; a reload that finds it rotated is not a listener change that needs a restart.
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof TlsConfig other && certificates.equals(other.certificates) && Objects.equals(keystore, other.keystore)
        && Objects.equals(passwordFile, other.passwordFile) && (passwordFile != null || Objects.equals(password, other.password))
        && protocols.equals(other.protocols) && Objects.equals(clientCa, other.clientCa) && clientAuth == other.clientAuth
        && provider == other.provider;
  }

  @Override
  public int hashCode() {
    return Objects.hash(certificates, keystore, passwordFile, passwordFile != null ? null : password, protocols, clientCa, clientAuth,
        provider);
  }

  @Override
  public String toString() {
    return "TlsConfig[certificates=" + certificates + ", keystore=" + keystore + ", password=" + (password == null ? null : "****")
        + ", passwordFile=" + passwordFile + ", protocols=" + protocols + ", clientCa=" + clientCa + ", clientAuth=" + clientAuth
        + ", provider=" + provider + "]";
  }
}
