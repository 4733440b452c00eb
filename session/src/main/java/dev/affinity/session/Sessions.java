package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * An application's sessions in {@link SessionMode#COOKIE} or {@link SessionMode#REDIS} mode: the
 * sealed {@code AFFINITYSESSION} cookie (the whole session, or only its id), the serializer, the size
 * limit and, for a store, the store. {@link #begin} starts one request's {@link RequestSession}.
 */
public final class Sessions {
  private final SessionSettings settings;
  private final AffinityCookies cookies;
  private final String cookieName;
  private final SessionStore store;
  private final SessionSerializer serializer;
  private final Session.Limit limit;
  private final Duration defaultMaxInactive;
  private final String targetId;
  private final String targetGroup;
  private final Clock clock;

  private Sessions(Builder b) {
    this.settings = b.settings;
    this.store = b.store;
    this.serializer = b.settings.serializer();
    this.defaultMaxInactive = b.defaultMaxInactive;
    this.targetId = b.targetId;
    this.targetGroup = b.targetGroup;
    this.clock = b.clock;
    CookiePolicy base = b.cookiePolicy;
    boolean cookieMode = settings.mode() == SessionMode.COOKIE;
    CookiePolicy.Builder policy = CookiePolicy.builder()
        .prefix(base.names().prefix())
        .cors(false)
        .sameSite(base.sameSite())
        .secure(base.secureMode())
        .path(base.path())
        .domain(base.domain())
        .maxShardBytes(base.maxShardBytes())
        .maxTotalBytes(cookieMode ? settings.maxBytes() : 1024);
    AffinityCookieCodec codec = AffinityCookieCodec.builder()
        .keyring(b.keyring)
        .clock(clock)
        .metrics(b.metrics)
        .cacheMaximumSize(cookieMode ? 10_000 : 100_000)
        .maxValueLength(Math.max(16_384, settings.maxBytes()))
        .build();
    this.cookies = AffinityCookies.of(codec, policy.build());
    this.cookieName = cookies.names().session();
    this.limit = cookieMode ? new SealedSize() : new StoredSize(settings.maxBytes());
  }

  public static Builder builder(SessionSettings settings) {
    return new Builder(requireNonNull(settings, "settings"));
  }

  /** One request's session, read lazily from its cookies. */
  public RequestSession begin(CookieSource request, boolean secureRequest) {
    return new RequestSession(this, requireNonNull(request, "request"), secureRequest);
  }

  public SessionSettings settings() {
    return settings;
  }

  public SessionMode mode() {
    return settings.mode();
  }

  /** The store in redis mode; {@code null} in cookie mode. */
  public SessionStore store() {
    return store;
  }

  /** {@code AFFINITYSESSION}, or the configured prefix followed by {@code SESSION}. */
  public String cookieName() {
    return cookieName;
  }

  AffinityCookies cookies() {
    return cookies;
  }

  SessionSerializer serializer() {
    return serializer;
  }

  Session.Limit limit() {
    return limit;
  }

  Duration defaultMaxInactive() {
    return defaultMaxInactive;
  }

  Instant now() {
    return clock.instant();
  }

  /**
   * The ticket the session cookie carries: the whole session (cookie mode) or its id (redis mode), valid
   * for the session's maximum inactive interval (clamped to 1 s – 7 d).
   */
  AffinityTicket ticket(SessionRecord record, Instant now) {
    byte[] extra = settings.mode() == SessionMode.COOKIE ? record.toBytes() : record.id().getBytes(StandardCharsets.US_ASCII);
    Duration life = settings.mode() == SessionMode.COOKIE ? cookieLife(record.maxInactive()) : Expiry.MAX_DURATION;
    return AffinityTicket.of(targetId, targetGroup, now, now.plus(life), extra);
  }

  Expiry expiry(SessionRecord record) {
    return Expiry.browserSession(settings.mode() == SessionMode.COOKIE ? cookieLife(record.maxInactive()) : Expiry.MAX_DURATION);
  }

  static Duration cookieLife(Duration maxInactive) {
    if (maxInactive.isZero() || maxInactive.isNegative() || maxInactive.compareTo(Expiry.MAX_DURATION) > 0) {
      return Expiry.MAX_DURATION;
    }
    return maxInactive.compareTo(Expiry.MIN_DURATION) < 0 ? Expiry.MIN_DURATION : maxInactive;
  }

  /** How long an access may go unrecorded: 1 % of the interval, at most 60 s. */
  static Duration touchGranularity(Duration maxInactive) {
    if (maxInactive.isZero() || maxInactive.isNegative()) {
      return Duration.ofSeconds(60);
    }
    Duration onePercent = maxInactive.dividedBy(100);
    return onePercent.compareTo(Duration.ofSeconds(60)) > 0 ? Duration.ofSeconds(60) : onePercent;
  }

  /** Cookie mode: the sealed cookie value, all shards together. */
  private final class SealedSize implements Session.Limit {
    @Override
    public int measure(SessionRecord candidate) {
      byte[] payload = candidate.toBytes();
      // base64url of the payload plus at most 1 KB of ticket, header, nonce and tag: when even that
      // fits, skip sealing; near the limit, seal to measure exactly.
      long bound = (payload.length + 1024L) * 4 / 3 + 4;
      if (bound <= settings.maxBytes()) {
        return (int) bound;
      }
      return cookies.codec().seal(cookieName, ticket(candidate, clock.instant())).length();
    }

    @Override
    public int max() {
      return settings.maxBytes();
    }

    @Override
    public String what() {
      return "the sealed " + cookieName + " cookie";
    }
  }

  /** Redis mode: attribute names and serialized values. */
  private static final class StoredSize implements Session.Limit {
    private final int max;

    StoredSize(int max) {
      this.max = max;
    }

    @Override
    public int measure(SessionRecord candidate) {
      return candidate.attributeBytes();
    }

    @Override
    public int max() {
      return max;
    }

    @Override
    public String what() {
      return "the stored session";
    }
  }

  @Override
  public String toString() {
    return "Sessions{" + settings + ", cookie=" + cookieName + (store == null ? "" : ", store=" + store) + "}";
  }

  /** Fails fast, naming the option. */
  public static final class Builder {
    private final SessionSettings settings;
    private SessionStore store;
    private Keyring keyring;
    private CookiePolicy cookiePolicy = CookiePolicy.defaults();
    private CodecMetrics metrics = CodecMetrics.noop();
    private Duration defaultMaxInactive = Duration.ofMinutes(30);
    private String targetId = "session";
    private String targetGroup = "";
    private Clock clock = Clock.systemUTC();

    private Builder(SessionSettings settings) {
      if (settings.mode() == SessionMode.CONTAINER) {
        throw new IllegalArgumentException("sessionMode container keeps the container's sessions; Sessions is for cookie or redis");
      }
      this.settings = settings;
    }

    /** Required in redis mode (usually {@link SessionStore#nearCached} around the Redis store). */
    public Builder store(SessionStore store) {
      this.store = requireNonNull(store, "store");
      return this;
    }

    /** The keyring that seals {@code AFFINITYSESSION}: the application's (shared by all its targets). */
    public Builder keyring(Keyring keyring) {
      this.keyring = requireNonNull(keyring, "keyring");
      return this;
    }

    /** Name prefix, SameSite, Secure, path and domain; CORS companions are never set for sessions. */
    public Builder cookiePolicy(CookiePolicy cookiePolicy) {
      this.cookiePolicy = requireNonNull(cookiePolicy, "cookiePolicy");
      return this;
    }

    public Builder metrics(CodecMetrics metrics) {
      this.metrics = requireNonNull(metrics, "metrics");
      return this;
    }

    /** The maximum inactive interval of new sessions (the container's session timeout). Default 30 min. */
    public Builder defaultMaxInactive(Duration maxInactive) {
      this.defaultMaxInactive = requireNonNull(maxInactive, "defaultMaxInactive");
      return this;
    }

    /** Sealed into the ticket for information only. */
    public Builder target(String targetId, String targetGroup) {
      this.targetId = requireNonNull(targetId, "targetId");
      this.targetGroup = requireNonNull(targetGroup, "targetGroup");
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    public Sessions build() {
      if (keyring == null) {
        throw new IllegalStateException("keyring is required to seal " + cookiePolicy.names().session());
      }
      if (settings.mode() == SessionMode.REDIS && store == null) {
        throw new IllegalStateException("sessionMode redis needs a store");
      }
      return new Sessions(this);
    }
  }
}
