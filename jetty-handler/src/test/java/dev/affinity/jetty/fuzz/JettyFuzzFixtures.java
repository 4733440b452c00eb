package dev.affinity.jetty.fuzz;

import com.code_intelligence.jazzer.api.BugDetectors;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.Keyring;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

/** Fixed keys and clock for the jetty-handler fuzz targets, so that a crashing input replays the same way. */
public final class JettyFuzzFixtures {
  static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  static final Clock CLOCK = Clock.fixed(START, ZoneOffset.UTC);

  private JettyFuzzFixtures() {}

  static Keyring keyring() {
    byte[] k = new byte[32];
    for (int i = 0; i < k.length; i++) {
      k[i] = (byte) (i * 11 + 5);
    }
    return Keyring.builder().addKey("jf1", k).build();
  }

  static AffinityCookieCodec codec(dev.affinity.cookie.CodecCounters counters) {
    return AffinityCookieCodec.builder().keyring(keyring()).clock(CLOCK).metrics(counters).build();
  }

  static dev.affinity.cookie.CodecCounters counters() {
    return CodecMetrics.counting();
  }

  /**
   * Jazzer's SSRF detector refuses every connection once a fuzz target has started, for the rest of
   * the JVM; the other test classes of this module run in the same JVM and connect to real backends.
   * Each fuzz test class calls this in {@code @AfterAll}.
   */
  public static void allowAllConnectionsAgain() {
    try {
      // Deliberately not closed: the permission outlives this class.
      @SuppressWarnings({"resource", "unused"})
      Object permit = BugDetectors.allowNetworkConnections();
    } catch (IllegalStateException noAgent) {
      // Jazzer's agent is not installed (no fuzz test ran): nothing to undo.
    }
  }
}
