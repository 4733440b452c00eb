package dev.affinity.session;

import dev.affinity.route.RouteSettings;
import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * How the filter keeps sessions, parsed from init-params. Container-free; every refused value is
 * named with its setting.
 */
public final class SessionSettings {
  public static final String SESSION_MODE = "sessionMode";
  public static final String REDIS_URI = "redisUri";
  public static final String REDIS_KEY_PREFIX = "redisKeyPrefix";
  public static final String SESSION_MAX_BYTES = "sessionMaxBytes";
  public static final String NEAR_CACHE_SIZE = "nearCacheSize";
  public static final String NEAR_CACHE_TTL = "nearCacheTtl";
  public static final String ROTATE_SESSION_ON_PIN = "rotateSessionOnPin";
  public static final String SESSION_ALLOWED_CLASSES = "sessionAllowedClasses";
  /** Every setting {@link #parse} reads. */
  public static final List<String> SETTINGS = List.of(SESSION_MODE, REDIS_URI, REDIS_KEY_PREFIX, SESSION_MAX_BYTES,
      NEAR_CACHE_SIZE, NEAR_CACHE_TTL, ROTATE_SESSION_ON_PIN, SESSION_ALLOWED_CLASSES);

  public static final String DEFAULT_KEY_PREFIX = "affinity:session:";
  public static final int DEFAULT_MAX_BYTES = 16_384;
  public static final long DEFAULT_NEAR_CACHE_SIZE = 10_000;
  public static final Duration DEFAULT_NEAR_CACHE_TTL = Duration.ofSeconds(30);
  /** The most a session may hold: what 64 KB of cookie shards, or one sensible Redis hash, carries. */
  public static final int MAX_MAX_BYTES = 64 * 1024;

  private final SessionMode mode;
  private final String redisUri;
  private final String keyPrefix;
  private final int maxBytes;
  private final long nearCacheSize;
  private final Duration nearCacheTtl;
  private final boolean rotateOnPin;
  private final List<String> allowedClasses;

  private SessionSettings(Builder b) {
    this.mode = b.mode;
    this.redisUri = b.redisUri;
    this.keyPrefix = b.keyPrefix;
    this.maxBytes = b.maxBytes;
    this.nearCacheSize = b.nearCacheSize;
    this.nearCacheTtl = b.nearCacheTtl;
    this.rotateOnPin = b.rotateOnPin;
    this.allowedClasses = List.copyOf(b.allowedClasses);
  }

  public static SessionSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Reads the settings above by name; absent ones keep their defaults. */
  public static SessionSettings parse(Function<String, String> parameters) {
    requireNonNull(parameters, "parameters");
    Builder b = builder();
    String mode = parameters.apply(SESSION_MODE);
    if (mode != null) {
      b.mode(SessionMode.parse(mode));
    }
    String uri = parameters.apply(REDIS_URI);
    if (uri != null && !uri.isBlank()) {
      b.redisUri(uri.trim());
    }
    String prefix = parameters.apply(REDIS_KEY_PREFIX);
    if (prefix != null) {
      b.keyPrefix(prefix.trim());
    }
    String max = parameters.apply(SESSION_MAX_BYTES);
    if (max != null) {
      b.maxBytes((int) parseLong(SESSION_MAX_BYTES, max));
    }
    String size = parameters.apply(NEAR_CACHE_SIZE);
    if (size != null) {
      b.nearCacheSize(parseLong(NEAR_CACHE_SIZE, size));
    }
    String ttl = parameters.apply(NEAR_CACHE_TTL);
    if (ttl != null) {
      try {
        b.nearCacheTtl(Duration.parse(ttl.trim()));
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException(NEAR_CACHE_TTL + " must be an ISO-8601 duration such as PT30S, got \"" + ttl
            + "\"", e);
      }
    }
    String rotate = parameters.apply(ROTATE_SESSION_ON_PIN);
    if (rotate != null) {
      b.rotateOnPin(RouteSettings.parseBoolean(ROTATE_SESSION_ON_PIN, rotate));
    }
    String allowed = parameters.apply(SESSION_ALLOWED_CLASSES);
    if (allowed != null && !allowed.isBlank()) {
      List<String> names = new ArrayList<>();
      for (String name : allowed.split("[,\\s]+")) {
        if (!name.isEmpty()) {
          names.add(name);
        }
      }
      b.allowedClasses(names);
    }
    return b.build();
  }

