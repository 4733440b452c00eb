package dev.affinity.standalone.config;

import dev.affinity.jetty.GracefulShutdown;
import java.time.Duration;

/**
 * {@code shutdown: { grace, unreadyDelay }}: how {@code SIGTERM} (or any stop) drains; each absent key
 * keeps its default ({@link GracefulShutdown#defaults()}).
 */
final class ShutdownReader {
  static final Schema SCHEMA = Schema.keys("grace", "unreadyDelay");
  /** Longer than this is a deployment waiting on a stuck balancer, not a load balancer catching up. */
  static final Duration MAX_UNREADY_DELAY = Duration.ofMinutes(5);

  private ShutdownReader() {}

  static GracefulShutdown read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    GracefulShutdown defaults = GracefulShutdown.defaults();
    Duration grace = s.has("grace")
        ? s.get("grace").duration(Duration.ZERO, GracefulShutdown.MAX_GRACE, "must be between 0 (PT0S: cut at once) and 1 hour (PT1H)")
        : defaults.grace();
    Duration unreadyDelay = defaults.unreadyDelay();
    if (s.has("unreadyDelay")) {
      YamlNode delay = s.get("unreadyDelay");
      unreadyDelay = delay.duration(Duration.ZERO, MAX_UNREADY_DELAY, "must be between 0 (PT0S) and 5 minutes (PT5M)");
      if (!unreadyDelay.isZero() && unreadyDelay.compareTo(grace) >= 0) {
        throw delay.error("must be shorter than shutdown.grace (" + grace + "), which counts from the stop and includes it, got "
            + unreadyDelay);
      }
    }
    return new GracefulShutdown(grace, unreadyDelay);
  }
}
