package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.admin.AdminTokens;
import java.nio.file.Path;
import java.util.List;

/**
 * The admin endpoints (status page, JSON, metrics, target admin, registration API).
 *
 * @param path default {@value #DEFAULT_PATH}; starts with {@code /} and is not {@code /}
 * @param loopbackOnly default true: only clients on a loopback address may use them
 * @param port {@code null} to serve them on the balancer's own listener
 * @param tokens the bearer tokens; empty: the status endpoints are guarded by loopbackOnly alone, the API refuses everyone
 * @param stateFile where targets registered through the API are kept; {@code null}: beside the YAML file (the launcher decides)
 */
public record AdminConfig(String path, boolean loopbackOnly, Integer port, List<Token> tokens, Path stateFile) {
  public static final String DEFAULT_PATH = "/affinity";

  /** One {@code admin.tokens} entry. */
  public record Token(String id, String secret, AdminTokens.Scope scope) {
    public Token {
      requireNonNull(id, "id");
      requireNonNull(secret, "secret");
      requireNonNull(scope, "scope");
    }

    @Override
    public String toString() {
      // Configurations are logged and compared; the secret never shows.
      return "Token[id=" + id + ", scope=" + scope + "]";
    }
  }

  public AdminConfig {
    requireNonNull(path, "path");
    tokens = List.copyOf(requireNonNull(tokens, "tokens"));
  }

  public AdminConfig(String path, boolean loopbackOnly, Integer port) {
    this(path, loopbackOnly, port, List.of(), null);
  }

  public static AdminConfig defaults() {
    return new AdminConfig(DEFAULT_PATH, true, null);
  }

  /** The tokens, checked and hashed for constant-time comparison. */
  public AdminTokens adminTokens() {
    AdminTokens.Builder builder = AdminTokens.builder();
    for (Token token : tokens) {
      builder.token(token.id(), token.secret(), token.scope());
    }
    return builder.build();
  }

  /** Whether some token may change things (the registration API then writes its state file). */
  public boolean hasWriteToken() {
    return tokens.stream().anyMatch(t -> t.scope() == AdminTokens.Scope.WRITE);
  }
}
