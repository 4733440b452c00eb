package dev.affinity.standalone.config;

import dev.affinity.balancer.PassiveHealth;
import java.time.Duration;

/**
 * {@code passiveHealth: { enabled, consecutive5xx, consecutiveTimeouts, ejectFor, maxEjectFor,
 * maxEjectedPercent }} of a target group. Absent, core's {@link PassiveHealth#defaults()} apply:
 * on, with conservative values (see docs/configuration.md for why).
 */
final class PassiveHealthReader {
  static final Schema SCHEMA = Schema.keys("enabled", "consecutive5xx", "consecutiveTimeouts", "ejectFor", "maxEjectFor",
      "maxEjectedPercent");

  private PassiveHealthReader() {}

  static PassiveHealth read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    PassiveHealth d = PassiveHealth.defaults();
    if (s.has("enabled") && !s.get("enabled").bool()) {
      for (String key : SCHEMA.keys()) {
        if (!key.equals("enabled") && s.has(key)) {
          throw s.get(key).error("has no effect with enabled: false; remove it, or remove enabled: false");
        }
      }
      return PassiveHealth.off();
    }
    int consecutive5xx = s.has("consecutive5xx")
        ? s.get("consecutive5xx").integer(0, PassiveHealth.MAX_CONSECUTIVE) : d.consecutive5xx();
    int consecutiveTimeouts = s.has("consecutiveTimeouts")
        ? s.get("consecutiveTimeouts").integer(0, PassiveHealth.MAX_CONSECUTIVE) : d.consecutiveTimeouts();
    if (consecutive5xx == 0 && consecutiveTimeouts == 0) {
      YamlNode last = s.has("consecutiveTimeouts") ? s.get("consecutiveTimeouts") : s.get("consecutive5xx");
      throw last.error("consecutive5xx and consecutiveTimeouts cannot both be 0; to turn passive health off, write enabled: false");
    }
    Duration ejectFor = s.has("ejectFor")
        ? s.get("ejectFor").duration(Duration.ofSeconds(1), Duration.ofHours(1), "must be between 1 second (PT1S) and 1 hour (PT1H)")
        : d.ejectFor();
    Duration maxEjectFor;
    if (s.has("maxEjectFor")) {
      YamlNode m = s.get("maxEjectFor");
      maxEjectFor = m.duration(ejectFor, PassiveHealth.MAX_EJECT_FOR,
          "must be between ejectFor (" + ejectFor + ") and 1 day (P1D)");
    } else {
      // The default (300 s) unless ejectFor alone is longer.
      maxEjectFor = ejectFor.compareTo(d.maxEjectFor()) > 0 ? ejectFor : d.maxEjectFor();
    }
    int maxEjectedPercent = s.has("maxEjectedPercent") ? s.get("maxEjectedPercent").integer(1, 100) : d.maxEjectedPercent();
    return new PassiveHealth(consecutive5xx, consecutiveTimeouts, ejectFor, maxEjectFor, maxEjectedPercent);
  }
}
