package dev.affinity.standalone.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** {@code accessLog: { format, to, maxHistory }}. */
final class AccessLogReader {
  static final Schema SCHEMA = Schema.keys("format", "to", "maxHistory");

  private AccessLogReader() {}

  static AccessLogConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    String format = "json";
    if (s.has("format")) {
      YamlNode f = s.get("format");
      format = f.string().trim().toLowerCase(Locale.ROOT);
      if (!format.equals("off") && !format.equals("json") && !format.equals("combined")) {
        throw f.error("must be off, json or combined, got " + YamlNode.quote(f.string()));
      }
    }
    Path file = null;
    if (s.has("to") && !s.get("to").string().trim().equals("stdout")) {
      YamlNode to = s.get("to");
      file = to.filePath();
      Path dir = file.toAbsolutePath().getParent();
      if (dir == null || !Files.isDirectory(dir)) {
        throw to.error("the directory of " + YamlNode.quote(file.toString()) + " does not exist; create it or write stdout");
      }
      if (Files.isDirectory(file)) {
        throw to.error(YamlNode.quote(file.toString()) + " is a directory; name the log file in it");
      }
      if (!Files.isWritable(Files.exists(file) ? file : dir)) {
        throw to.error("cannot write " + YamlNode.quote(file.toString()) + " (permissions)");
      }
    }
    int maxHistory = AccessLogConfig.DEFAULT_MAX_HISTORY;
    if (s.has("maxHistory")) {
      YamlNode h = s.get("maxHistory");
      if (file == null) {
        throw h.error("applies to a log file only; with to: stdout rotation is the job of whatever reads standard output");
      }
      maxHistory = h.integer(1, 3650);
    }
    if (format.equals("off") && (s.has("to") || s.has("maxHistory"))) {
      throw (s.has("to") ? s.get("to") : s.get("maxHistory")).error("has no effect with format: off; remove it or pick a format");
    }
    return new AccessLogConfig(format, file, maxHistory);
  }
}
