package dev.affinity.standalone.config;

import java.util.List;
import java.util.regex.Pattern;

/** {@code admin: { path, loopbackOnly, port }}. */
final class AdminReader {
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~-]+)+");
  static final Schema SCHEMA = Schema.keys("path", "loopbackOnly", "port");

  private AdminReader() {}

  /** @param listenersKey whether the listeners came from {@code listeners:} (else from {@code listen:} or its default) */
  static AdminConfig read(YamlNode node, List<Listen> listeners, boolean listenersKey) {
    YamlNode.Mapping s = node.map(SCHEMA);
    String path = AdminConfig.DEFAULT_PATH;
    if (s.has("path")) {
      YamlNode p = s.get("path");
      path = p.string();
      if (!PATH.matcher(path).matches()) {
        throw p.error("must start with / and not be / (e.g. /affinity), with segments of A-Z a-z 0-9 . _ ~ - and no trailing /, got "
            + YamlNode.quote(path));
      }
    }
    boolean loopbackOnly = !s.has("loopbackOnly") || s.get("loopbackOnly").bool();
    Integer port = null;
    if (s.has("port")) {
      YamlNode p = s.get("port");
      port = p.integer(0, 65535);
      for (Listen listen : listeners) {
        if (port != 0 && port == listen.port()) {
          throw p.error("must differ from " + (listenersKey ? "every listener's port" : "listen.port") + " (" + listen.port()
              + "); leave admin.port out to serve the admin pages on the balancer's first listener");
        }
      }
    }
    return new AdminConfig(path, loopbackOnly, port);
  }
}
