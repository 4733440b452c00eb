package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.standalone.Topology.DynamicTarget;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.DiscoveryConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DNS discovery: each target group with {@code discovery:} gets the targets its DNS name answers, through
 * {@link Topology#replace}, so new records join under the group's slow start and vanished ones drain with
 * their pins for its deregistration delay.
 *
 * <p>A group's name is asked again after its {@code interval} or the answer's shortest TTL, whichever is
 * shorter (never sooner than a second). When no resolver answers (timeout, network error, SERVFAIL), the
 * last good answer stays: DNS trouble never empties a group. An NXDOMAIN or an answer without records
 * removes the discovered targets only once it has lasted {@code hold.nx} (on the injected clock); a good
 * answer before then changes nothing.
 *
 * <p>Queries run on the given {@link Scheduler}, one group after another; tests pass one they run by
 * hand. A configuration reload that adds, changes or removes a group's {@code discovery:} is followed
 * (removed: its discovered targets drain).
 */
public final class DnsDiscovery extends ContainerLifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(DnsDiscovery.class);

  private final Topology topology;
  private final Scheduler scheduler;
  private final Clock clock;
  /** By group; guarded by this. */
  private final Map<String, Poller> pollers = new LinkedHashMap<>();
  private BalancerConfig seen;

  public DnsDiscovery(Topology topology, Scheduler scheduler, Clock clock) {
    this.topology = requireNonNull(topology, "topology");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.clock = requireNonNull(clock, "clock");
    addBean(scheduler);
  }

  @Override
  protected void doStart() throws Exception {
    super.doStart();
    // Told of every rebuild (ours too); a reload is the one that matters, and reconcile sees which.
    topology.onChange(t -> {
      if (isRunning()) {
        scheduler.schedule(this::reconcile, 0, TimeUnit.MILLISECONDS);
      }
    });
    reconcile();
  }

  @Override
  protected void doStop() throws Exception {
    synchronized (this) {
      pollers.values().forEach(Poller::stop);
      pollers.clear();
      seen = null;
    }
    super.doStop();
  }

  /** The groups polled now, by name, with what they ask. */
  public synchronized Map<String, DiscoveryConfig> discovering() {
    Map<String, DiscoveryConfig> out = new LinkedHashMap<>();
    pollers.forEach((group, p) -> out.put(group, p.config));
    return out;
  }

  /**
   * Completes when every group polled now has had its first answer applied (or its first query failed,
   * which keeps what it had): what a balancer taking over another's port waits for, so that it knows the
   * discovered targets before it serves. Complete at once without discovery.
   */
  public synchronized CompletableFuture<Void> firstAnswers() {
    return CompletableFuture.allOf(pollers.values().stream().map(p -> p.firstPoll).toArray(CompletableFuture[]::new));
  }

  /** Starts, restarts and stops pollers to match the configuration in force. */
  synchronized void reconcile() {
    if (!isStarting() && !isRunning()) {
      return;
    }
    BalancerConfig config = topology.config();
    if (config == seen) {
      return;
    }
    seen = config;
    Map<String, DiscoveryConfig> wanted = new LinkedHashMap<>();
    for (TargetGroupConfig g : config.targetGroups()) {
      if (g.discovery() != null) {
        wanted.put(g.name(), g.discovery());
      }
    }
    Map<String, Poller> changed = new LinkedHashMap<>();
    for (String group : new ArrayList<>(pollers.keySet())) {
      Poller p = pollers.get(group);
      DiscoveryConfig next = wanted.get(group);
      if (p.config.equals(next)) {
        continue;
      }
      p.stop();
      pollers.remove(group);
      changed.put(group, p);
      if (next == null) {
        LOG.info("affinity: DNS discovery of group {} ({}) is off; its discovered targets drain", group, p.config.dns());
        replace(group, List.of());
      }
    }
    wanted.forEach((group, discovery) -> {
      if (!pollers.containsKey(group)) {
        Poller p = new Poller(group, discovery, changed.get(group));
        pollers.put(group, p);
        // The first query at once: a new group (or a changed name) should not wait an interval for targets.
        p.schedule(Duration.ZERO);
      }
    });
  }

  private boolean replace(String group, List<DynamicTarget> targets) {
    try {
      topology.replace(group, Topology.Source.DNS, targets);
      return true;
    } catch (RuntimeException e) {
      LOG.error("affinity: DNS discovery of group {}: the targets found were refused, keeping the previous ones: {}", group,
          e.getMessage());
      return false;
    }
  }

  /** One group's queries. Its fields other than the task are touched only by its own polls, one at a time. */
  private final class Poller {
    final String group;
    final DiscoveryConfig config;
    /** What this group's DNS answer put in the topology last; empty before the first answer. */
    private volatile List<DnsQuery.Discovered> applied = List.of();
    /** When the NXDOMAIN or empty answers began, or null while the name answers with records. */
    private volatile Instant emptySince;
    private String lastProblem;
    private Scheduler.Task task;
    private boolean stopped;
    /** Done when the first poll is over, whatever it found. */
    final CompletableFuture<Void> firstPoll = new CompletableFuture<>();

    /** @param before the poller this one replaces (its settings changed), or null */
    Poller(String group, DiscoveryConfig config, Poller before) {
      this.group = group;
      this.config = config;
      if (before != null) {
        // Its targets are in the topology: this poller's first answer is compared with them.
        applied = before.applied;
        if (before.config.dns().equals(config.dns()) && before.config.type() == config.type()) {
          // The same name: a hold in progress keeps its start (a reload does not reset it).
          emptySince = before.emptySince;
        }
      }
    }

    void schedule(Duration delay) {
      synchronized (DnsDiscovery.this) {
        if (!stopped) {
          task = scheduler.schedule(this::poll, delay.toMillis(), TimeUnit.MILLISECONDS);
        }
      }
    }

    void stop() {
      stopped = true;
      // Replaced or switched off before its first answer: nothing to wait for any more.
      firstPoll.complete(null);
      if (task != null) {
        task.cancel();
      }
    }

    private void poll() {
      Duration next = config.interval();
      try {
        // The network round runs without the lock: a slow resolver must not hold up a reload.
        DnsQuery.Answer answer = DnsQuery.ask(config);
        next = handle(answer);
      } catch (RuntimeException e) {
        LOG.error("affinity: DNS discovery of group {} ({}) failed; keeping its targets", group, config.dns(), e);
      } finally {
        firstPoll.complete(null);
        schedule(next);
      }
    }

    /** Applies one answer; returns when to ask again. */
    private Duration handle(DnsQuery.Answer answer) {
      if (answer instanceof DnsQuery.Found found) {
        emptySince = null;
        problem(null, null);
        apply(found.targets());
        return shorter(config.interval(), found.ttl());
      }
      if (answer instanceof DnsQuery.Nothing nothing) {
        Instant now = clock.instant();
        if (emptySince == null) {
          emptySince = now;
        }
        Duration held = Duration.between(emptySince, now);
        if (held.compareTo(config.holdNx()) >= 0) {
          if (!applied.isEmpty()) {
            LOG.warn("affinity: DNS discovery of group {}: {} has answered {} for {}; its {} discovered targets drain", group,
                config.dns(), nothing.why(), held, applied.size());
          }
          apply(List.of());
          return config.interval();
        }
        problem("nothing", config.dns() + " answers " + nothing.why() + "; the " + applied.size() + " discovered targets stay until it has for "
            + config.holdNx());
        // Asked again when the hold runs out, so that the targets go then and not up to an interval later.
        return shorter(config.interval(), config.holdNx().minus(held));
      }
      DnsQuery.Failed failed = (DnsQuery.Failed) answer;
      problem("failed", "no resolver answered for " + config.dns() + " (" + failed.why() + "); keeping the " + applied.size()
          + " targets of the last answer");
      return config.interval();
    }

    private void apply(List<DnsQuery.Discovered> targets) {
      if (targets.equals(applied)) {
        return;
      }
      List<DynamicTarget> dynamic = new ArrayList<>(targets.size());
      for (DnsQuery.Discovered d : targets) {
        dynamic.add(new DynamicTarget(group, d.id(), d.uri(), d.weight(), Topology.Source.DNS));
      }
      synchronized (DnsDiscovery.this) {
        // A reload may have stopped this poller while it asked; its answer must not bring targets back.
        if (stopped || !replace(group, dynamic)) {
          return;
        }
      }
      LOG.info("affinity: DNS discovery of group {}: {} ({}) gives {} targets {}", group, config.dns(), config.type(), targets.size(),
          targets.stream().map(DnsQuery.Discovered::id).toList());
      applied = List.copyOf(targets);
    }

    /** Logged when the kind of trouble changes, not at every round of an outage. */
    private void problem(String kind, String message) {
      if (kind != null && !kind.equals(lastProblem)) {
        LOG.warn("affinity: DNS discovery of group {}: {}", group, message);
      } else if (kind == null && lastProblem != null) {
        LOG.info("affinity: DNS discovery of group {}: {} answers again", group, config.dns());
      }
      lastProblem = kind;
    }
  }

  private static Duration shorter(Duration a, Duration b) {
    Duration d = a.compareTo(b) <= 0 ? a : b;
    return d.isNegative() ? Duration.ZERO : d;
  }
}
