package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.Expiry;
import java.time.Duration;

/**
 * A target group's stickiness. YAML: {@code { type: duration, duration: PT1H, sliding: true }}
 * ({@code sliding: false} gives {@link Expiry.Mode#FIXED}, {@code browserSession: true} gives
 * {@link Expiry.Mode#BROWSER_SESSION}), {@code { type: application, cookie: JSESSIONID, duration: PT1H }}
 * or {@code { type: none }} (the default).
 *
 * @param duration 1 s to 7 d, default 1 h (also set, and unused, for {@link Type#NONE})
 * @param appCookie the application's cookie for {@link Type#APPLICATION}, else {@code null}
 */
public record StickinessConfig(Type type, Duration duration, Expiry.Mode expiry, String appCookie) {
  public static final Duration DEFAULT_DURATION = Duration.ofHours(1);

  /** The stickiness kinds, named in YAML in lower case. */
  public enum Type { NONE, DURATION, APPLICATION }

  public StickinessConfig {
    requireNonNull(type, "type");
    requireNonNull(duration, "duration");
    requireNonNull(expiry, "expiry");
    if (type == Type.APPLICATION) {
      requireNonNull(appCookie, "appCookie");
    }
  }

  public static StickinessConfig none() {
    return new StickinessConfig(Type.NONE, DEFAULT_DURATION, Expiry.Mode.SLIDING, null);
  }

  /** Core's expiry for this duration and mode. */
  public Expiry toExpiry() {
    switch (expiry) {
      case FIXED:
        return Expiry.fixed(duration);
      case BROWSER_SESSION:
        return Expiry.browserSession(duration);
      default:
        return Expiry.sliding(duration);
    }
  }
}
