package dev.affinity.standalone.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * One value of a YAML document, with where it is: the source name, its line and its dotted key path
 * ({@code targetGroups[0].stickiness.duration}). Typed getters check the value and throw a
 * {@link ConfigException} naming all three; nothing else escapes. The schema (which keys, which
 * ranges) lives in the section readers, not here.
 */
class YamlNode {
  private static final Pattern INTEGER = Pattern.compile("[-+]?[0-9]+(_[0-9]+)*");
  private static final Pattern DECIMAL = Pattern.compile("[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  private static final Set<Tag> PLAIN_TAGS = Set.of(Tag.STR, Tag.INT, Tag.FLOAT, Tag.BOOL, Tag.NULL, Tag.MAP, Tag.SEQ);
  /** Where an unknown-key message sends the reader for every accepted key. */
  static final String REFERENCE = "docs/configuration.md";

  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
  /** Larger than any password or key; keeps a wrong path (a log, a device) cheap to refuse. */
  static final int MAX_SECRET_FILE_BYTES = 64 * 1024;
  /** A secret that is not written inline: {@code { file: PATH }} or {@code { env: NAME }}. */
  static final Schema SECRET = Schema.keys("file", "env");

  private final String source;
  private final Node node;
  private final int line;
  /** The line of the key this value is under (the value's own may be a later one); set for map entries. */
  private int keyLine;
  private final String path;
  /** Where relative paths in the file point from: the YAML file's directory. */
  private final Path baseDir;

  YamlNode(String source, Node node, int line, String path) {
    this(source, node, line, path, Path.of(""));
  }

  YamlNode(String source, Node node, int line, String path, Path baseDir) {
    this.source = source;
    this.node = node;
    this.line = line;
    this.path = path;
    this.baseDir = baseDir;
  }

  int line() {
    return line;
  }

  String path() {
    return path;
  }

  ConfigException error(String problem) {
    return new ConfigException(source, line, path, problem);
  }

  /** Runs a core check, reporting its IllegalArgumentException/IllegalStateException here. */
  <T> T core(Supplier<T> check) {
    try {
      return check.get();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw error(String.valueOf(e.getMessage()));
    }
  }

  boolean isNull() {
    return isNull(node);
  }

  boolean isMap() {
    return node instanceof MappingNode;
  }

  boolean isList() {
    return node instanceof SequenceNode;
  }

  /** This value as a map whose keys must be among {@code schema}'s; unknown and duplicate keys are refused. */
  Mapping map(Schema schema) {
    checkTag();
    List<String> allowed = schema.keys();
    if (!(node instanceof MappingNode)) {
      throw error("must be a map of " + String.join(", ", allowed) + ", got " + describe(node)
          + (isNull(node) ? " (remove the key to use the defaults)" : ""));
    }
    Mapping mapping = new Mapping(this);
    mapping.entries.putAll(entries(allowed));
    return mapping;
  }

  /**
   * The map's entries by key, each node knowing its line and key path; keys must be plain names, each
   * once, and among {@code allowed} unless it is {@code null} (keys the user chooses).
   */
  private Map<String, YamlNode> entries(List<String> allowed) {
    Map<String, YamlNode> entries = new LinkedHashMap<>();
    for (NodeTuple tuple : ((MappingNode) node).getValue()) {
      Node keyNode = tuple.getKeyNode();
      int keyLine = lineOf(keyNode, line);
      if (!(keyNode instanceof ScalarNode) || isNull(keyNode) || !PLAIN_TAGS.contains(keyNode.getTag())) {
        throw new ConfigException(source, keyLine, path, "keys must be plain names, got " + describe(keyNode) + " as a key");
      }
      String key = ((ScalarNode) keyNode).getValue();
      String keyPath = child(path, shorten(key, 64));
      if (allowed != null && !allowed.contains(key)) {
        throw new ConfigException(source, keyLine, keyPath, unknownKey(key, allowed));
      }
      YamlNode first = entries.get(key);
      if (first != null) {
        throw new ConfigException(source, keyLine, keyPath, "duplicate key; " + quote(key) + " is already set at line " + first.keyLine);
      }
      Node value = tuple.getValueNode();
      YamlNode entry = new YamlNode(source, value, isNull(value) ? keyLine : lineOf(value, keyLine), keyPath, baseDir);
      entry.keyLine = keyLine;
      entries.put(key, entry);
    }
    return entries;
  }

  /**
   * This value as a map whose keys the user chooses (header names, query keys), in order; keys must be
   * plain names, duplicates are refused.
   */
  Map<String, YamlNode> entries(String what) {
    checkTag();
    if (!(node instanceof MappingNode)) {
      throw error("must be a map of " + what + ", got " + describe(node));
    }
    return entries((List<String>) null);
  }

  /** One string or a list of strings, as a list (never empty). */
  List<String> strings() {
    if (node instanceof SequenceNode) {
      List<YamlNode> items = list();
      if (items.isEmpty()) {
        throw error("must list at least one value");
      }
      List<String> out = new java.util.ArrayList<>(items.size());
      for (YamlNode item : items) {
        out.add(item.string());
      }
      return out;
    }
    return List.of(string());
  }

  List<YamlNode> list() {
    checkTag();
    if (!(node instanceof SequenceNode)) {
      throw error("must be a list, got " + describe(node));
    }
    List<Node> nodes = ((SequenceNode) node).getValue();
    List<YamlNode> items = new ArrayList<>(nodes.size());
    for (int i = 0; i < nodes.size(); i++) {
      Node item = nodes.get(i);
      items.add(new YamlNode(source, item, lineOf(item, line), path + "[" + i + "]", baseDir));
    }
    return items;
  }

  String string() {
    checkTag();
    if (!(node instanceof ScalarNode) || isNull(node)) {
      throw error("must be a single value, got " + describe(node));
    }
    return ((ScalarNode) node).getValue();
  }

  /** A whole number in {@code [min, max]}. */
  int integer(int min, int max) {
    return integer(min, max, "must be a whole number between " + min + " and " + max);
  }

  /** Any whole number that fits an int; the range is core's to check. */
  int integer() {
    return integer(Integer.MIN_VALUE, Integer.MAX_VALUE, "must be a whole number");
  }

  private int integer(int min, int max, String rule) {
    return (int) longInteger(min, max, rule);
  }

  /** A whole number in {@code [min, max]} that may pass an int (a byte count). */
  long longInteger(long min, long max) {
    return longInteger(min, max, "must be a whole number between " + min + " and " + max);
  }

  private long longInteger(long min, long max, String rule) {
    String value = string().trim();
    String digits = value.replace("_", "");
    if (!INTEGER.matcher(value).matches() || digits.length() > 18) {
      throw error(rule + ", got " + quote(value));
    }
    long parsed = Long.parseLong(digits);
    if (parsed < min || parsed > max) {
      throw error(rule + ", got " + parsed);
    }
    return parsed;
  }

  double decimal() {
    String value = string().trim();
    if (!DECIMAL.matcher(value).matches()) {
      throw error("must be a number such as 1.25, got " + quote(value));
    }
    double parsed = Double.parseDouble(value);
    if (!Double.isFinite(parsed)) {
      throw error("must be a finite number, got " + quote(value));
    }
    return parsed;
  }

  boolean bool() {
    String value = string().trim();
    if (value.equalsIgnoreCase("true")) {
      return true;
    }
    if (value.equalsIgnoreCase("false")) {
      return false;
    }
    throw error("must be true or false, got " + quote(value));
  }

  /** One of {@code type}'s constants, written in any case: {@code "must be one of none, duration, ..."}. */
  <E extends Enum<E>> E enumValue(Class<E> type) {
    String value = string();
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equalsIgnoreCase(value.trim())) {
        return constant;
      }
    }
    List<String> names = new ArrayList<>();
    for (E constant : type.getEnumConstants()) {
      names.add(constant.name().toLowerCase(Locale.ROOT));
    }
    throw error("must be one of " + String.join(", ", names) + ", got " + quote(value));
  }

  /** An ISO-8601 duration ({@code PT30S}, {@code P1D}) or a whole number of seconds, within bounds. */
  Duration duration(Duration min, Duration max, String rule) {
    String value = string().trim();
    Duration parsed;
    if (INTEGER.matcher(value).matches()) {
      String digits = value.replace("_", "");
      if (digits.length() > 12) {
        throw error(rule + ", got " + quote(value) + " seconds");
      }
      parsed = Duration.ofSeconds(Long.parseLong(digits));
    } else {
      try {
        parsed = Duration.parse(value);
      } catch (RuntimeException e) {
        throw error("must be an ISO-8601 duration such as PT30S, PT5M or P1D, or a whole number of seconds, got " + quote(value));
      }
    }
    if (parsed.compareTo(min) < 0 || parsed.compareTo(max) > 0) {
      throw error(rule + ", got " + parsed);
    }
    return parsed;
  }

  String describe() {
    return describe(node);
  }

  /**
   * A file path, relative ones resolved against the YAML file's directory (so that the file can be
   * run from anywhere); whether the file is there is for the caller to check.
   */
  Path filePath() {
    String value = string();
    if (value.isBlank()) {
      throw error("must be a file path, got an empty string");
    }
    try {
      return baseDir.resolve(value).normalize();
    } catch (InvalidPathException e) {
      throw error("must be a file path, got " + quote(value) + " (" + e.getReason() + ")");
    }
  }

  /**
   * A secret: written inline ({@code "…"}), read from a file ({@code { file: PATH }}, relative to the
   * YAML file's directory, one trailing newline dropped) or from the environment
   * ({@code { env: NAME }}). A missing file or variable, or an empty secret, is refused here; the
   * secret itself never appears in a message.
   */
  String secret() {
    if (!isMap()) {
      return string();
    }
    Mapping m = map(SECRET);
    if (m.has("file") == m.has("env")) {
      throw error("must be the secret itself, { file: PATH } or { env: NAME }; give one of file and env");
    }
    if (m.has("file")) {
      YamlNode fileNode = m.get("file");
      Path file = fileNode.filePath();
      String secret;
      try {
        // A FIFO or a device (/dev/zero) would block the load or never end; secrets live in regular files.
        if (Files.exists(file) && !Files.isRegularFile(file)) {
          throw fileNode.error("the secret file " + file + " is not a regular file");
        }
        if (Files.size(file) > MAX_SECRET_FILE_BYTES) {
          throw fileNode.error("the secret file " + file + " is larger than " + MAX_SECRET_FILE_BYTES + " bytes");
        }
        secret = Files.readString(file, StandardCharsets.UTF_8);
      } catch (NoSuchFileException e) {
        throw fileNode.error("cannot read the secret file " + file + ": no such file");
      } catch (IOException | SecurityException e) {
        throw fileNode.error("cannot read the secret file " + file + ": " + e);
      }
      // `echo secret > file` and editors end the file with a newline that is not part of the secret.
      if (secret.endsWith("\r\n")) {
        secret = secret.substring(0, secret.length() - 2);
      } else if (secret.endsWith("\n")) {
        secret = secret.substring(0, secret.length() - 1);
      }
      if (secret.isEmpty()) {
        throw fileNode.error("the secret file " + file + " is empty");
      }
      return secret;
    }
    YamlNode envNode = m.get("env");
    String name = envNode.string();
    if (!ENV_NAME.matcher(name).matches()) {
      throw envNode.error("must be an environment variable name (letters, digits and _), got " + quote(name));
    }
    String secret = System.getenv(name);
    if (secret == null) {
      throw envNode.error("the environment variable " + name + " is not set");
    }
    if (secret.isEmpty()) {
      throw envNode.error("the environment variable " + name + " is empty");
    }
    return secret;
  }

  /**
   * The file a {@link #secret} is read from ({@code { file: PATH }}), resolved as {@link #secret} does,
   * or {@code null} when it is inline or from the environment. Call after {@link #secret} has checked it.
   */
  Path secretFile() {
    if (!isMap()) {
      return null;
    }
    Mapping m = map(SECRET);
    return m.has("file") ? m.get("file").filePath() : null;
  }

  private void checkTag() {
    Tag tag = node.getTag();
    if (!PLAIN_TAGS.contains(tag)) {
      throw error("uses the YAML tag " + shorten(tag.getValue(), 40) + ", which this file does not support");
    }
  }

  /** The entries of a map whose keys were checked against its schema as it was read. */
  static final class Mapping {
    private final YamlNode self;
    private final Map<String, YamlNode> entries = new LinkedHashMap<>();

    private Mapping(YamlNode self) {
      this.self = self;
    }

    boolean has(String key) {
      return entries.containsKey(key);
    }

    /** The value under {@code key}, or null when the key is absent. */
    YamlNode get(String key) {
      return entries.get(key);
    }

    YamlNode required(String key, String what) {
      YamlNode value = entries.get(key);
      if (value == null) {
        throw new ConfigException(self.source, self.line, child(self.path, key), "is required (" + what + ")");
      }
      return value;
    }

    YamlNode self() {
      return self;
    }
  }

  // ---------------------------------------------------------------- text

  static String unknownKey(String key, List<String> allowed) {
    StringBuilder problem = new StringBuilder("unknown key ").append(quote(key));
    String suggestion = null;
    int best = 3;
    for (String candidate : allowed) {
      int distance = candidate.equalsIgnoreCase(key)
          ? 0 : editDistance(key.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT), best);
      if (distance < best) {
        best = distance;
        suggestion = candidate;
      }
    }
    if (suggestion != null) {
      problem.append("; did you mean ").append(quote(suggestion)).append('?');
    }
    return problem.append(" Allowed keys: ").append(String.join(", ", allowed))
        .append(" (every key: ").append(REFERENCE).append(')').toString();
  }

  /** Levenshtein distance, giving up (returning {@code limit}) once it cannot be below it. */
  static int editDistance(String a, String b, int limit) {
    if (Math.abs(a.length() - b.length()) >= limit || a.length() > 64) {
      return limit;
    }
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return Math.min(previous[b.length()], limit);
  }

  static String child(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  static boolean isNull(Node node) {
    return node instanceof ScalarNode && Tag.NULL.equals(node.getTag());
  }

  static int lineOf(Node node, int fallback) {
    return node.getStartMark().map(m -> m.getLine() + 1).orElse(fallback);
  }

  static String describe(Node node) {
    if (node instanceof MappingNode) {
      return "a map";
    }
    if (node instanceof SequenceNode) {
      return "a list";
    }
    if (isNull(node)) {
      return "no value";
    }
    if (node instanceof ScalarNode) {
      return quote(((ScalarNode) node).getValue());
    }
    return "an alias";
  }

  /** The value in double quotes, shortened, with control characters escaped: safe in a one-line message. */
  static String quote(String value) {
    String shortened = shorten(value, 80);
    StringBuilder out = new StringBuilder(shortened.length() + 2).append('"');
    for (int i = 0; i < shortened.length(); i++) {
      char c = shortened.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }

  static String shorten(String value, int max) {
    if (value.length() <= max) {
      return value;
    }
    int cut = Character.isHighSurrogate(value.charAt(max - 1)) ? max - 1 : max;
    return value.substring(0, cut) + "…";
  }
}
