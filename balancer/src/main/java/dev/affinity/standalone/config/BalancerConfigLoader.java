package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.TrustedProxies;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.jetty.Limits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;

/**
 * Reads and validates the standalone balancer's YAML file (every key: docs/configuration.md). Every
 * problem, YAML syntax included, becomes a {@link ConfigException} whose one-line message names the
 * file, the line, the key path and what is wrong; nothing else escapes.
 *
 * <p>{@link YamlDocument} turns the text into {@link YamlNode}s that know their line and key path;
 * one reader per section ({@link ListenReader}, {@link TargetGroupsReader}, ...) declares its keys in
 * a {@link Schema} and checks its values, leaving to core the rules core already has (ids, names,
 * cookie and key settings, expiry bounds).
 */
public final class BalancerConfigLoader {
  /** Largest file accepted, in characters. */
  public static final int MAX_CHARS = YamlDocument.MAX_CHARS;

  /** The top level; the sections' own schemas hang under it, so {@link #acceptedKeys} sees every key. */
  static final Schema SCHEMA = Schema.keys("listen", "listeners", "keys", "cookies", "targetGroups", "forward", "groupStickiness",
          "admin", "websocket", "upstream", "trustedProxies", "limits", "accessLog", "shutdown", "rules", "defaultAction", "warmup")
      .map("listen", ListenReader.SCHEMA)
      .listOf("listeners", ListenReader.LISTENER)
      .listOf("keys", KeysReader.SCHEMA)
      .map("cookies", CookiesReader.SCHEMA)
      .listOf("targetGroups", TargetGroupsReader.SCHEMA)
      .listOf("forward", ForwardReader.SCHEMA)
      .map("groupStickiness", StickinessReader.GROUP_STICKINESS)
      .map("admin", AdminReader.SCHEMA)
      .map("websocket", WebSocketReader.SCHEMA)
      .map("upstream", UpstreamReader.SCHEMA)
      .map("trustedProxies", TrustedProxiesReader.SCHEMA)
      .map("limits", LimitsReader.SCHEMA)
      .map("accessLog", AccessLogReader.SCHEMA)
      .map("shutdown", ShutdownReader.SCHEMA)
      .listOf("rules", RulesReader.RULE)
      .map("defaultAction", RulesReader.DEFAULT_ACTION)
      .map("warmup", WarmupReader.SCHEMA);

  private BalancerConfigLoader() {}

  /** Every key the loader accepts, as dotted paths such as {@code targetGroups[].stickiness.duration}. */
  static SortedSet<String> acceptedKeys() {
    return SCHEMA.paths();
  }

