package dev.affinity.standalone.config;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * {@code stickiness: { type, duration, sliding, browserSession, cookie, sessionName, idleTimeout,
 * absoluteTimeout, lifetime, strict }} (a rule's {@code persistence:} has the same keys), and the
 * duration rule {@code groupStickiness} shares: core's {@link Expiry} bounds, core's name rules.
 */
final class StickinessReader {
  static final Schema SCHEMA = Schema.keys("type", "duration", "sliding", "browserSession", "cookie",
      "sessionName", "idleTimeout", "absoluteTimeout", "lifetime", "strict");
  /** {@code groupStickiness: { duration }}. */
  static final Schema GROUP_STICKINESS = Schema.keys("duration");
  private static final List<String> CLASSIC_TIMING = List.of("duration", "sliding", "browserSession");

  private StickinessReader() {}

  static StickinessConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    StickinessConfig.Type type = s.has("type") ? type(s.get("type")) : StickinessConfig.Type.NONE;
    if (type == StickinessConfig.Type.NONE) {
      for (String key : SCHEMA.keys()) {
        if (!key.equals("type") && s.has(key)) {
          throw s.get(key).error("applies only to stickiness types duration, application or header, but type is none"
              + (s.has("type") ? "" : " (the default)"));
        }
      }
      return StickinessConfig.none();
    }
    Duration idle = s.has("idleTimeout") ? duration(s.get("idleTimeout")) : null;
    Duration absolute = s.has("absoluteTimeout") ? duration(s.get("absoluteTimeout")) : null;
    if (idle != null || absolute != null) {
      // Gateway API's timeouts and the classic duration say the same thing two ways; both at once
      // would leave one of them silently ignored.
      for (String key : CLASSIC_TIMING) {
        if (s.has(key)) {
          throw s.get(key).error("cannot be combined with " + (idle != null ? "idleTimeout" : "absoluteTimeout")
              + ": use idleTimeout (sliding) and/or absoluteTimeout (fixed), or duration with sliding");
        }
      }
    }
    Duration duration = s.has("duration") ? duration(s.get("duration")) : StickinessConfig.DEFAULT_DURATION;
    boolean sliding = !s.has("sliding") || s.get("sliding").bool();
    boolean browserSession = s.has("browserSession") && s.get("browserSession").bool();
    if (browserSession && !sliding) {
      throw s.get("sliding").error("must not be false with browserSession: true (browser-session cookies always slide)");
    }
    boolean sessionCookie = browserSession;
    if (s.has("lifetime")) {
      YamlNode lifetime = s.get("lifetime");
      if (type == StickinessConfig.Type.HEADER) {
        throw lifetime.error("applies only to cookie persistence; a header token has no cookie lifetime");
      }
      if (browserSession) {
        throw lifetime.error("cannot be combined with browserSession (which is lifetime: session)");
      }
      String value = lifetime.string();
      if (!value.equals("permanent") && !value.equals("session")) {
        throw lifetime.error("must be permanent (the cookie has Max-Age, the default) or session (no Max-Age), got " + YamlNode.quote(value));
      }
      sessionCookie = value.equals("session");
    }
    if (type == StickinessConfig.Type.HEADER && browserSession) {
      throw s.get("browserSession").error("applies only to cookie persistence; a header token has no cookie lifetime");
    }
    Expiry.Mode mode = browserSession ? Expiry.Mode.BROWSER_SESSION : sliding ? Expiry.Mode.SLIDING : Expiry.Mode.FIXED;
    String cookie = null;
    if (type == StickinessConfig.Type.APPLICATION) {
      YamlNode c = s.required("cookie", "the application's session cookie for type application, e.g. JSESSIONID");
      String name = c.string();
      c.core(() -> StickinessPolicy.application(name, Expiry.sliding(duration)));
      cookie = name;
    } else if (s.has("cookie")) {
      throw s.get("cookie").error("applies only to stickiness type application, but type is " + type.name().toLowerCase(Locale.ROOT)
          + (type == StickinessConfig.Type.DURATION ? " (to name the balancer's own cookie, use sessionName)" : ""));
    }
    String sessionName = null;
    if (s.has("sessionName")) {
      YamlNode n = s.get("sessionName");
      String name = n.string();
      n.core(() -> StickinessPolicy.duration(Expiry.sliding(duration)).withSessionName(name));
      sessionName = name;
    }
    boolean strict = s.has("strict") && s.get("strict").bool();
    return new StickinessConfig(type, duration, mode, cookie, sessionName, idle, absolute, sessionCookie, strict);
  }

  private static StickinessConfig.Type type(YamlNode node) {
    String value = node.string();
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "none" -> StickinessConfig.Type.NONE;
      case "duration", "cookie" -> StickinessConfig.Type.DURATION;
      case "application" -> StickinessConfig.Type.APPLICATION;
      case "header" -> StickinessConfig.Type.HEADER;
      default -> throw node.error("must be one of duration (alias cookie), application, header, none; got " + YamlNode.quote(value));
    };
  }

  static Duration groupStickiness(YamlNode node) {
    return duration(node.map(GROUP_STICKINESS).required("duration", "how long a client stays on one target group, e.g. PT24H"));
  }

  private static Duration duration(YamlNode node) {
    return node.duration(Expiry.MIN_DURATION, Expiry.MAX_DURATION, "must be between 1 second (PT1S) and 7 days (P7D)");
  }
}
