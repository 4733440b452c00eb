package dev.affinity.cookie;

import java.util.Locale;

/** When affinity cookies carry the {@code Secure} attribute. */
public enum SecureMode {
  /** When the request arrived over TLS (as the container or the forwarding headers say). */
  AUTO,
  ALWAYS,
  NEVER;

  public boolean secure(boolean requestSecure) {
    return this == ALWAYS || (this == AUTO && requestSecure);
  }

  /** Parses {@code auto}, {@code always}/{@code true} or {@code never}/{@code false}. */
  public static SecureMode parse(String value) {
    if (value != null) {
      switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "auto":
          return AUTO;
        case "always":
        case "true":
          return ALWAYS;
        case "never":
        case "false":
          return NEVER;
        default:
          break;
      }
    }
    throw new IllegalArgumentException("secure must be one of auto, always, never; got \"" + value + "\"");
  }
}
