package dev.affinity.standalone.config;

import dev.affinity.balancer.Forward;
import dev.affinity.cookie.Expiry;
import dev.affinity.rules.Conditions;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.ResponseHeaders;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code rules:} (global, or a listener's own), and {@code defaultAction:}: ALB's listener rules.
 * Every rule needs exactly one action; group names must name configured groups; priorities are
 * unique within a list; patterns, templates and header changes are checked by core, their errors
 * reported at the line and key they come from.
 *
 * <p>{@code when.path} takes a string ({@code "/v1/*"} is a prefix, a string without wildcard is exact,
 * anything else a glob), a map {@code { exact | prefix | glob: … }}, or a list of those;
 * {@code when.headers} and {@code when.query} are maps of names the user chooses. {@code forward} takes
 * the list of {@code { group, weight }} or the map {@code { groups, stickiness }}; {@code persistence}
 * has the keys of a group's {@code stickiness}.
 */
final class RulesReader {
  static final Schema WHEN = Schema.keys("host", "path", "method", "headers", "query", "sourceIp");
  static final Schema FORWARD = Schema.keys("groups", "stickiness")
      .listOf("groups", ForwardReader.SCHEMA)
      .map("stickiness", StickinessReader.GROUP_STICKINESS);
  static final Schema REDIRECT = Schema.keys("status", "protocol", "host", "port", "path", "query");
  static final Schema FIXED = Schema.keys("status", "contentType", "body");
  static final Schema RESPONSE_HEADERS = Schema.keys("add", "remove");
  static final Schema RULE = Schema.keys("priority", "name", "when", "forward", "redirect", "fixedResponse",
          "persistence", "responseHeaders")
      .map("when", WHEN)
      .map("forward", FORWARD)
      .map("redirect", REDIRECT)
      .map("fixedResponse", FIXED)
      .map("responseHeaders", RESPONSE_HEADERS);
  /** The actions a rule (or the default) takes exactly one of. */
  private static final List<String> ACTIONS = List.of("forward", "redirect", "fixedResponse");
  static final Schema DEFAULT_ACTION = Schema.keys("forward", "redirect", "fixedResponse")
      .map("forward", FORWARD)
      .map("redirect", REDIRECT)
      .map("fixedResponse", FIXED);
  private static final Schema PATH_KINDS = Schema.keys("exact", "prefix", "glob");

  private RulesReader() {}

  static List<RuleConfig> read(YamlNode node, List<TargetGroupConfig> groups) {
    List<YamlNode> entries = node.list();
    Map<Integer, YamlNode> priorities = new HashMap<>();
    Map<String, YamlNode> names = new HashMap<>();
    List<RuleConfig> rules = new ArrayList<>(entries.size());
    for (YamlNode entry : entries) {
      YamlNode.Mapping r = entry.map(RULE);
      YamlNode p = r.required("priority", "1 to 50000; the lowest number that matches wins");
      int priority = p.integer(Rule.MIN_PRIORITY, Rule.MAX_PRIORITY);
      YamlNode first = priorities.putIfAbsent(priority, p);
      if (first != null) {
        throw p.error("priority " + priority + " is already used at line " + first.line() + " (" + first.path() + "); priorities must be unique");
      }
      String name = null;
      if (r.has("name")) {
        YamlNode n = r.get("name");
        name = n.string();
        if (name.isBlank() || name.length() > 64 || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
          throw n.error("must be 1 to 64 printable characters, got " + YamlNode.quote(name));
        }
        YamlNode same = names.putIfAbsent(name, n);
        if (same != null) {
          throw n.error("name " + YamlNode.quote(name) + " is already used at line " + same.line() + "; rule names must be unique");
        }
      }
      Conditions when = conditions(r.required("when",
          "at least one condition: host, path, method, headers, query or sourceIp; defaultAction is the one for every request"));
      RuleAction action = action(r, entry, groups, "rule");
      StickinessConfig persistence = null;
      if (r.has("persistence")) {
        YamlNode ps = r.get("persistence");
        if (!(action instanceof RuleAction.Forward)) {
          throw ps.error("applies only to a rule that forwards; this rule answers by itself");
        }
        // type: none is kept as an override too: a rule can turn its groups' persistence off.
        persistence = StickinessReader.read(ps);
      }
      ResponseHeaders headers = r.has("responseHeaders") ? responseHeaders(r.get("responseHeaders")) : ResponseHeaders.none();
      rules.add(new RuleConfig(priority, name, when, action, persistence, headers, entry.line()));
    }
    return List.copyOf(rules);
  }

  static RuleAction defaultAction(YamlNode node, List<TargetGroupConfig> groups) {
    YamlNode.Mapping d = node.map(DEFAULT_ACTION);
    return action(d, node, groups, "defaultAction");
  }

  private static RuleAction action(YamlNode.Mapping r, YamlNode self, List<TargetGroupConfig> groups, String what) {
    YamlNode chosen = null;
    String chosenKey = null;
    for (String key : ACTIONS) {
      if (r.has(key)) {
        if (chosen != null) {
          throw r.get(key).error("a " + what + " takes exactly one action, but it also has " + chosenKey + " (line " + chosen.line() + ")");
        }
        chosen = r.get(key);
        chosenKey = key;
      }
    }
    if (chosen == null) {
      throw self.error("a " + what + " needs one action: forward, redirect or fixedResponse");
    }
    switch (chosenKey) {
      case "forward":
        return new RuleAction.Forward(forward(chosen, groups));
      case "redirect": {
        YamlNode.Mapping m = chosen.map(REDIRECT);
        int status = m.has("status") ? m.get("status").integer(300, 399) : 301;
        String protocol = optional(m, "protocol");
        String host = optional(m, "host");
        String port = optional(m, "port");
        String path = optional(m, "path");
        String query = optional(m, "query");
        return chosen.core(() -> new Redirect(status, protocol, host, port, path, query));
      }
      default: {
        YamlNode.Mapping m = chosen.map(FIXED);
        int status = m.required("status", "200 to 599").integer(200, 599);
        String contentType = optional(m, "contentType");
        String body = optional(m, "body");
        if (contentType != null) {
          m.get("contentType").core(() -> new FixedResponse(status, contentType, null));
        }
        if (body != null) {
          m.get("body").core(() -> new FixedResponse(status, null, body));
        }
        return new FixedResponse(status, contentType, body);
      }
    }
  }

  private static String optional(YamlNode.Mapping m, String key) {
    return m.has(key) ? m.get(key).string() : null;
  }

  /** The list form {@code [ { group, weight } ]}, or the map form {@code { groups, stickiness }}. */
  static Forward forward(YamlNode node, List<TargetGroupConfig> groups) {
    List<ForwardConfig> weights;
    Expiry groupStickiness = null;
    if (node.isMap()) {
      YamlNode.Mapping m = node.map(FORWARD);
      weights = ForwardReader.read(m.required("groups", "the weighted target groups, [ { group, weight } ]"), groups);
      if (m.has("stickiness")) {
        Duration d = StickinessReader.groupStickiness(m.get("stickiness"));
        groupStickiness = Expiry.sliding(d);
      }
    } else {
      weights = ForwardReader.read(node, groups);
    }
    Forward.Builder b = Forward.builder();
    for (ForwardConfig w : weights) {
      b.group(w.group(), w.weight());
    }
    if (groupStickiness != null) {
      b.groupStickiness(groupStickiness);
    }
    return b.build();
  }

  private static Conditions conditions(YamlNode node) {
    YamlNode.Mapping w = node.map(WHEN);
    Conditions.Builder b = Conditions.builder();
    if (w.has("host")) {
      YamlNode h = w.get("host");
      List<String> hosts = h.strings();
      h.core(() -> b.host(hosts));
    }
    if (w.has("path")) {
      YamlNode p = w.get("path");
      List<PathPattern> paths = new ArrayList<>();
      if (!p.isList()) {
        paths.add(pathPattern(p));
      } else {
        List<YamlNode> items = p.list();
        if (items.isEmpty()) {
          throw p.error("must list at least one path");
        }
        for (YamlNode item : items) {
          paths.add(pathPattern(item));
        }
      }
      p.core(() -> b.paths(paths));
    }
    if (w.has("method")) {
      YamlNode m = w.get("method");
      List<String> methods = m.strings();
      m.core(() -> b.methods(methods));
    }
    if (w.has("headers")) {
      for (Map.Entry<String, YamlNode> e : w.get("headers").entries("header names to value patterns").entrySet()) {
        List<String> values = e.getValue().strings();
        e.getValue().core(() -> b.header(e.getKey(), values));
      }
    }
    if (w.has("query")) {
      for (Map.Entry<String, YamlNode> e : w.get("query").entries("query keys to value patterns").entrySet()) {
        List<String> values = e.getValue().strings();
        e.getValue().core(() -> b.query(e.getKey(), values));
      }
    }
    if (w.has("sourceIp")) {
      YamlNode s = w.get("sourceIp");
      List<String> cidrs = s.strings();
      s.core(() -> b.sourceIp(cidrs));
    }
    return node.core(b::build);
  }

  private static PathPattern pathPattern(YamlNode node) {
    if (!node.isMap()) {
      String text = node.string();
      return node.core(() -> PathPattern.parse(text));
    }
    YamlNode.Mapping m = node.map(PATH_KINDS);
    int kinds = (m.has("exact") ? 1 : 0) + (m.has("prefix") ? 1 : 0) + (m.has("glob") ? 1 : 0);
    if (kinds != 1) {
      throw node.error("must have exactly one of exact, prefix or glob");
    }
    if (m.has("exact")) {
      String text = m.get("exact").string();
      return m.get("exact").core(() -> PathPattern.exact(text));
    }
    if (m.has("prefix")) {
      String text = m.get("prefix").string();
      return m.get("prefix").core(() -> PathPattern.prefix(text));
    }
    String text = m.get("glob").string();
    return m.get("glob").core(() -> PathPattern.glob(text));
  }

  private static ResponseHeaders responseHeaders(YamlNode node) {
    YamlNode.Mapping m = node.map(RESPONSE_HEADERS);
    Map<String, String> add = new LinkedHashMap<>();
    if (m.has("add")) {
      for (Map.Entry<String, YamlNode> e : m.get("add").entries("header names to values").entrySet()) {
        add.put(e.getKey(), e.getValue().string());
      }
    }
    List<String> remove = m.has("remove") ? m.get("remove").strings() : List.of();
    return node.core(() -> new ResponseHeaders(add, remove));
  }
}
