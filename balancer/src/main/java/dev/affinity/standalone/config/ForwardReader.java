package dev.affinity.standalone.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code forward: [ { group, weight } ]}: new clients' shares among the target groups. */
final class ForwardReader {
  static final Schema SCHEMA = Schema.keys("group", "weight");

  private ForwardReader() {}

  static List<ForwardConfig> read(YamlNode node, List<TargetGroupConfig> groups) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("must list at least one { group, weight }, or be left out to forward everything to the first group");
    }
    Map<String, YamlNode> seen = new LinkedHashMap<>();
    List<ForwardConfig> forward = new ArrayList<>();
    int total = 0;
    for (YamlNode entry : entries) {
      YamlNode.Mapping s = entry.map(SCHEMA);
      YamlNode g = s.required("group", "the name of a target group");
      String group = g.string();
      if (groups.stream().noneMatch(tg -> tg.name().equals(group))) {
        throw g.error(YamlNode.quote(group) + " is not a target group; the groups are "
            + String.join(", ", groups.stream().map(TargetGroupConfig::name).toList()));
      }
      YamlNode first = seen.putIfAbsent(group, g);
      if (first != null) {
        throw g.error("group " + YamlNode.quote(group) + " is already listed at line " + first.line() + " (" + first.path() + ")");
      }
      int weight = s.has("weight") ? s.get("weight").integer(0, ForwardConfig.MAX_WEIGHT) : ForwardConfig.DEFAULT_WEIGHT;
      total += weight;
      forward.add(new ForwardConfig(group, weight));
    }
    if (total == 0) {
      throw node.error("every weight is 0; at least one group needs a weight above 0");
    }
    return List.copyOf(forward);
  }
}
