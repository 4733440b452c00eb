package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Router;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.Limits;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.BalancerConfigLoader;
import dev.affinity.standalone.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a changed configuration file to the running balancer: on a file change (polled, so it
 * works on every file system) or on {@code SIGHUP}. Targets that remain keep their pins, health and
 * counters; removed targets drain for their deregistration delay; new keys take effect while old
 * ones still open existing cookies. A file that does not validate is refused with the same one-line
 * message as at start-up, and the running configuration stays.
 *
 * <p>Polls run on the given {@link Scheduler}, which this reloader starts and stops unless it was
 * started already; tests pass one they run by hand, so they move time instead of sleeping.
 */
public final class ConfigReloader extends ContainerLifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigReloader.class);

  private final Path file;
  private final BalancerFactory factory;
  private final AffinityServer server;
  private final Topology topology;
  private final Duration pollInterval;
  private final Scheduler scheduler;
  private volatile BalancerConfig current;
  private volatile FileTime lastModified;
  private volatile long lastSize;

  /**
   * @param scheduler runs the polls (and is managed by this reloader unless already started)
   * @param pollInterval how often the file's modification time and size are looked at; at least 10 ms
   */
  public ConfigReloader(Path file, BalancerConfig current, BalancerFactory factory, AffinityServer server,
      Scheduler scheduler, Duration pollInterval) {
    this(file, current, factory, server, new Topology(factory, server, current), scheduler, pollInterval);
  }

  /** As above, rebuilding the router through {@code topology}, which also holds the targets added at runtime. */
  public ConfigReloader(Path file, BalancerConfig current, BalancerFactory factory, AffinityServer server, Topology topology,
      Scheduler scheduler, Duration pollInterval) {
    this.topology = requireNonNull(topology, "topology");
    this.file = requireNonNull(file, "file");
    this.current = requireNonNull(current, "current");
    this.factory = requireNonNull(factory, "factory");
    this.server = requireNonNull(server, "server");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    requireNonNull(pollInterval, "pollInterval");
    if (pollInterval.compareTo(Duration.ofMillis(10)) < 0) {
      throw new IllegalArgumentException("pollInterval must be at least 10 ms, got " + pollInterval);
    }
    this.pollInterval = pollInterval;
    addBean(scheduler);
  }

  public Duration pollInterval() {
    return pollInterval;
  }

  @Override
  protected void doStart() throws Exception {
    remember();
    super.doStart();
    scheduler.schedule(this::poll, pollInterval.toMillis(), TimeUnit.MILLISECONDS);
    installSighup();
  }

  private void poll() {
    try {
      FileTime modified = Files.getLastModifiedTime(file);
      long size = Files.size(file);
      if (!modified.equals(lastModified) || size != lastSize) {
        reload();
      }
    } catch (IOException e) {
      LOG.warn("affinity: cannot read {} for reload: {}", file, e.toString());
    } catch (RuntimeException e) {
      LOG.error("affinity: reload of {} failed; keeping the running configuration", file, e);
    } finally {
      if (isRunning()) {
        scheduler.schedule(this::poll, pollInterval.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }

  /** Loads the file and applies it; returns false (and logs why) when it is refused. */
  public synchronized boolean reload() {
    try {
      remember();
    } catch (IOException e) {
      LOG.warn("affinity: cannot read {}: {}", file, e.toString());
      return false;
    }
    BalancerConfig next;
    try {
      next = BalancerConfigLoader.load(file);
    } catch (ConfigException e) {
      LOG.error("affinity: reload refused, keeping the running configuration: {}", e.getMessage());
      return false;
    }
    Router previous = server.balancer().router();
    AffinityCookies cookies = Objects.equals(next.keys(), current.keys()) && Objects.equals(next.cookies(), current.cookies())
        ? previous.cookies()
        : factory.cookies(next, BalancerFactory.keyring(next));
    try {
      topology.apply(next, cookies);
    } catch (IllegalArgumentException | IllegalStateException e) {
      LOG.error("affinity: reload refused, keeping the running configuration: {}", e.getMessage());
      return false;
    }
    BalancerFactory.applyLive(server, next);
    // Certificate files are reloaded by each TLS listener as they change; the listeners themselves need a restart.
    if (!Objects.equals(next.listeners(), current.listeners()) || !Objects.equals(next.admin(), current.admin())) {
      LOG.warn("affinity: listen/listeners and admin settings changed in {}; they take effect at the next restart", file);
    }
    if (!Objects.equals(next.accessLog(), current.accessLog())) {
      LOG.warn("affinity: accessLog changed in {}; it takes effect at the next restart (in force: {})", file, current.accessLog());
    }
    Limits restartOnly = next.limits().toBuilder().maxRequestBodyBytes(current.limits().maxRequestBodyBytes()).build();
    if (!restartOnly.equals(current.limits())) {
      LOG.warn("affinity: limits changed in {}; maxRequestBodyBytes applies now, the others at the next restart (in force: {})",
          file, server.limits());
    }
    current = next;
    LOG.info("affinity: reloaded {} ({} target groups)", file, next.targetGroups().size());
    return true;
  }

  private void remember() throws IOException {
    lastModified = Files.getLastModifiedTime(file);
    lastSize = Files.size(file);
  }

  @SuppressWarnings("restriction")
  private void installSighup() {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> reload());
    } catch (Throwable e) {
      // Not every platform has SIGHUP (or lets a JVM handle it); file polling still reloads.
      LOG.debug("SIGHUP reload not available: {}", e.toString());
    }
  }
}
