package dev.affinity.fuzz;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.Keyring;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.LoggerFactory;

/**
 * Keys, clock and tokens shared by the core fuzz targets. Everything is fixed so that a crashing
 * input replays the same way: the keys are constants, the clock stands still at {@link #START}, and
 * {@code fixed-tokens.txt} holds values sealed once with these keys (valid for 7 days from START,
 * plus tokens sealed with a wrong key and expired ones), so that seed inputs can carry real tokens.
 */
final class FuzzFixtures {
  static final Instant START = Instant.parse("2026-11-23T10:00:00Z");
  static final Clock CLOCK = Clock.fixed(START, ZoneOffset.UTC);
  /** Eight days on: every token, fixed or sealed during the run, has expired. */
  static final Clock LATE = Clock.fixed(START.plus(Duration.ofDays(8)), ZoneOffset.UTC);
  static final String[] NAMES = {
      "AFFINITY", "AFFINITYROUTE", "AFFINITYTG", "AFFINITYAPP", "AFFINITYCORS", "AFFINITYSESSION", "", "x"};

  private static final AtomicReference<ILoggingEvent> NET_HIT = new AtomicReference<>();

  private FuzzFixtures() {}

  static Keyring keyring() {
    return Keyring.builder().addKey("fz1", key(7, 1)).addKey("fz0", key(-3, 255)).build();
  }

  private static byte[] key(int step, int offset) {
    byte[] k = new byte[32];
    for (int i = 0; i < k.length; i++) {
      k[i] = (byte) (i * step + offset);
    }
    return k;
  }

  static AffinityCookieCodec codec(CodecCounters counters, long cacheSize, Clock clock) {
    return AffinityCookieCodec.builder().keyring(keyring()).clock(clock).metrics(counters).cacheMaximumSize(cacheSize).build();
  }

  static CodecCounters counters() {
    return CodecMetrics.counting();
  }

  /** One line of {@code fixed-tokens.txt}: {@code kind name target group token}. */
  record FixedToken(String kind, String name, String target, String group, String token) {
    boolean valid() {
      return kind.equals("valid");
    }
  }

  static List<FixedToken> fixedTokens() {
    try (InputStream in = FuzzFixtures.class.getResourceAsStream("fixed-tokens.txt")) {
      List<FixedToken> out = new ArrayList<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
        String[] f = line.trim().split(" ");
        if (f.length == 5) {
          out.add(new FixedToken(f[0], f[1], f[2], f[3], f[4]));
        }
      }
      return Collections.unmodifiableList(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The tickets of the valid fixed tokens, keyed by {@code name + '\0' + token}: the only values that
   * may open for those names (besides what a target seals itself during the run).
   */
  static Map<String, AffinityTicket> fixedValid() {
    Map<String, AffinityTicket> out = new HashMap<>();
    for (FixedToken t : fixedTokens()) {
      if (t.valid()) {
        out.put(key(t.name(), t.token()), ticketOf(t));
      }
    }
    return out;
  }

  static AffinityTicket ticketOf(FixedToken t) {
    // The big fixed token carries 1500 zero bytes of extra data; targets compare target and group only.
    return AffinityTicket.of(t.target(), t.group(), START, START.plus(Duration.ofDays(7)));
  }

  static String key(String name, String value) {
    return name + '\0' + value;
  }

  /**
   * Makes the codec's safety net visible: {@code open} catches any RuntimeException and logs it at
   * debug level before treating the value as tampered. A fuzz target calls {@link #assertNetNotHit}
   * so that an exception caught there still fails the input.
   */
  static void watchCodecNet() {
    Logger logger = (Logger) LoggerFactory.getLogger("dev.affinity.cookie.SealedCookieCodec");
    if (logger.getAppender("fuzz-net") != null) {
      return;
    }
    AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent event) {
        if (event.getThrowableProxy() != null) {
          NET_HIT.compareAndSet(null, event);
        }
      }
    };
    appender.setName("fuzz-net");
    appender.setContext(logger.getLoggerContext());
    appender.start();
    logger.addAppender(appender);
    logger.setLevel(Level.DEBUG);
    logger.setAdditive(false);
  }

  static void assertNetNotHit() {
    ILoggingEvent hit = NET_HIT.getAndSet(null);
    if (hit != null) {
      throw new AssertionError("an exception escaped the codec's checks and was caught by its safety net: "
          + hit.getThrowableProxy().getClassName() + ": " + hit.getThrowableProxy().getMessage());
    }
  }
}