  /** Reads a UTF-8 YAML file; the file name as given is the message's source. */
  public static BalancerConfig load(Path file) {
    requireNonNull(file, "file");
    String source = file.toString();
    byte[] bytes;
    try {
      if (Files.isDirectory(file)) {
        throw new ConfigException(source, 0, "", "is a directory, not a YAML file");
      }
      if (Files.size(file) > 4L * MAX_CHARS) {
        throw new ConfigException(source, 0, "", "the file is larger than " + MAX_CHARS + " characters");
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(source, 0, "", "no such file", e);
    } catch (IOException | SecurityException e) {
      throw new ConfigException(source, 0, "", "cannot read the file: " + e, e);
    }
    Path directory = file.toAbsolutePath().getParent();
    return parse(YamlDocument.decodeUtf8(bytes, source), source, directory == null ? Path.of("") : directory);
  }

  /**
   * Reads YAML text. {@code sourceName} (a file name, say) starts every error message.
   *
   * @throws ConfigException for every problem, with the line and key path where it lies
   */
  public static BalancerConfig parse(String yaml, String sourceName) {
    return parse(yaml, sourceName, Path.of(""));
  }

  /**
   * As {@link #parse(String, String)}, with relative paths in the file (certificates, keys, secret
   * files) resolved against {@code baseDir}, as {@link #load} does against the file's directory.
   */
  public static BalancerConfig parse(String yaml, String sourceName, Path baseDir) {
    requireNonNull(yaml, "yaml");
    requireNonNull(baseDir, "baseDir");
    String source = sourceName == null || sourceName.isEmpty() ? "<config>" : sourceName;
    try {
      YamlNode root = YamlDocument.parse(yaml, source, baseDir);
      if (root == null) {
        throw new ConfigException(source, 0, "", "the file is empty (or only comments); it needs at least targetGroups with their targets");
      }
      return read(root);
    } catch (ConfigException e) {
      throw e;
    } catch (RuntimeException | StackOverflowError e) {
      // A safety net: every known problem is reported above with a line; this one was not foreseen.
      throw new ConfigException(source, 0, "", "cannot read the configuration: " + e, e);
    }
  }

  private static BalancerConfig read(YamlNode root) {
    if (!root.isMap()) {
      throw root.error("the top level must be a map of settings (" + String.join(", ", SCHEMA.keys()) + "), got " + root.describe());
    }
    YamlNode.Mapping top = root.map(SCHEMA);
    List<Listen> listeners;
    if (top.has("listeners")) {
      if (top.has("listen")) {
        throw top.get("listeners").error("cannot be used together with listen (line " + top.get("listen").line()
            + "); listen is the one-listener shorthand, move it into listeners");
      }
      listeners = ListenReader.readList(top.get("listeners"));
    } else {
      listeners = List.of(top.has("listen") ? ListenReader.read(top.get("listen")) : Listen.defaults());
    }
    List<KeyConfig> keys = top.has("keys") ? KeysReader.read(top.get("keys")) : List.of();
    CookieConfig cookies = top.has("cookies") ? CookiesReader.read(top.get("cookies")) : CookieConfig.defaults();
    List<TargetGroupConfig> groups = TargetGroupsReader.read(
        top.required("targetGroups", "list at least one target group with its targets"));
    List<ForwardConfig> forward = top.has("forward")
        ? ForwardReader.read(top.get("forward"), groups)
        : List.of(new ForwardConfig(groups.get(0).name(), ForwardConfig.DEFAULT_WEIGHT));
    Duration groupStickiness = top.has("groupStickiness") ? StickinessReader.groupStickiness(top.get("groupStickiness")) : null;
    AdminConfig admin = top.has("admin") ? AdminReader.read(top.get("admin"), listeners, top.has("listeners")) : AdminConfig.defaults();
    WebSocketConfig websocket = top.has("websocket") ? WebSocketReader.read(top.get("websocket")) : WebSocketConfig.defaults();
    UpstreamConfig upstream = top.has("upstream") ? UpstreamReader.read(top.get("upstream")) : UpstreamConfig.defaults();
    TrustedProxies trustedProxies = top.has("trustedProxies") ? TrustedProxiesReader.read(top.get("trustedProxies")) : TrustedProxies.none();
    if (trustedProxies.isEmpty()) {
      YamlNode proxyProtocol = firstProxyProtocol(top, listeners);
      if (proxyProtocol != null) {
        throw proxyProtocol.error(
            "needs trustedProxies: a PROXY header is accepted only from a trusted proxy, so with none every connection"
                + " that sends one is closed; list the load balancers' addresses in trustedProxies, or remove proxyProtocol");
      }
    }
    Limits limits = top.has("limits") ? LimitsReader.read(top.get("limits")) : Limits.defaults();
    AccessLogConfig accessLog = top.has("accessLog") ? AccessLogReader.read(top.get("accessLog")) : AccessLogConfig.off();
    GracefulShutdown shutdown = top.has("shutdown") ? ShutdownReader.read(top.get("shutdown")) : GracefulShutdown.defaults();
    List<RuleConfig> rules = top.has("rules") ? RulesReader.read(top.get("rules"), groups) : List.of();
    dev.affinity.rules.RuleAction defaultAction = null;
    if (top.has("defaultAction")) {
      for (String replaced : List.of("forward", "groupStickiness")) {
        if (top.has(replaced)) {
          throw top.get("defaultAction").error("cannot be used together with " + replaced + " (line " + top.get(replaced).line()
              + "): the default action replaces the top-level forward, so one of them would never apply");
        }
      }
      defaultAction = RulesReader.defaultAction(top.get("defaultAction"), groups);
    }
    Map<String, List<RuleConfig>> listenerRules = listenerRules(top, listeners, groups);
    WarmupConfig warmup = top.has("warmup") ? WarmupReader.read(top.get("warmup")) : WarmupConfig.defaults();
    return new BalancerConfig(listeners, keys, cookies, groups, forward, groupStickiness, admin, websocket, upstream, trustedProxies,
        limits, accessLog, shutdown, rules, defaultAction, listenerRules, warmup);
  }

  /** Each listener's own {@code rules:}, by listener name ({@code host:port}). */
  private static Map<String, List<RuleConfig>> listenerRules(YamlNode.Mapping top, List<Listen> listeners, List<TargetGroupConfig> groups) {
    Map<String, List<RuleConfig>> out = new LinkedHashMap<>();
    if (!top.has("listeners")) {
      return out;
    }
    List<YamlNode> entries = top.get("listeners").list();
    for (int i = 0; i < entries.size(); i++) {
      YamlNode.Mapping m = entries.get(i).map(ListenReader.LISTENER);
      if (m.has("rules")) {
        Listen listen = listeners.get(i);
        if (listen.redirectToHttps() != null) {
          throw m.get("rules").error("would never apply: this listener redirects every request to HTTPS port "
              + listen.redirectToHttps() + "; put the rules on that listener");
        }
        out.put(listen.name(), RulesReader.read(m.get("rules"), groups));
      }
    }
    return out;
  }

  /** The {@code proxyProtocol: true} node of the first listener that asks for it, or {@code null}. */
  private static YamlNode firstProxyProtocol(YamlNode.Mapping top, List<Listen> listeners) {
    for (int i = 0; i < listeners.size(); i++) {
      if (listeners.get(i).proxyProtocol()) {
        return top.has("listeners")
            ? top.get("listeners").list().get(i).map(ListenReader.LISTENER).get("proxyProtocol")
            : top.get("listen").map(ListenReader.SCHEMA).get("proxyProtocol");
      }
    }
    return null;
  }
}
