package dev.affinity.standalone.config;

import dev.affinity.admin.AdminTokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** {@code admin: { path, loopbackOnly, port, tokens: [ { id, secret, scope } ], stateFile }}. */
final class AdminReader {
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~-]+)+");
  static final Schema TOKEN = Schema.keys("id", "secret", "scope");
  static final Schema SCHEMA = Schema.keys("path", "loopbackOnly", "port", "tokens", "stateFile").listOf("tokens", TOKEN);

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
    List<AdminConfig.Token> tokens = s.has("tokens") ? tokens(s.get("tokens")) : List.of();
    Path stateFile = null;
    if (s.has("stateFile")) {
      YamlNode f = s.get("stateFile");
      stateFile = f.filePath();
      Path directory = stateFile.toAbsolutePath().getParent();
      if (directory == null || !Files.isDirectory(directory)) {
        throw f.error("the directory of " + stateFile + " does not exist");
      }
      if (Files.isDirectory(stateFile)) {
        throw f.error(stateFile + " is a directory; name a file in it, e.g. " + stateFile.resolve("affinity.state.json"));
      }
    }
    return new AdminConfig(path, loopbackOnly, port, tokens, stateFile);
  }

  private static List<AdminConfig.Token> tokens(YamlNode node) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("lists no token; add { id, secret, scope } entries, or remove tokens:");
    }
    AdminTokens.Builder check = AdminTokens.builder();
    List<AdminConfig.Token> tokens = new ArrayList<>();
    for (YamlNode entry : entries) {
      YamlNode.Mapping t = entry.map(TOKEN);
      YamlNode idNode = t.required("id", "a name for the logs, such as ops or prometheus");
      YamlNode secretNode = t.required("secret", "at least " + AdminTokens.MIN_SECRET_BYTES
          + " bytes, e.g. `openssl rand -base64 32`, as { file: PATH } or { env: NAME }");
      YamlNode scopeNode = t.required("scope", "read (status, metrics, listings) or write (changes too)");
      String id = idNode.string();
      String secret = secretNode.secret();
      AdminTokens.Scope scope;
      try {
        scope = AdminTokens.Scope.named(scopeNode.string());
      } catch (IllegalArgumentException e) {
        throw scopeNode.error(e.getMessage());
      }
      try {
        check.token(id, secret, scope);
      } catch (IllegalArgumentException e) {
        // AdminTokens' messages start with the field they are about; a secret is never echoed.
        throw (e.getMessage().startsWith("secret") ? secretNode : idNode).error(e.getMessage());
      }
      tokens.add(new AdminConfig.Token(id, secret, scope));
    }
    return List.copyOf(tokens);
  }
}
