package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.TargetTls;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The balancer's side of TLS to one set of {@code https://} targets ({@link TargetTls}): the CAs it
 * trusts for them, the name their certificates must carry (sent as SNI as well), the client
 * certificate it shows them, TLSv1.3/TLSv1.2 only; host names always verified.
 *
 * <p>While started it looks at its files every poll interval ({@link KeyMaterialReloads}) and swaps a
 * changed set in with {@link #reload} once it loads as a whole: connections made from then on use the
 * new CA bundle and client certificate, pooled ones keep theirs until they close.
 */
final class TargetSslContextFactory extends SslContextFactory.Client {
  private static final Logger LOG = LoggerFactory.getLogger(TargetSslContextFactory.class);

  private final TargetTls tls;
  private final Clock clock;
  private final KeyMaterialReloads<TargetTls.Material> reloads;
  private volatile X509Certificate clientCertificate;

  /**
   * Loads the files now, so that a bad set fails where the group's client is made.
   *
   * @throws dev.affinity.tls.KeyMaterialException when they cannot be loaded
   */
  TargetSslContextFactory(TargetTls tls, Scheduler scheduler, Clock clock, Duration pollInterval) {
    this.tls = requireNonNull(tls, "tls");
    this.clock = requireNonNull(clock, "clock");
    setIncludeProtocols("TLSv1.3", "TLSv1.2");
    // SslContextFactory.Client already verifies host names ("HTTPS"); said again so no default can change it.
    setEndpointIdentificationAlgorithm("HTTPS");
    tls.serverName().ifPresent(name -> {
      // The JDK sends no SNI for a name without a dot ("backend"); the name was asked for, so it is sent.
      List<javax.net.ssl.SNIServerName> names = List.of(new SNIHostName(name));
      setSNIProvider((engine, computed) -> names);
    });
    this.reloads = new KeyMaterialReloads<>("TLS to targets " + tls, tls.files(), tls::load, this::install, scheduler, pollInterval,
        this::isRunning);
    use(tls.load());
  }

  TargetTls tls() {
    return tls;
  }

  private void use(TargetTls.Material material) {
    if (material.trustStore() != null) {
      setTrustStore(material.trustStore());
    }
    if (material.keyStore() != null) {
      setKeyStore(material.keyStore());
      setKeyManagerPassword(material.keyPassword());
    }
    this.clientCertificate = material.clientCertificate();
    X509Certificate client = material.clientCertificate();
    if (client != null && client.getNotAfter().toInstant().isBefore(clock.instant().plus(ListenerSslContextFactory.EXPIRY_WARNING))) {
      LOG.warn("affinity: the client certificate {} shown to targets ({}) expires at {}, within {} days; renew it",
          client.getSubjectX500Principal().getName(), tls.clientCertificate().orElseThrow().certificate(),
          client.getNotAfter().toInstant(), ListenerSslContextFactory.EXPIRY_WARNING.toDays());
    }
  }

  /** The client certificate shown to targets as of the last load, or {@code null} when none is. */
  X509Certificate clientCertificate() {
    return clientCertificate;
  }

  /** Why changed files are not in service yet (the last warning), or {@code null} when none are pending. */
  String pendingReloadProblem() {
    return reloads.pendingProblem();
  }

  /**
   * With a server name, every engine is made for that name instead of the target's address: the JDK
   * checks the certificate against an engine's peer host, and keys its session cache by it.
   */
  @Override
  public SSLEngine newSSLEngine(String host, int port) {
    return super.newSSLEngine(tls.serverName().orElse(host), port);
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

  private void install(TargetTls.Material material) {
    try {
      reload(factory -> use(material));
    } catch (Exception e) {
      throw new IllegalStateException("cannot install the new TLS material for targets " + tls + ": " + e, e);
    }
  }
}
