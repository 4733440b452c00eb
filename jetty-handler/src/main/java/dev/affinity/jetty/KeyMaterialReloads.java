package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.FileFingerprint;
import dev.affinity.tls.KeyMaterialException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks at a set of key material files every poll interval and, when their bytes changed, loads them
 * as a whole and hands what loaded to {@code install}. A set that does not load (a new certificate
 * whose key has not been written yet, a file half-written) leaves what runs in place, is remembered as
 * the pending problem, and is tried again at the next poll. Listeners' certificates and the balancer's
 * TLS to targets rotate this one way.
 *
 * @param <M> what one load makes (a key store, a target's TLS material)
 */
final class KeyMaterialReloads<M> {
  private static final Logger LOG = LoggerFactory.getLogger(KeyMaterialReloads.class);

  private final String what;
  private final List<Path> files;
  private final Supplier<M> load;
  private final Consumer<M> install;
  private final Scheduler scheduler;
  private final Duration pollInterval;
  private final BooleanSupplier running;
  private volatile byte[] fingerprint;
  private volatile Scheduler.Task poll;
  private volatile String pendingProblem;

  /**
   * @param what names the owner in log lines ("listener X", "TLS to targets")
   * @param load reads the files afresh; throws {@link KeyMaterialException} when they do not load
   * @param install puts a loaded set in service
   * @param running whether the owner still runs (polls stop when it does not)
   */
  KeyMaterialReloads(String what, List<Path> files, Supplier<M> load, Consumer<M> install, Scheduler scheduler, Duration pollInterval,
      BooleanSupplier running) {
    this.what = requireNonNull(what, "what");
    this.files = List.copyOf(files);
    this.load = requireNonNull(load, "load");
    this.install = requireNonNull(install, "install");
    this.scheduler = scheduler;
    this.pollInterval = requireNonNull(pollInterval, "pollInterval");
    this.running = requireNonNull(running, "running");
    this.fingerprint = FileFingerprint.of(this.files);
  }

  /** Schedules the first look (nothing when there is no scheduler or no file). */
  void start() {
    if (scheduler != null && !files.isEmpty()) {
      schedulePoll();
    }
  }

  void stop() {
    Scheduler.Task task = poll;
    if (task != null) {
      task.cancel();
    }
  }

  /** Why changed files are not in service yet (the last warning), or {@code null} when none are pending. */
  String pendingProblem() {
    return pendingProblem;
  }

  private void schedulePoll() {
    poll = scheduler.schedule(this::poll, pollInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** One look at the files; package-private so that tests can run it without a scheduler. */
  void poll() {
    try {
      reloadIfChanged();
    } catch (RuntimeException e) {
      LOG.error("affinity: {}: key material reload failed; keeping what runs", what, e);
    } finally {
      if (running.getAsBoolean()) {
        schedulePoll();
      }
    }
  }

  /** Returns true when new files were put in service. */
  boolean reloadIfChanged() {
    byte[] now = FileFingerprint.of(files);
    if (Arrays.equals(now, fingerprint)) {
      pendingProblem = null; // the files are back to what is in service
      return false;
    }
    M loaded;
    try {
      loaded = load.get();
    } catch (KeyMaterialException e) {
      pendingProblem = e.getMessage();
      // Mid-rotation (say the new certificate is there, its key not yet): keep serving, look again next poll.
      // A key store's password file rotated before (or without) its key store lands here too.
      LOG.warn("affinity: {}: the files changed but do not load yet ({}); keeping the running ones and trying again in {}",
          what, e.getMessage(), pollInterval);
      return false;
    }
    install.accept(loaded);
    fingerprint = now;
    pendingProblem = null;
    LOG.info("affinity: {}: reloaded {}", what, files);
    return true;
  }
}
