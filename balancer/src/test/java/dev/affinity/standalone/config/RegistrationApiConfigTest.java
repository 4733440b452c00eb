package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.admin.AdminTokens;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code admin.tokens} and {@code admin.stateFile}: each key takes effect, and what cannot be honoured is refused at its line. */
class RegistrationApiConfigTest {
  private static final String GROUPS = """
      targetGroups:
        - name: web
          targets: [ { id: web-1, uri: "http://127.0.0.1:9001" } ]
      """;
  private static final String OPS = "ops-0123456789abcdef-write";
  @TempDir
  Path dir;

  private BalancerConfig load(String yaml) throws Exception {
    return BalancerConfigLoader.load(Files.writeString(dir.resolve("balancer.yaml"), yaml + GROUPS));
  }

  private void refused(String yaml, int line, String key, String problem) {
    Path file = dir.resolve("balancer.yaml");
    assertThatThrownBy(() -> load(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(file + ":" + line + ": " + key + ": ")
        .hasMessageContaining(problem)
        .hasMessageNotContaining("short-secret");
  }

  @Test
  void tokensFromInlineAndFileSecretsOpenWhatTheirScopeCovers() throws Exception {
    Files.writeString(dir.resolve("scraper.token"), "scraper-0123456789abcdef\n");
    BalancerConfig config = load("admin:\n  tokens:\n"
        + "    - { id: ops, secret: \"" + OPS + "\", scope: write }\n"
        + "    - { id: prometheus, secret: { file: scraper.token }, scope: READ }\n");
    AdminTokens tokens = config.admin().adminTokens();
    assertThat(tokens.authorize("Bearer " + OPS, AdminTokens.Scope.WRITE))
        .isEqualTo(new AdminTokens.Granted(new AdminTokens.Caller("ops", AdminTokens.Scope.WRITE)));
    assertThat(tokens.authorize("Bearer scraper-0123456789abcdef", AdminTokens.Scope.READ))
        .isEqualTo(new AdminTokens.Granted(new AdminTokens.Caller("prometheus", AdminTokens.Scope.READ)));
    assertThat(tokens.authorize("Bearer scraper-0123456789abcdef", AdminTokens.Scope.WRITE)).isInstanceOf(AdminTokens.Forbidden.class);
    assertThat(config.admin().hasWriteToken()).isTrue();
    assertThat(config.admin().toString()).doesNotContain(OPS).doesNotContain("scraper-0123");
    assertThat(load("").admin().tokens()).isEmpty();
    assertThat(load("").admin().stateFile()).as("the launcher puts it beside the YAML").isNull();
  }

  @Test
  void theStateFileIsResolvedAgainstTheYamlsDirectory() throws Exception {
    Files.createDirectory(dir.resolve("state"));
    assertThat(load("admin: { stateFile: state/affinity.json }\n").admin().stateFile()).isEqualTo(dir.resolve("state/affinity.json"));
    refused("admin: { stateFile: missing/affinity.json }\n", 1, "admin.stateFile", "does not exist");
    refused("admin: { stateFile: state }\n", 1, "admin.stateFile", "is a directory");
  }

  @Test
  void badTokensAreRefusedAtTheirLineAndKey() {
    refused("admin:\n  tokens:\n    - { id: ops, secret: short-secret, scope: write }\n", 3, "admin.tokens[0].secret",
        "at least 16 bytes");
    refused("admin:\n  tokens:\n    - { id: ops, secret: \"" + OPS + "\", scope: admin }\n", 3, "admin.tokens[0].scope",
        "read or write, got \"admin\"");
    refused("admin:\n  tokens:\n    - { id: ops, secret: \"" + OPS + "\" }\n", 3, "admin.tokens[0].scope", "is required");
    refused("admin:\n  tokens:\n    - { id: ops, secret: \"" + OPS + "\", scope: write }\n"
        + "    - { id: ops, secret: \"another-0123456789abcdef\", scope: read }\n", 4, "admin.tokens[1].id", "given twice");
    refused("admin:\n  tokens:\n    - { id: ops, secret: \"" + OPS + "\", scope: write }\n"
        + "    - { id: other, secret: \"" + OPS + "\", scope: read }\n", 4, "admin.tokens[1].secret", "the same as token \"ops\"");
    refused("admin:\n  tokens:\n    - { id: ops, secret: { env: AFFINITY_NO_SUCH_VARIABLE_42 }, scope: write }\n", 3,
        "admin.tokens[0].secret.env", "AFFINITY_NO_SUCH_VARIABLE_42 is not set");
    refused("admin: { tokens: [] }\n", 1, "admin.tokens", "lists no token");
    refused("admin:\n  tokens:\n    - { id: ops, secret: \"" + OPS + "\", scope: write, role: admin }\n", 3, "admin.tokens[0].role", "unknown key");
  }
}
