package dev.affinity.admin;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The bearer tokens that open the admin endpoints, and the one rule of who may do what: a {@link Scope#READ}
 * token reads (status, metrics, the registration API's listings), a {@link Scope#WRITE} token also changes
 * (registers, deregisters, reweighs, drains). Presented tokens are compared in constant time: both sides are
 * hashed to equal-length digests compared with {@link MessageDigest#isEqual}, and every configured token is
 * compared, so neither the length of a secret nor which token matched shows in the time taken.
 */
public final class AdminTokens {
  /** Shorter secrets could be guessed; 16 bytes is the floor, 32 random bytes the advice. */
  public static final int MIN_SECRET_BYTES = 16;
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final String BEARER = "Bearer ";

  /** What a token may do; {@code WRITE} includes {@code READ}. */
  public enum Scope {
    READ, WRITE;

    public boolean covers(Scope needed) {
      return compareTo(requireNonNull(needed, "needed")) >= 0;
    }

    /** {@code read} or {@code write}, any case. */
    public static Scope named(String name) {
      requireNonNull(name, "name");
      return switch (name.toLowerCase(Locale.ROOT)) {
        case "read" -> READ;
        case "write" -> WRITE;
        default -> throw new IllegalArgumentException("scope must be read or write, got \"" + name + "\"");
      };
    }

    /** The scope a request with this HTTP method needs: reads for GET and HEAD, writes for anything else. */
    public static Scope neededFor(String method) {
      requireNonNull(method, "method");
      return method.equals("GET") || method.equals("HEAD") ? READ : WRITE;
    }
  }

  /** Who presented a token: its id (for the logs) and scope; never the secret. */
  public record Caller(String id, Scope scope) {
    public Caller {
      requireNonNull(id, "id");
      requireNonNull(scope, "scope");
    }
  }

  /** The answer to one request. */
  public sealed interface Decision {}

  /** The token is valid and its scope covers the request. */
  public record Granted(Caller caller) implements Decision {}

  /** No token, a malformed header or an unknown token: 401. */
  public record Unauthenticated(String reason) implements Decision {}

  /** A valid token whose scope does not cover the request: 403. */
  public record Forbidden(Caller caller, Scope needed) implements Decision {}

  private record Entry(Caller caller, byte[] digest) {}

  private final List<Entry> entries;

  private AdminTokens(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** No tokens: every request is refused by {@link #authorize}. */
  public static AdminTokens none() {
    return new AdminTokens(List.of());
  }

  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** The configured tokens' ids and scopes. */
  public List<Caller> callers() {
    return entries.stream().map(Entry::caller).toList();
  }

  /**
   * Whether the {@code Authorization} header value {@code authorization} (may be {@code null}) carries a
   * token that covers {@code needed}.
   */
  public Decision authorize(String authorization, Scope needed) {
    requireNonNull(needed, "needed");
    if (entries.isEmpty()) {
      return new Unauthenticated("no admin tokens are configured (admin.tokens)");
    }
    if (authorization == null) {
      return new Unauthenticated("an Authorization: Bearer header is required");
    }
    if (authorization.length() < BEARER.length() || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return new Unauthenticated("the Authorization header must be Bearer <token>");
    }
    byte[] presented = digest(authorization.substring(BEARER.length()).strip().getBytes(StandardCharsets.UTF_8));
    Caller match = null;
    for (Entry entry : entries) {
      // No early exit: the time taken does not tell which token (or whether any) matched.
      if (MessageDigest.isEqual(entry.digest, presented) && match == null) {
        match = entry.caller;
      }
    }
    if (match == null) {
      return new Unauthenticated("the token is not valid");
    }
    return match.scope().covers(needed) ? new Granted(match) : new Forbidden(match, needed);
  }

  private static byte[] digest(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    // Never the secrets.
    return "AdminTokens" + callers();
  }

  /** Fail-fast: a bad id, a short secret, a duplicate id or secret is refused as it is added. */
  public static final class Builder {
    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> ids = new HashSet<>();

    private Builder() {}

    public Builder token(String id, String secret, Scope scope) {
      requireNonNull(id, "id");
      requireNonNull(secret, "secret");
      requireNonNull(scope, "scope");
      if (!ID.matcher(id).matches()) {
        throw new IllegalArgumentException("id must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"" + id + "\"");
      }
      if (!ids.add(id)) {
        throw new IllegalArgumentException("id \"" + id + "\" is given twice");
      }
      byte[] bytes = secret.strip().getBytes(StandardCharsets.UTF_8);
      if (bytes.length < MIN_SECRET_BYTES) {
        throw new IllegalArgumentException("secret of token \"" + id + "\" must be at least " + MIN_SECRET_BYTES
            + " bytes (e.g. `openssl rand -base64 32`), got " + bytes.length);
      }
      if (!secret.equals(secret.strip())) {
        throw new IllegalArgumentException("secret of token \"" + id + "\" must not start or end with white space");
      }
      byte[] digest = digest(bytes);
      for (Entry other : entries) {
        if (MessageDigest.isEqual(other.digest, digest)) {
          // One secret for two ids would log changes under whichever id came first.
          throw new IllegalArgumentException("secret of token \"" + id + "\" is the same as token \"" + other.caller.id() + "\"'s");
        }
      }
      entries.add(new Entry(new Caller(id, scope), digest));
      return this;
    }

    public AdminTokens build() {
      return new AdminTokens(entries);
    }
  }
}
