package dev.affinity.spring;

import dev.affinity.route.RouteSettings;
import dev.affinity.session.SessionSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code affinity.*} properties. Each one is the filter's init-param of the same meaning (see
 * {@link #initParameters()}); values are checked by the filter's own parsers, so a Spring application
 * and a {@code web.xml} accept and refuse exactly the same settings.
 */
@ConfigurationProperties(prefix = "affinity")
public class AffinityProperties {

  /** Whether to register the Affinity filter at all. */
  private boolean enabled = true;

  /**
   * This target's id as the balancer knows it (1-64 of A-Z a-z 0-9 . _ -). Required; the environment
   * variable AFFINITY_TARGET_ID sets it too.
   */
  private String targetId;

  /**
   * The keyring shared with the balancer, primary first: "id:base64secret, id:base64secret". Or
   * keys-file, or the environment variable AFFINITY_KEYS. None: a random per-process key and a loud
   * warning (cookies die with the process). Never shown by the actuator endpoint.
   */
  private String keys;

  /** A file holding the keyring text (# comments and new lines allowed). Not together with keys. */
  private String keysFile;

  /** Prefix of the cookie names: the route cookie is <prefix>ROUTE. */
  private String cookiePrefix = "AFFINITY";

  /** Also issue <prefix>ROUTECORS (SameSite=None; Secure) for cross-site requests. */
  private boolean cors = false;

  /** SameSite of the route cookie: Strict, Lax or None. */
  private String sameSite = "Lax";

  /** Secure attribute: auto (when the request is secure), always or never. */
  private String secure = "auto";

  /** How long a pin lasts when none is given, 1 s to 7 days. */
  private Duration pinDuration = Duration.ofHours(1);

  /** Pin the client when the application creates an HTTP session. */
  private boolean pinOnSessionCreate = true;

  /** The target group sealed into route cookies (1-64 of A-Z a-z 0-9 . _ -); empty for none. */
  private String targetGroup;

  /**
   * Order of the filter's registration. The default runs it just inside Spring Session's
   * SessionRepositoryFilter (so that it sees the sessions Spring Session creates) and before Spring
   * Security's filter chain: Integer.MIN_VALUE + 60.
   */
  private int filterOrder = AffinityAutoConfiguration.DEFAULT_FILTER_ORDER;

  /** Where HttpSessions live. */
  private final Session session = new Session();

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public String getTargetId() {
    return targetId;
  }

  public void setTargetId(String targetId) {
    this.targetId = targetId;
  }

  public String getKeys() {
    return keys;
  }

  public void setKeys(String keys) {
    this.keys = keys;
  }

  public String getKeysFile() {
    return keysFile;
  }

  public void setKeysFile(String keysFile) {
    this.keysFile = keysFile;
  }

  public String getCookiePrefix() {
    return cookiePrefix;
  }

  public void setCookiePrefix(String cookiePrefix) {
    this.cookiePrefix = cookiePrefix;
  }

  public boolean isCors() {
    return cors;
  }

  public void setCors(boolean cors) {
    this.cors = cors;
  }

  public String getSameSite() {
    return sameSite;
  }

  public void setSameSite(String sameSite) {
    this.sameSite = sameSite;
  }

  public String getSecure() {
    return secure;
  }

  public void setSecure(String secure) {
    this.secure = secure;
  }

  public Duration getPinDuration() {
    return pinDuration;
  }

  public void setPinDuration(Duration pinDuration) {
    this.pinDuration = pinDuration;
  }

  public boolean isPinOnSessionCreate() {
    return pinOnSessionCreate;
  }

  public void setPinOnSessionCreate(boolean pinOnSessionCreate) {
    this.pinOnSessionCreate = pinOnSessionCreate;
  }

  public String getTargetGroup() {
    return targetGroup;
  }

  public void setTargetGroup(String targetGroup) {
    this.targetGroup = targetGroup;
  }

  public int getFilterOrder() {
    return filterOrder;
  }

  public void setFilterOrder(int filterOrder) {
    this.filterOrder = filterOrder;
  }

  public Session getSession() {
    return session;
  }

  /**
   * The filter's init-params for these properties (only those set), the form
   * {@code AffinityFilterConfig.fromParameters} parses and checks.
   */
  Map<String, String> initParameters() {
    Map<String, String> p = new LinkedHashMap<>();
    put(p, RouteSettings.TARGET_ID, targetId);
    put(p, RouteSettings.KEYS, keys);
    put(p, RouteSettings.KEYS_FILE, keysFile);
    put(p, RouteSettings.COOKIE_PREFIX, cookiePrefix);
    put(p, RouteSettings.CORS, Boolean.toString(cors));
    put(p, RouteSettings.SAME_SITE, sameSite);
    put(p, RouteSettings.SECURE, secure);
    put(p, RouteSettings.PIN_DURATION, pinDuration == null ? null : pinDuration.toString());
    put(p, RouteSettings.PIN_ON_SESSION_CREATE, Boolean.toString(pinOnSessionCreate));
    put(p, RouteSettings.TARGET_GROUP, targetGroup);
    put(p, SessionSettings.SESSION_MODE, session.mode);
    put(p, SessionSettings.REDIS_URI, session.redisUri);
    put(p, SessionSettings.REDIS_KEY_PREFIX, session.redisKeyPrefix);
    put(p, SessionSettings.SESSION_MAX_BYTES, Integer.toString(session.maxBytes));
    put(p, SessionSettings.NEAR_CACHE_SIZE, Long.toString(session.nearCacheSize));
    put(p, SessionSettings.NEAR_CACHE_TTL, session.nearCacheTtl == null ? null : session.nearCacheTtl.toString());
    put(p, SessionSettings.ROTATE_SESSION_ON_PIN, Boolean.toString(session.rotateOnPin));
    put(p, SessionSettings.SESSION_ALLOWED_CLASSES,
        session.allowedClasses.isEmpty() ? null : String.join(",", session.allowedClasses));
    return p;
  }

  /** The property that sets each init-param, for messages. */
  static final Map<String, String> PROPERTY_OF_PARAMETER = Map.ofEntries(
      Map.entry(RouteSettings.TARGET_ID, "affinity.target-id"),
      Map.entry(RouteSettings.KEYS, "affinity.keys"),
      Map.entry(RouteSettings.KEYS_FILE, "affinity.keys-file"),
      Map.entry(RouteSettings.COOKIE_PREFIX, "affinity.cookie-prefix"),
      Map.entry(RouteSettings.CORS, "affinity.cors"),
      Map.entry(RouteSettings.SAME_SITE, "affinity.same-site"),
      Map.entry(RouteSettings.SECURE, "affinity.secure"),
      Map.entry(RouteSettings.PIN_DURATION, "affinity.pin-duration"),
      Map.entry(RouteSettings.PIN_ON_SESSION_CREATE, "affinity.pin-on-session-create"),
      Map.entry(RouteSettings.TARGET_GROUP, "affinity.target-group"),
      Map.entry(SessionSettings.SESSION_MODE, "affinity.session.mode"),
      Map.entry(SessionSettings.REDIS_URI, "affinity.session.redis-uri"),
      Map.entry(SessionSettings.REDIS_KEY_PREFIX, "affinity.session.redis-key-prefix"),
      Map.entry(SessionSettings.SESSION_MAX_BYTES, "affinity.session.max-bytes"),
      Map.entry(SessionSettings.NEAR_CACHE_SIZE, "affinity.session.near-cache-size"),
      Map.entry(SessionSettings.NEAR_CACHE_TTL, "affinity.session.near-cache-ttl"),
      Map.entry(SessionSettings.ROTATE_SESSION_ON_PIN, "affinity.session.rotate-on-pin"),
      Map.entry(SessionSettings.SESSION_ALLOWED_CLASSES, "affinity.session.allowed-classes"));

  private static void put(Map<String, String> p, String name, String value) {
    if (value != null) {
      p.put(name, value);
    }
  }

  /** {@code affinity.session.*}: where HttpSessions live. */
  public static class Session {

    /**
     * container (the default, route-only: HttpSession stays the container's, or Spring Session's when
     * its filter is registered), cookie (a sealed client-side cookie) or redis.
     */
    private String mode = "container";

    /**
     * redis mode: redis://[user:pass@]host:port[/db], rediss://..., redis-sentinel://... or
     * redis-cluster://h1:p1,h2:p2. Its password is never shown or logged.
     */
    private String redisUri;

    /** redis mode: the key of a session is this prefix plus its id. */
    private String redisKeyPrefix = "affinity:session:";

    /** cookie mode: the sealed cookie, all shards; redis mode: attribute names plus values (256-65536). */
    private int maxBytes = 16384;

    /** redis mode: sessions kept in this target's near-cache; 0 turns it off. */
    private long nearCacheSize = 10000;

    /** redis mode: how long the near-cache keeps a session (up to 1 hour). */
    private Duration nearCacheTtl = Duration.ofSeconds(30);

    /** cookie and redis modes: change the session id when the application pins (session fixation defence). */
    private boolean rotateOnPin = false;

    /**
     * cookie and redis modes: classes that session attributes may hold besides the JDK's value types
     * (com.example.Cart, com.example.model.* or com.example.**).
     */
    private List<String> allowedClasses = new ArrayList<>();

    public String getMode() {
      return mode;
    }

    public void setMode(String mode) {
      this.mode = mode;
    }

    public String getRedisUri() {
      return redisUri;
    }

    public void setRedisUri(String redisUri) {
      this.redisUri = redisUri;
    }

    public String getRedisKeyPrefix() {
      return redisKeyPrefix;
    }

    public void setRedisKeyPrefix(String redisKeyPrefix) {
      this.redisKeyPrefix = redisKeyPrefix;
    }

    public int getMaxBytes() {
      return maxBytes;
    }

    public void setMaxBytes(int maxBytes) {
      this.maxBytes = maxBytes;
    }

    public long getNearCacheSize() {
      return nearCacheSize;
    }

    public void setNearCacheSize(long nearCacheSize) {
      this.nearCacheSize = nearCacheSize;
    }

    public Duration getNearCacheTtl() {
      return nearCacheTtl;
    }

    public void setNearCacheTtl(Duration nearCacheTtl) {
      this.nearCacheTtl = nearCacheTtl;
    }

    public boolean isRotateOnPin() {
      return rotateOnPin;
    }

    public void setRotateOnPin(boolean rotateOnPin) {
      this.rotateOnPin = rotateOnPin;
    }

    public List<String> getAllowedClasses() {
      return allowedClasses;
    }

    public void setAllowedClasses(List<String> allowedClasses) {
      this.allowedClasses = allowedClasses;
    }
  }
}
