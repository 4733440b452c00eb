package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;

/**
 * A target group's (or a rule's) stickiness. YAML: {@code { type: duration, duration: PT1H, sliding: true }}
 * ({@code sliding: false} gives {@link Expiry.Mode#FIXED}, {@code browserSession: true} gives
 * {@link Expiry.Mode#BROWSER_SESSION}), {@code { type: application, cookie: JSESSIONID, duration: PT1H }},
 * {@code { type: header, sessionName: X-Affinity-Session }} or {@code { type: none }} (the default); and
 * Gateway API's {@code idleTimeout}, {@code absoluteTimeout}, {@code lifetime}, {@code strict}.
 *
 * @param duration 1 s to 7 d, default 1 h (also set, and unused, for {@link Type#NONE} or when timeouts are given)
 * @param appCookie the application's cookie for {@link Type#APPLICATION}, else {@code null}
 * @param sessionName the cookie or header carrying the pin, or {@code null} for the default
 * @param idleTimeout ends the pin after this long without a request, or {@code null}
 * @param absoluteTimeout ends the pin this long after it was made, or {@code null}
 * @param sessionCookie whether the cookie has no {@code Max-Age} ({@code lifetime: session})
 * @param strict answer 503 rather than move a client whose target is gone
 */
public record StickinessConfig(Type type, Duration duration, Expiry.Mode expiry, String appCookie,
    String sessionName, Duration idleTimeout, Duration absoluteTimeout, boolean sessionCookie, boolean strict) {
  public static final Duration DEFAULT_DURATION = Duration.ofHours(1);

  /** The stickiness kinds, named in YAML in lower case ({@code cookie} is an alias of {@code duration}). */
  public enum Type { NONE, DURATION, APPLICATION, HEADER }

  public StickinessConfig {
    requireNonNull(type, "type");
    requireNonNull(duration, "duration");
    requireNonNull(expiry, "expiry");
    if (type == Type.APPLICATION) {
      requireNonNull(appCookie, "appCookie");
    }
  }

  /** The classic form, without Gateway API's keys. */
  public StickinessConfig(Type type, Duration duration, Expiry.Mode expiry, String appCookie) {
    this(type, duration, expiry, appCookie, null, null, null, expiry == Expiry.Mode.BROWSER_SESSION, false);
  }

  public static StickinessConfig none() {
    return new StickinessConfig(Type.NONE, DEFAULT_DURATION, Expiry.Mode.SLIDING, null);
  }

  /** Core's expiry: the timeouts when given, else this duration and mode (with a session cookie if asked). */
  public Expiry toExpiry() {
    if (idleTimeout != null || absoluteTimeout != null) {
      return Expiry.timeouts(idleTimeout, absoluteTimeout, sessionCookie);
    }
    switch (expiry) {
      case FIXED:
        return sessionCookie ? Expiry.timeouts(null, duration, true) : Expiry.fixed(duration);
      case BROWSER_SESSION:
        return Expiry.browserSession(duration);
      default:
        return sessionCookie ? Expiry.browserSession(duration) : Expiry.sliding(duration);
    }
  }

  /** Core's policy for this configuration. */
  public StickinessPolicy toPolicy() {
    StickinessPolicy policy;
    switch (type) {
      case NONE:
        return StickinessPolicy.none();
      case APPLICATION:
        policy = StickinessPolicy.application(appCookie, toExpiry());
        break;
      case HEADER:
        policy = StickinessPolicy.header(sessionName, toExpiry());
        break;
      default:
        policy = StickinessPolicy.duration(toExpiry());
    }
    if (sessionName != null && type != Type.HEADER) {
      policy = policy.withSessionName(sessionName);
    }
    return policy.strict(strict);
  }
}
