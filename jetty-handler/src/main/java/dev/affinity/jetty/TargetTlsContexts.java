package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.TargetTls;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * One started {@link TargetSslContextFactory} per distinct {@link TargetTls}, shared by everything that
 * connects to those targets (the proxy's clients, the WebSocket client, the health checker): one
 * poller per set of files, one TLS session cache per set of targets. The clients find the factory
 * already started and so leave its life to this registry, which stops them all when it stops.
 */
final class TargetTlsContexts extends ContainerLifeCycle {
  private final Map<TargetTls, TargetSslContextFactory> byTls = new ConcurrentHashMap<>();
  private volatile Scheduler scheduler;
  private volatile Clock clock = Clock.systemUTC();
  private volatile Duration pollInterval = AffinityServer.Builder.DEFAULT_CERTIFICATE_POLL_INTERVAL;

  /** Where and how often the files are looked at for a rotation, and the clock expiry warnings use; before the first {@link #contextFor}. */
  synchronized void reloads(Scheduler scheduler, Duration pollInterval, Clock clock) {
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.pollInterval = requireNonNull(pollInterval, "pollInterval");
    this.clock = requireNonNull(clock, "clock");
  }

  /**
   * {@link #reloads} on {@code scheduler} at the default interval with {@code clock}, unless reloads were
   * set already: what a component that made this registry gives it at its start, when nobody else did.
   */
  synchronized void reloadsUnlessSet(Scheduler scheduler, Clock clock) {
    if (this.scheduler == null) {
      reloads(scheduler, AffinityServer.Builder.DEFAULT_CERTIFICATE_POLL_INTERVAL, clock);
    }
  }

  /**
   * The started factory for {@code tls}, made at the first call.
   *
   * @throws dev.affinity.tls.KeyMaterialException when its files cannot be loaded
   */
  SslContextFactory.Client contextFor(TargetTls tls) {
    requireNonNull(tls, "tls");
    return byTls.computeIfAbsent(tls, t -> {
      TargetSslContextFactory factory = new TargetSslContextFactory(t, scheduler, clock, pollInterval);
      addBean(factory, true);
      try {
        factory.start();
      } catch (Exception e) {
        removeBean(factory);
        throw new IllegalStateException("cannot start TLS to targets " + t + ": " + e, e);
      }
      return factory;
    });
  }

  /** The factory made for {@code tls}, or {@code null} if none was. */
  TargetSslContextFactory find(TargetTls tls) {
    return byTls.get(tls);
  }

  @Override
  protected void doStop() throws Exception {
    super.doStop();
    for (TargetSslContextFactory factory : byTls.values()) {
      removeBean(factory);
    }
    byTls.clear();
  }
}
