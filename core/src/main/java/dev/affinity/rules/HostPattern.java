package dev.affinity.rules;

import static java.util.Objects.requireNonNull;


/**
 * A host condition as ALB reads it: case-insensitive, {@code *} any run of characters (none
 * included), {@code ?} exactly one; 1 to 128 characters of {@code A-Z a-z 0-9 - . * ?}.
 * {@code *.example.com} matches {@code api.example.com} but not {@code example.com}.
 */
public final class HostPattern {
  private static final int MAX_LENGTH = 128;

  private final Wildcard wildcard;
  private final String literal;

  private HostPattern(String pattern) {
    this.wildcard = Wildcard.of(pattern, true);
    this.literal = wildcard.isLiteral() ? Wildcard.asciiLower(pattern) : null;
  }

  /** Reads a pattern; {@link IllegalArgumentException} naming it when it is not one. */
  public static HostPattern of(String pattern) {
    requireNonNull(pattern, "pattern");
    if (pattern.isEmpty() || pattern.length() > MAX_LENGTH) {
      throw new IllegalArgumentException("host pattern must be 1 to " + MAX_LENGTH + " characters, got \"" + pattern + "\"");
    }
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      boolean allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '*' || c == '?';
      if (!allowed) {
        throw new IllegalArgumentException("host pattern may hold only A-Z a-z 0-9 - . * ? (no port, no scheme), got \""
            + pattern + "\"");
      }
    }
    return new HostPattern(pattern);
  }

  /** Whether the host (without its port, as {@link #hostWithoutPort} gives it) matches; {@code null} never does. */
  public boolean matches(String hostWithoutPort) {
    return hostWithoutPort != null && wildcard.matches(hostWithoutPort);
  }

  /** The lower-cased host when the pattern has no wildcard, else {@code null}; what rule sets index on. */
  public String literalOrNull() {
    return literal;
  }

  /**
   * The host part of a Host header, ASCII letters lower-cased, for matching: the port is dropped
   * ({@code example.com:8080}, {@code [::1]:8080} gives {@code [::1]}) and so is one trailing dot
   * ({@code example.com.} is the same name written fully qualified, and reaches the same server, so a
   * rule on {@code example.com} must not be side-stepped by it). {@code null} for {@code null}.
   */
  public static String hostWithoutPort(String host) {
    if (host == null) {
      return null;
    }
    int end = host.length();
    if (!host.isEmpty() && host.charAt(0) == '[') {
      int close = host.indexOf(']');
      end = close < 0 ? end : close + 1;
    } else {
      int colon = host.lastIndexOf(':');
      if (colon >= 0) {
        end = colon;
      }
    }
    if (end > 0 && host.charAt(end - 1) == '.') {
      end--;
    }
    String name = end == host.length() ? host : host.substring(0, end);
    return Wildcard.asciiLower(name);
  }

  @Override
  public String toString() {
    return wildcard.pattern();
  }
}
