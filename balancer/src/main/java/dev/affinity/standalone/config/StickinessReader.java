package dev.affinity.standalone.config;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.Expiry;
import java.time.Duration;
import java.util.List;

/**
 * {@code stickiness: { type, duration, sliding, browserSession, cookie }}, and the duration rule
 * {@code groupStickiness} shares: core's {@link Expiry} bounds, core's cookie-name rule.
 */
final class StickinessReader {
  static final Schema SCHEMA = Schema.keys("type", "duration", "sliding", "browserSession", "cookie");
  /** {@code groupStickiness: { duration }}. */
  static final Schema GROUP_STICKINESS = Schema.keys("duration");

  private StickinessReader() {}

  static StickinessConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    StickinessConfig.Type type = s.has("type") ? s.get("type").enumValue(StickinessConfig.Type.class) : StickinessConfig.Type.NONE;
    if (type == StickinessConfig.Type.NONE) {
      for (String key : List.of("duration", "sliding", "browserSession", "cookie")) {
        if (s.has(key)) {
          throw s.get(key).error("applies only to stickiness type duration or application, but type is none"
              + (s.has("type") ? "" : " (the default)"));
        }
      }
      return StickinessConfig.none();
    }
    Duration duration = s.has("duration") ? duration(s.get("duration")) : StickinessConfig.DEFAULT_DURATION;
    boolean sliding = !s.has("sliding") || s.get("sliding").bool();
    boolean browserSession = s.has("browserSession") && s.get("browserSession").bool();
    if (browserSession && !sliding) {
      throw s.get("sliding").error("must not be false with browserSession: true (browser-session cookies always slide)");
    }
    Expiry.Mode mode = browserSession ? Expiry.Mode.BROWSER_SESSION : sliding ? Expiry.Mode.SLIDING : Expiry.Mode.FIXED;
    String cookie = null;
    if (type == StickinessConfig.Type.APPLICATION) {
      YamlNode c = s.required("cookie", "the application's session cookie for type application, e.g. JSESSIONID");
      String name = c.string();
      c.core(() -> StickinessPolicy.application(name, Expiry.sliding(duration)));
      cookie = name;
    } else if (s.has("cookie")) {
      throw s.get("cookie").error("applies only to stickiness type application, but type is duration");
    }
    return new StickinessConfig(type, duration, mode, cookie);
  }

  static Duration groupStickiness(YamlNode node) {
    return duration(node.map(GROUP_STICKINESS).required("duration", "how long a client stays on one target group, e.g. PT24H"));
  }

  private static Duration duration(YamlNode node) {
    return node.duration(Expiry.MIN_DURATION, Expiry.MAX_DURATION, "must be between 1 second (PT1S) and 7 days (P7D)");
  }
}