  private static long parseLong(String setting, String value) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(setting + " must be a whole number, got \"" + value + "\"", e);
    }
  }


  public SessionMode mode() {
    return mode;
  }

  /** The Redis URI; {@code null} unless the mode is {@link SessionMode#REDIS}. */
  public String redisUri() {
    return redisUri;
  }

  public String keyPrefix() {
    return keyPrefix;
  }

  /**
   * The size limit: in cookie mode the sealed {@code AFFINITYSESSION} value (all shards), in redis mode
   * the attribute names and serialized values together.
   */
  public int maxBytes() {
    return maxBytes;
  }

  public long nearCacheSize() {
    return nearCacheSize;
  }

  public Duration nearCacheTtl() {
    return nearCacheTtl;
  }

  /** Whether {@code Affinity.pin(…)} also changes the session id (session fixation defence). */
  public boolean rotateOnPin() {
    return rotateOnPin;
  }

  public List<String> allowedClasses() {
    return allowedClasses;
  }

  /** The serializer these settings ask for. */
  public SessionSerializer serializer() {
    return SessionSerializer.java(allowedClasses);
  }

  @Override
  public String toString() {
    return "SessionSettings{mode=" + mode.value() + (mode == SessionMode.REDIS ? ", redisUri=" + redactedUri()
        + ", keyPrefix=" + keyPrefix + ", nearCache=" + nearCacheSize + "/" + nearCacheTtl : "") + ", maxBytes="
        + maxBytes + ", rotateOnPin=" + rotateOnPin + ", allowedClasses=" + allowedClasses + "}";
  }

  /** The URI without a password. */
  public String redactedUri() {
    return redisUri == null ? null : redisUri.replaceAll("//[^@/]*@", "//***@");
  }

  /** Fails fast: each setter names the setting and the value it refused. */
  public static final class Builder {
    private SessionMode mode = SessionMode.CONTAINER;
    private String redisUri;
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private int maxBytes = DEFAULT_MAX_BYTES;
    private long nearCacheSize = DEFAULT_NEAR_CACHE_SIZE;
    private Duration nearCacheTtl = DEFAULT_NEAR_CACHE_TTL;
    private boolean rotateOnPin;
    private List<String> allowedClasses = List.of();

    private Builder() {}

    public Builder mode(SessionMode mode) {
      this.mode = requireNonNull(mode, SESSION_MODE);
      return this;
    }

    /**
     * {@code redis://host:port[/db]}, {@code rediss://…} (TLS), {@code redis-sentinel://h1:p1,h2:p2/0#master},
     * or {@code redis-cluster://h1:p1,h2:p2} (seed nodes of a Redis Cluster).
     */
    public Builder redisUri(String redisUri) {
      requireNonNull(redisUri, REDIS_URI);
      if (!redisUri.matches("(?i)(redis|rediss|redis-sentinel|rediss-sentinel|redis-socket|redis-cluster|rediss-cluster)://.+")) {
        throw new IllegalArgumentException(REDIS_URI + " must start with redis://, rediss://, redis-sentinel://,"
            + " redis-cluster:// or rediss-cluster://, got \"" + redactedUri(redisUri) + "\"");
      }
      this.redisUri = redisUri;
      return this;
    }

    public Builder keyPrefix(String keyPrefix) {
      requireNonNull(keyPrefix, REDIS_KEY_PREFIX);
      if (keyPrefix.length() > 128 || keyPrefix.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
        throw new IllegalArgumentException(REDIS_KEY_PREFIX + " must be up to 128 visible ASCII characters, got \""
            + keyPrefix + "\"");
      }
      this.keyPrefix = keyPrefix;
      return this;
    }

    public Builder maxBytes(int maxBytes) {
      if (maxBytes < 256 || maxBytes > MAX_MAX_BYTES) {
        throw new IllegalArgumentException(SESSION_MAX_BYTES + " must be between 256 and " + MAX_MAX_BYTES + ", got "
            + maxBytes);
      }
      this.maxBytes = maxBytes;
      return this;
    }

    public Builder nearCacheSize(long size) {
      if (size < 0) {
        throw new IllegalArgumentException(NEAR_CACHE_SIZE + " must be >= 0 (0 turns it off), got " + size);
      }
      this.nearCacheSize = size;
      return this;
    }

    public Builder nearCacheTtl(Duration ttl) {
      requireNonNull(ttl, NEAR_CACHE_TTL);
      if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException(NEAR_CACHE_TTL + " must be between PT0.001S and PT1H, got " + ttl);
      }
      this.nearCacheTtl = ttl;
      return this;
    }

    public Builder rotateOnPin(boolean rotateOnPin) {
      this.rotateOnPin = rotateOnPin;
      return this;
    }

    public Builder allowedClasses(List<String> allowedClasses) {
      List<String> copy = List.copyOf(requireNonNull(allowedClasses, SESSION_ALLOWED_CLASSES));
      try {
        SessionSerializer.java(copy); // validates each entry, naming the bad one
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(SESSION_ALLOWED_CLASSES + ": " + e.getMessage(), e);
      }
      this.allowedClasses = copy;
      return this;
    }

    public SessionSettings build() {
      if (mode == SessionMode.REDIS && redisUri == null) {
        throw new IllegalStateException(SESSION_MODE + " redis needs " + REDIS_URI + " (e.g. redis://127.0.0.1:6379)");
      }
      return new SessionSettings(this);
    }

    private static String redactedUri(String uri) {
      return uri.replaceAll("//[^@/]*@", "//***@");
    }
  }
}
