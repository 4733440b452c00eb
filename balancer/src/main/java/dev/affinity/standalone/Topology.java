package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Router;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.TargetConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place the running router is rebuilt: from the YAML configuration in force plus the targets
 * added at runtime (by the registration API, by DNS discovery). A configuration reload, a registration
 * and a DNS answer all come through here, one at a time, so none of them undoes another; every rebuild
 * goes through {@link BalancerFactory#router} with the running router as the previous one, so targets
 * that remain keep their pins, health and counters, new ones ramp under slow start and vanished ones
 * drain for their group's deregistration delay.
 *
 * <p>A target of the YAML always wins over a runtime one with the same id in the same group; a runtime
 * target naming a group the configuration no longer has is kept aside (not routed) until it comes back.
 */
public final class Topology {
  private static final Logger LOG = LoggerFactory.getLogger(Topology.class);

  /** Who added a runtime target. */
  public enum Source { API, DNS }

  /** A target added at runtime to {@code group}. */
  public record DynamicTarget(String group, String id, URI uri, int weight, Source source) {
    public DynamicTarget {
      requireNonNull(group, "group");
      requireNonNull(id, "id");
      requireNonNull(uri, "uri");
      requireNonNull(source, "source");
    }

    TargetConfig toConfig() {
      return new TargetConfig(id, uri, weight);
    }
  }

  private final BalancerFactory factory;
  private final AffinityServer server;
  private BalancerConfig config;
  /** By group, then id, in the order they came. */
  private final Map<String, Map<String, DynamicTarget>> dynamic = new LinkedHashMap<>();
  private final List<Consumer<Topology>> listeners = new ArrayList<>();

  public Topology(BalancerFactory factory, AffinityServer server, BalancerConfig config) {
    this.factory = requireNonNull(factory, "factory");
    this.server = requireNonNull(server, "server");
    this.config = requireNonNull(config, "config");
  }

  /** The server whose router this topology rebuilds. */
  AffinityServer server() {
    return server;
  }

  /** The YAML configuration in force. */
  public synchronized BalancerConfig config() {
    return config;
  }

  /** Told after every rebuild (a state file, the status page...), on the thread that changed the topology. */
  public synchronized void onChange(Consumer<Topology> listener) {
    listeners.add(requireNonNull(listener, "listener"));
  }

  /**
   * The configuration {@code next} and its {@code cookies} replace the running ones, runtime targets kept.
   *
   * @throws IllegalArgumentException or IllegalStateException when core refuses the result; nothing changed then
   */
  public synchronized void apply(BalancerConfig next, AffinityCookies cookies) {
    requireNonNull(next, "next");
    requireNonNull(cookies, "cookies");
    rebuild(next, cookies);
    this.config = next;
  }

  /** Adds or replaces one runtime target; refused (nothing changed) when core refuses the result. */
  public synchronized void put(DynamicTarget target) {
    requireNonNull(target, "target");
    Map<String, DynamicTarget> group = dynamic.computeIfAbsent(target.group(), g -> new LinkedHashMap<>());
    DynamicTarget before = group.put(target.id(), target);
    try {
      rebuild(config, server.balancer().router().cookies());
    } catch (RuntimeException e) {
      if (before == null) {
        group.remove(target.id());
      } else {
        group.put(target.id(), before);
      }
      throw e;
    }
  }

  /** Removes one runtime target (it drains); false when there was none. */
  public synchronized boolean remove(String group, String id) {
    Map<String, DynamicTarget> targets = dynamic.get(group);
    if (targets == null || targets.remove(id) == null) {
      return false;
    }
    rebuild(config, server.balancer().router().cookies());
    return true;
  }

  /**
   * The runtime targets {@code source} feeds into {@code group} become {@code targets} (a DNS answer):
   * the others of that source in that group are removed, and drain.
   */
  public synchronized void replace(String group, Source source, List<DynamicTarget> targets) {
    requireNonNull(group, "group");
    requireNonNull(source, "source");
    Map<String, DynamicTarget> before = new LinkedHashMap<>(dynamic.getOrDefault(group, Map.of()));
    Map<String, DynamicTarget> after = new LinkedHashMap<>();
    before.forEach((id, t) -> {
      if (t.source() != source) {
        after.put(id, t);
      }
    });
    for (DynamicTarget t : targets) {
      if (!t.group().equals(group) || t.source() != source) {
        throw new IllegalArgumentException(t + " is not a " + source + " target of group " + group);
      }
      after.put(t.id(), t);
    }
    dynamic.put(group, after);
    try {
      rebuild(config, server.balancer().router().cookies());
    } catch (RuntimeException e) {
      dynamic.put(group, before);
      throw e;
    }
  }

  /** Every runtime target, by group, in the order they came. */
  public synchronized List<DynamicTarget> dynamicTargets() {
    return dynamic.values().stream().flatMap(m -> m.values().stream()).toList();
  }

  /** The configuration as routed: each group's YAML targets, then its runtime ones. */
  synchronized BalancerConfig merged() {
    return merge(config);
  }

  private BalancerConfig merge(BalancerConfig base) {
    if (dynamic.values().stream().allMatch(Map::isEmpty)) {
      return base;
    }
    Set<String> yamlIds = base.targetGroups().stream().flatMap(g -> g.targets().stream()).map(TargetConfig::id)
        .collect(Collectors.toSet());
    List<TargetGroupConfig> groups = new ArrayList<>(base.targetGroups().size());
    for (TargetGroupConfig g : base.targetGroups()) {
      Map<String, DynamicTarget> extra = dynamic.getOrDefault(g.name(), Map.of());
      if (extra.isEmpty()) {
        groups.add(g);
        continue;
      }
      List<TargetConfig> targets = new ArrayList<>(g.targets());
      for (DynamicTarget t : extra.values()) {
        if (yamlIds.contains(t.id())) {
          LOG.warn("affinity: runtime target {} of group {} has the id of a configured target; the configured one wins", t.id(), g.name());
        } else {
          targets.add(t.toConfig());
        }
      }
      groups.add(g.withTargets(targets));
    }
    return base.withTargetGroups(groups);
  }

  private void rebuild(BalancerConfig base, AffinityCookies cookies) {
    Router next = factory.router(merge(base), cookies, server.balancer().router());
    server.balancer().router(next);
    // Before the server starts (targets restored from the registration state), the checker's start checks them all.
    if (server.healthChecker().isStarted()) {
      server.healthChecker().refresh();
    }
    for (Consumer<Topology> listener : listeners) {
      try {
        listener.accept(this);
      } catch (RuntimeException e) {
        LOG.warn("affinity: a topology listener failed: {}", e.toString());
      }
    }
  }
}
