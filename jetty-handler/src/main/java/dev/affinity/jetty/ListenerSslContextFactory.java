package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.KeyMaterialException;
import dev.affinity.tls.Pem;
import dev.affinity.tls.ServerCertificates;
import java.security.KeyStore;
import java.security.NoSuchAlgorithmException;
import java.security.Principal;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.ssl.X509;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TLS listener's {@link SslContextFactory}: its certificates from {@link ServerCertificates},
 * chosen by SNI (a client without SNI, or asking for a name no certificate has, gets the first
 * certificate, as ALB's default certificate), TLSv1.3/TLSv1.2 only, and
 * client certificates asked for when a client CA is set: required, or optional (a certificate sent
 * must still chain to the CA; the JDK fails the handshake on one that does not).
 *
 * <p>While started it looks at its certificate files every poll interval and, when their bytes
 * changed, loads them as a whole and swaps them in with {@link #reload}: handshakes from then on use
 * the new certificates, open connections keep theirs. A set that does not load (a certificate whose
 * key has not been written yet, a file half-written) leaves the running certificates in place and is
 * tried again at the next poll.
 */
class ListenerSslContextFactory extends SslContextFactory.Server {
  private static final Logger LOG = LoggerFactory.getLogger(ListenerSslContextFactory.class);
  /** Certificates expiring sooner than this are warned about at each load. */
  static final Duration EXPIRY_WARNING = Duration.ofDays(14);

  private final String name;
  private final ServerCertificates certificates;
  private final Clock clock;
  private final ListenerSpec.Tls.Provider provider;
  private final KeyMaterialReloads<KeyStore> reloads;
  /** Key aliases in key store order; the first of a key type is the default certificate. */
  private volatile List<String> aliases;
  private volatile List<X509Certificate> expiring;
  private volatile java.time.Instant earliestNotAfter;

  /**
   * Loads the certificates now, so that a bad set fails the server's build, not its start.
   *
   * @throws dev.affinity.tls.KeyMaterialException when they cannot be loaded
   */
  ListenerSslContextFactory(String name, ListenerSpec.Tls tls, Scheduler scheduler, Clock clock, Duration pollInterval) {
    this.name = requireNonNull(name, "name");
    this.certificates = tls.certificates();
    this.clock = requireNonNull(clock, "clock");
    this.provider = tls.provider();
    // Jetty's default cipher suites already leave out the weak ones; the protocol floor is ours.
    setIncludeProtocols(tls.protocols().toArray(new String[0]));
    tls.clientCa().ifPresent(bundle -> {
      setTrustStore(Pem.trustStore(bundle));
      if (tls.clientAuth().orElseThrow() == ListenerSpec.Tls.ClientAuth.OPTIONAL) {
        setWantClientAuth(true);
      } else {
        setNeedClientAuth(true);
      }
    });
    // Renegotiation is a TLS 1.2 denial-of-service lever with no use for a balancer's clients.
    setRenegotiationAllowed(false);
    this.reloads = new KeyMaterialReloads<>("listener " + name, certificates.files(), certificates::load, this::install,
        requireNonNull(scheduler, "scheduler"), requireNonNull(pollInterval, "pollInterval"), this::isRunning);
    use(certificates.load());
  }

  /** Installs {@code store} (before start or inside {@link #reload}). */
  private void use(KeyStore store) {
    setKeyStore(store);
    setKeyManagerPassword(certificates.keyPassword());
    this.aliases = ServerCertificates.keyAliases(store);
    this.expiring = ServerCertificates.expiringWithin(store, clock.instant(), EXPIRY_WARNING);
    this.earliestNotAfter = ServerCertificates.earliestNotAfter(store);
    for (X509Certificate certificate : expiring) {
      LOG.warn("affinity: listener {}: the certificate {} expires at {}, within {} days; renew it",
          name, certificate.getSubjectX500Principal().getName(), certificate.getNotAfter().toInstant(), EXPIRY_WARNING.toDays());
    }
  }

  /** Why changed certificate files are not in service yet (the last warning), or {@code null} when none are pending. */
  String pendingReloadProblem() {
    return reloads.pendingProblem();
  }

  /** When the first of the certificates in service expires (the one an expiry alert is about), or {@code null} if none is loaded. */
  java.time.Instant earliestNotAfter() {
    return earliestNotAfter;
  }

  /** The leaf certificates that expired or expire within {@link #EXPIRY_WARNING} as of the last load. */
  List<X509Certificate> expiringCertificates() {
    return expiring;
  }

  /** Conscrypt's context for a Conscrypt listener; key and trust managers stay the JDK's (Conscrypt takes them). */
  @Override
  protected SSLContext getSSLContextInstance() throws NoSuchAlgorithmException {
    return provider == ListenerSpec.Tls.Provider.CONSCRYPT ? ConscryptTls.context(getProtocol()) : super.getSSLContextInstance();
  }

  @Override
  protected void doStart() throws Exception {
    super.doStart();
    reloads.start();
  }

  @Override
  protected void doStop() throws Exception {
    reloads.stop();
    super.doStop();
  }

  /** One look at the files; package-private so that tests can run it without a scheduler. */
  void poll() {
    reloads.poll();
  }

  /** Returns true when new certificates were swapped in. */
  boolean reloadIfChanged() {
    return reloads.reloadIfChanged();
  }

  private void install(KeyStore store) {
    try {
      reload(factory -> use(store));
    } catch (Exception e) {
      throw new IllegalStateException("cannot install the new certificates of listener " + name + ": " + e, e);
    }
  }

  @Override
  public String sniSelect(String keyType, Principal[] issuers, SSLSession session, String sniHost, Collection<X509> certificates) {
    if (sniHost != null) {
      X509 match = certificates.stream().filter(x509 -> x509.matches(sniHost))
          .min(Comparator.comparingInt(x509 -> x509.getWilds().size())) // an exact name beats a wildcard
          .orElse(null);
      if (match != null) {
        return match.getAlias();
      }
      if (aliases.stream().map(this::getX509).filter(Objects::nonNull).anyMatch(x509 -> x509.matches(sniHost))) {
        return null; // a certificate of another key type has the name: let the JDK ask for that type
      }
    }
    // No SNI, or a name no certificate has: the first certificate (ALB's default certificate). For
    // another key type, null makes the JDK ask again with the first certificate's type.
    String first = aliases.get(0);
    for (X509 x509 : certificates) {
      if (x509.getAlias().equals(first)) {
        return first;
      }
    }
    return null;
  }
}
