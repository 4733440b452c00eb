package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.net.IDN;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How the balancer speaks TLS to a target group's {@code https://} targets: which certificate
 * authorities it trusts for them, which name their certificates must carry, and which certificate
 * it shows them itself (mutual TLS to the targets).
 *
 * <p>Certificates are always verified, host name included: without {@link Builder#ca} against the
 * JDK's trust store (publicly trusted certificates), with it against the given CAs only. A target
 * with a self-signed certificate is reached by naming that certificate as its {@code ca}; there is
 * no switch that turns verification off, because a balancer that does not check whom it talks to
 * hands its clients' cookies and credentials to whoever answers on the target's address.
 *
 * <p>Without {@link Builder#serverName} the name checked (and sent as SNI) is the target URI's host:
 * a target given by IP address needs that address in its certificate. With it, every target of the
 * group is asked for, and must prove, that one name, as a service behind several addresses usually
 * does.
 *
 * <p>Two values are equal when they name the same files and server name: what the files hold is read
 * by {@link #load()}, again whenever their bytes change ({@link #fingerprint()}), so that rotated CA
 * bundles and client certificates are picked up without a restart.
 */
public final class TargetTls {
  /** Letters, digits and hyphens in dot-separated labels, as a certificate's DNS name holds them. */
  private static final Pattern HOST_NAME = Pattern.compile("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

  private final Path ca;
  private final String serverName;
  private final PemPair clientCertificate;

  private TargetTls(Builder b) {
    this.ca = b.ca;
    this.serverName = b.serverName;
    this.clientCertificate = b.clientCertificate;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The PEM bundle of the only CAs trusted for the targets; empty: the JDK's trust store. */
  public Optional<Path> ca() {
    return Optional.ofNullable(ca);
  }

  /** The name sent as SNI and required in every target's certificate; empty: each target URI's host. */
  public Optional<String> serverName() {
    return Optional.ofNullable(serverName);
  }

  /** The certificate and key shown to targets that ask for one; empty: none is shown. */
  public Optional<PemPair> clientCertificate() {
    return Optional.ofNullable(clientCertificate);
  }

  /** What {@link #load()} reads; when one of them changes, it may have been rotated. */
  public List<Path> files() {
    List<Path> files = new ArrayList<>(3);
    if (ca != null) {
      files.add(ca);
    }
    if (clientCertificate != null) {
      files.add(clientCertificate.certificate());
      files.add(clientCertificate.key());
    }
    return List.copyOf(files);
  }

  /**
   * Reads the files afresh: the CA bundle as a trust store, the client certificate with its key
   * (checked to belong together, so that a half-rotated pair is refused as a whole).
   *
   * @throws KeyMaterialException when a file cannot be read, holds no certificate, or the key is not the certificate's
   */
  public Material load() {
    KeyStore trustStore = ca == null ? null : Pem.trustStore(ca);
    KeyStore keyStore = null;
    String keyPassword = null;
    X509Certificate clientLeaf = null;
    if (clientCertificate != null) {
      CertifiedKey key = CertifiedKey.readPem(clientCertificate.certificate(), clientCertificate.key());
      keyPassword = CertifiedKey.newKeyStorePassword();
      keyStore = CertifiedKey.keyStore(Map.of("client", key), keyPassword, clientCertificate.toString());
      clientLeaf = key.certificate();
    }
    return new Material(trustStore, keyStore, keyPassword, clientLeaf);
  }

  /**
   * A digest of the bytes of every file in {@link #files()} (a missing or unreadable file counts as
   * such, so that its coming back is a change too): equal digests, nothing to reload.
   */
  public byte[] fingerprint() {
    return FileFingerprint.of(files());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TargetTls other && Objects.equals(ca, other.ca) && Objects.equals(serverName, other.serverName)
        && Objects.equals(clientCertificate, other.clientCertificate);
  }

  @Override
  public int hashCode() {
    return Objects.hash(ca, serverName, clientCertificate);
  }

  @Override
  public String toString() {
    return "TargetTls{ca=" + (ca == null ? "JDK trust store" : ca) + ", serverName=" + (serverName == null ? "target host" : serverName)
        + (clientCertificate == null ? "" : ", clientCertificate=" + clientCertificate.certificate()) + "}";
  }

  /**
   * What the files held at one {@link #load()}: a trust store (or {@code null} for the JDK's), a key
   * store with the client certificate under the alias {@code client} and its key password (or
   * {@code null}s when none is shown), and the client certificate's leaf (for expiry warnings).
   */
  public record Material(KeyStore trustStore, KeyStore keyStore, String keyPassword, X509Certificate clientCertificate) {}

  public static final class Builder {
    private Path ca;
    private String serverName;
    private PemPair clientCertificate;

    private Builder() {}

    /** Trust only the CAs (or self-signed certificates) in this PEM bundle for the targets. */
    public Builder ca(Path ca) {
      this.ca = requireNonNull(ca, "ca");
      return this;
    }

    /**
     * Send this name as SNI and require it in each target's certificate, whatever address the target
     * has: an ASCII host name (an internationalised one is taken in its {@code xn--} form), no IP
     * address, no port, no wildcard.
     */
    public Builder serverName(String serverName) {
      requireNonNull(serverName, "serverName");
      String ascii;
      try {
        ascii = IDN.toASCII(serverName.trim(), IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("serverName must be a host name, got '" + serverName + "'", e);
      }
      if (ascii.endsWith(".")) {
        ascii = ascii.substring(0, ascii.length() - 1);
      }
      if (ascii.isEmpty() || ascii.length() > 253 || !HOST_NAME.matcher(ascii).matches()) {
        throw new IllegalArgumentException("serverName must be a host name (letters, digits, hyphens and dots), got '" + serverName + "'");
      }
      if (ascii.chars().allMatch(c -> c == '.' || Character.isDigit(c))) {
        // SNI carries host names only (RFC 6066 section 3); an address is checked against the target URI's host.
        throw new IllegalArgumentException("serverName must be a host name, not an IP address, got '" + serverName + "'");
      }
      this.serverName = ascii;
      return this;
    }

    /** Show this certificate (chain file, leaf first) with its key to targets that ask for a client certificate. */
    public Builder clientCertificate(PemPair clientCertificate) {
      this.clientCertificate = requireNonNull(clientCertificate, "clientCertificate");
      return this;
    }

    /**
     * Loads the files once, so that a CA bundle or client certificate that cannot be used fails here,
     * at configuration, not at the first connection to a target.
     *
     * @throws KeyMaterialException when the files cannot be loaded
     */
    public TargetTls build() {
      TargetTls tls = new TargetTls(this);
      tls.load();
      return tls;
    }
  }
}
