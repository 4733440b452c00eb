package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The keys one YAML map accepts, and the maps (or lists of maps) nested under some of them. Each
 * section reader declares its own, once; the reader refuses any other key with it, and
 * {@link #paths} lists every accepted key for the configuration reference and its test.
 */
final class Schema {
  private final List<String> keys;
  private final Map<String, Schema> maps = new LinkedHashMap<>();
  private final Map<String, Schema> listsOfMaps = new LinkedHashMap<>();

  private Schema(List<String> keys) {
    this.keys = List.copyOf(keys);
  }

  static Schema keys(String... keys) {
    return new Schema(List.of(keys));
  }

  /** {@code key}'s value is a map that {@code nested} describes. */
  Schema map(String key, Schema nested) {
    maps.put(declared(key), requireNonNull(nested, "nested"));
    return this;
  }

  /** {@code key}'s value is a list of maps that {@code nested} describes. */
  Schema listOf(String key, Schema nested) {
    listsOfMaps.put(declared(key), requireNonNull(nested, "nested"));
    return this;
  }

  private String declared(String key) {
    if (!keys.contains(key)) {
      throw new IllegalArgumentException("\"" + key + "\" is not one of this section's keys " + keys);
    }
    return key;
  }

  List<String> keys() {
    return keys;
  }

  /**
   * Every accepted key as a dotted path, {@code []} marking a list of maps: {@code listen.port},
   * {@code targetGroups[].stickiness.duration}.
   */
  SortedSet<String> paths() {
    SortedSet<String> paths = new TreeSet<>();
    collect("", paths);
    return paths;
  }

  private void collect(String prefix, SortedSet<String> paths) {
    for (String key : keys) {
      String path = prefix + key;
      paths.add(path);
      if (maps.containsKey(key)) {
        maps.get(key).collect(path + ".", paths);
      } else if (listsOfMaps.containsKey(key)) {
        listsOfMaps.get(key).collect(path + "[].", paths);
      }
    }
  }
}
