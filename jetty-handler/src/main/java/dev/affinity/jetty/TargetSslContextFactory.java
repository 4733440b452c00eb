package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.KeyMaterialException;
import dev.affinity.tls.TargetTls;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
 * <p>While started it looks at its files every poll interval and, when their bytes changed, loads
 * them as a whole and swaps them in with {@link #reload}: connections made from then on use the new
 * CA bundle and client certificate, pooled ones keep theirs until they close. A set that does not load
 * (a new certificate whose key is not written yet) keeps the running one and is tried again at the
 * next poll, as the listeners' certificates are ({@link ListenerSslContextFactory}).
 */
final class TargetSslContextFactory extends SslContextFactory.Client {
  private static final Logger LOG = LoggerFactory.getLogger(TargetSslContextFactory.class);

  private final TargetTls tls;
  private final Scheduler scheduler;
  private final Clock clock;
  private final Duration pollInterval;
  private volatile byte[] fingerprint;
  private volatile X509Certificate clientCertificate;
  private volatile Scheduler.Task poll;
  private volatile String pendingProblem;

  /**
   * Loads the files now, so that a bad set fails where the group's client is made.
   *
   * @throws KeyMaterialException when they cannot be loaded
   */
  TargetSslContextFactory(TargetTls tls, Scheduler scheduler, Clock clock, Duration pollInterval) {
    this.tls = requireNonNull(tls, "tls");
    this.scheduler = scheduler;
    this.clock = requireNonNull(clock, "clock");
    this.pollInterval = requireNonNull(pollInterval, "pollInterval");
    setIncludeProtocols("TLSv1.3", "TLSv1.2");
    // SslContextFactory.Client already verifies host names ("HTTPS"); said again so no default can change it.
    setEndpointIdentificationAlgorithm("HTTPS");
    tls.serverName().ifPresent(name -> {
      // The JDK sends no SNI for a name without a dot ("backend"); the name was asked for, so it is sent.
      List<javax.net.ssl.SNIServerName> names = List.of(new SNIHostName(name));
      setSNIProvider((engine, computed) -> names);
    });
    this.fingerprint = tls.fingerprint();
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
    return pendingProblem;
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
    if (scheduler != null && !tls.files().isEmpty()) {
      schedulePoll();
    }
  }

  @Override
  protected void doStop() throws Exception {
    Scheduler.Task task = poll;
    if (task != null) {
      task.cancel();
    }
    super.doStop();
  }

  private void schedulePoll() {
    poll = scheduler.schedule(this::poll, pollInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  void poll() {
    try {
      reloadIfChanged();
    } catch (RuntimeException e) {
      LOG.error("affinity: TLS to targets ({}): reload failed; keeping the running certificates", tls, e);
    } finally {
      if (isRunning()) {
        schedulePoll();
      }
    }
  }

  /** Returns true when new files were swapped in. */
  boolean reloadIfChanged() {
    byte[] now = tls.fingerprint();
    if (Arrays.equals(now, fingerprint)) {
      pendingProblem = null;
      return false;
    }
    TargetTls.Material material;
    try {
      material = tls.load();
    } catch (KeyMaterialException e) {
      pendingProblem = e.getMessage();
      LOG.warn("affinity: TLS to targets: the files {} changed but do not load yet ({}); keeping the running ones and"
          + " trying again in {}", tls.files(), e.getMessage(), pollInterval);
      return false;
    }
    try {
      reload(factory -> use(material));
    } catch (Exception e) {
      throw new IllegalStateException("cannot install the new TLS material for targets " + tls + ": " + e, e);
    }
    fingerprint = now;
    pendingProblem = null;
    LOG.info("affinity: TLS to targets: reloaded {}", tls.files());
    return true;
  }
}
