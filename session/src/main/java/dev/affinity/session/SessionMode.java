package dev.affinity.session;

import java.util.Locale;

/** Where the filter keeps {@code HttpSession}s (init-param {@code sessionMode}). */
public enum SessionMode {
  /** The container's own sessions, untouched (the default). */
  CONTAINER,
  /** A sealed, sharded client-side cookie ({@code AFFINITYSESSION}): stateless, for small state. */
  COOKIE,
  /** A shared Redis store behind a per-target near-cache, written through at the end of each request. */
  REDIS;

  /** {@code container}, {@code cookie} or {@code redis} (any case). */
  public static SessionMode parse(String value) {
    if (value != null) {
      switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "container":
          return CONTAINER;
        case "cookie":
          return COOKIE;
        case "redis":
          return REDIS;
        default:
          break;
      }
    }
    throw new IllegalArgumentException(SessionSettings.SESSION_MODE + " must be container, cookie or redis, got \""
        + value + "\"");
  }

  public String value() {
    return name().toLowerCase(Locale.ROOT);
  }
}
