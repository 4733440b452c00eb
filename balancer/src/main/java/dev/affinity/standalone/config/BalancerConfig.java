package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.TrustedProxies;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.jetty.Limits;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The standalone balancer's configuration, as read from YAML by {@link BalancerConfigLoader}. The
 * loader validates everything; the compact constructors only refuse nulls where a value is needed.
 *
 * @param listeners never empty: {@code listeners:}, or the one {@code listen:} (by default 127.0.0.1:8080)
 * @param keys empty when the file has no {@code keys:} (the launcher then uses an ephemeral key and warns)
 * @param forward never empty: without {@code forward:} the loader forwards everything to the first group
 * @param groupStickiness how long a client stays on one target group, or {@code null} for no group stickiness
 * @param trustedProxies whose forwarding and PROXY headers are believed; {@link TrustedProxies#none()} without the key
 * @param accessLog {@code accessLog:}, {@link AccessLogConfig#off()} without the key
 * @param limits {@code limits:}, each absent key at its default ({@link Limits#defaults()})
 * @param shutdown {@code shutdown:}, each absent key at its default ({@link GracefulShutdown#defaults()})
 * @param rules the global listener rules, in file order (empty without {@code rules:})
 * @param defaultAction what applies when no rule matches, or {@code null} for the top-level {@code forward}
 * @param listenerRules listeners' own rules by listener name ({@code host:port}); a listener without is matched
 *     against the global ones
 * @param warmup {@code warmup:}, each absent key at its default ({@link WarmupConfig#defaults()})
 */
public record BalancerConfig(
    List<Listen> listeners,
    List<KeyConfig> keys,
    CookieConfig cookies,
    List<TargetGroupConfig> targetGroups,
    List<ForwardConfig> forward,
    Duration groupStickiness,
    AdminConfig admin,
    WebSocketConfig websocket,
    UpstreamConfig upstream,
    TrustedProxies trustedProxies,
    Limits limits,
    AccessLogConfig accessLog,
    GracefulShutdown shutdown,
    List<RuleConfig> rules,
    dev.affinity.rules.RuleAction defaultAction,
    Map<String, List<RuleConfig>> listenerRules,
    WarmupConfig warmup) {

  public BalancerConfig {
    listeners = List.copyOf(requireNonNull(listeners, "listeners"));
    if (listeners.isEmpty()) {
      throw new IllegalArgumentException("listeners must not be empty");
    }
    keys = List.copyOf(requireNonNull(keys, "keys"));
    requireNonNull(cookies, "cookies");
    targetGroups = List.copyOf(requireNonNull(targetGroups, "targetGroups"));
    forward = List.copyOf(requireNonNull(forward, "forward"));
    requireNonNull(admin, "admin");
    requireNonNull(websocket, "websocket");
    requireNonNull(upstream, "upstream");
    requireNonNull(trustedProxies, "trustedProxies");
    requireNonNull(limits, "limits");
    requireNonNull(accessLog, "accessLog");
    requireNonNull(shutdown, "shutdown");
    rules = List.copyOf(requireNonNull(rules, "rules"));
    listenerRules = Map.copyOf(requireNonNull(listenerRules, "listenerRules"));
    requireNonNull(warmup, "warmup");
  }

  /** The first listener: {@code listen:}, or the first of {@code listeners:}. */
  public Listen listen() {
    return listeners.get(0);
  }

  /** The keyring of the configured keys (first seals), or empty when none is configured. */
  public Optional<Keyring> keyring() {
    return keys.isEmpty() ? Optional.empty() : Optional.of(KeyConfig.toKeyring(keys));
  }

  /** The group with this name, if any. */
  public Optional<TargetGroupConfig> targetGroup(String name) {
    return targetGroups.stream().filter(g -> g.name().equals(name)).findFirst();
  }

  /** The same configuration with {@code groups} as its target groups. */
  public BalancerConfig withTargetGroups(List<TargetGroupConfig> groups) {
    return new BalancerConfig(listeners, keys, cookies, groups, forward, groupStickiness, admin, websocket, upstream, trustedProxies,
        limits, accessLog, shutdown, rules, defaultAction, listenerRules, warmup);
  }
}
