package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;

/**
 * How affinity cookies look on the wire: names, attributes and size limits. Defaults are the safe
 * ones: {@code Path=/}, {@code HttpOnly}, {@code Secure} on TLS, {@code SameSite=Lax}, host-only.
 */
public final class CookiePolicy {
  /** RFC 6265bis: user agents must accept 4096 bytes of name, value and attributes per cookie. */
  public static final int MAX_COOKIE_BYTES = 4096;
  static final int MIN_SHARD_BYTES = 512;
  static final int MAX_TOTAL_BYTES = 64 * 1024;
  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9_]{1,64}");
  private static final Pattern PATH = Pattern.compile("/[\\x21-\\x3A\\x3C-\\x7E]*");
  private static final Pattern DOMAIN = Pattern.compile("\\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");

  private final CookieNames names;
  private final boolean cors;
  private final SameSite sameSite;
  private final SecureMode secure;
  private final String path;
  private final String domain;
  private final int maxShardBytes;
  private final int maxTotalBytes;
  private final boolean sealReuse;

  private CookiePolicy(Builder b) {
    this.names = new CookieNames(b.prefix);
    this.cors = b.cors;
    this.sameSite = b.sameSite;
    this.secure = b.secure;
    this.path = b.path;
    this.domain = b.domain;
    this.maxShardBytes = b.maxShardBytes;
    this.maxTotalBytes = b.maxTotalBytes;
    this.sealReuse = b.sealReuse;
  }

  public static CookiePolicy defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public CookieNames names() {
    return names;
  }

  public boolean cors() {
    return cors;
  }

  public SameSite sameSite() {
    return sameSite;
  }

  /**
   * The {@code SameSite} a cookie gets when it is {@code secure} or not. A configured {@code None}
   * needs {@code Secure} (RFC 6265bis), which a cookie answering a plain-HTTP request under
   * {@link SecureMode#AUTO} does not get: that one is {@code Lax}, what browsers apply to a cookie
   * without {@code SameSite} anyway, so it still works for same-site requests instead of being
   * refused by the browser (or failing the request).
   */
  public SameSite sameSite(boolean secure) {
    return sameSite == SameSite.NONE && !secure ? SameSite.LAX : sameSite;
  }

  public SecureMode secureMode() {
    return secure;
  }

  public String path() {
    return path;
  }

  /** {@code null} for host-only cookies. */
  public String domain() {
    return domain;
  }

  public int maxShardBytes() {
    return maxShardBytes;
  }

  public int maxTotalBytes() {
    return maxTotalBytes;
  }

  /**
   * Whether a sealed value is reused for every ticket with the same plaintext (see
   * {@link Builder#sealReuse}): sealing then costs once per target, group and refresh granule, not
   * once per response.
   */
  public boolean sealReuse() {
    return sealReuse;
  }

  static void checkPrefix(String prefix) {
    requireNonNull(prefix, "prefix");
    if (!PREFIX.matcher(prefix).matches()) {
      throw new IllegalArgumentException(
          "cookie prefix must be 1-64 characters of A-Z a-z 0-9 _, got \"" + prefix + "\"");
    }
  }

  /** Fails fast: each setter names the option and the value it refused. */
  public static final class Builder {
    private String prefix = "AFFINITY";
    private boolean cors;
    private SameSite sameSite = SameSite.LAX;
    private SecureMode secure = SecureMode.AUTO;
    private String path = "/";
    private String domain;
    private int maxShardBytes = MAX_COOKIE_BYTES;
    private int maxTotalBytes = 16 * 1024;
    private boolean sealReuse = true;

    private Builder() {}

    public Builder prefix(String prefix) {
      checkPrefix(prefix);
      this.prefix = prefix;
      return this;
    }

    /** Also set each cookie as {@code NAMECORS} with {@code SameSite=None; Secure}. */
    public Builder cors(boolean cors) {
      this.cors = cors;
      return this;
    }

    public Builder sameSite(SameSite sameSite) {
      this.sameSite = requireNonNull(sameSite, "sameSite");
      return this;
    }

    public Builder secure(SecureMode secure) {
      this.secure = requireNonNull(secure, "secure");
      return this;
    }

    public Builder path(String path) {
      requireNonNull(path, "path");
      if (!PATH.matcher(path).matches()) {
        throw new IllegalArgumentException("cookie path must start with / and hold no ; or control characters, got \"" + path + "\"");
      }
      this.path = path;
      return this;
    }

    public Builder domain(String domain) {
      if (domain != null && !DOMAIN.matcher(domain).matches()) {
        throw new IllegalArgumentException("cookie domain is not a valid host name: \"" + domain + "\"");
      }
      this.domain = domain;
      return this;
    }

    public Builder maxShardBytes(int bytes) {
      if (bytes < MIN_SHARD_BYTES || bytes > MAX_COOKIE_BYTES) {
        throw new IllegalArgumentException("maxShardBytes must be between " + MIN_SHARD_BYTES + " and "
            + MAX_COOKIE_BYTES + " (RFC 6265bis per-cookie limit), got " + bytes);
      }
      this.maxShardBytes = bytes;
      return this;
    }

    public Builder maxTotalBytes(int bytes) {
      if (bytes < 256 || bytes > MAX_TOTAL_BYTES) {
        throw new IllegalArgumentException("maxTotalBytes must be between 256 and " + MAX_TOTAL_BYTES + ", got " + bytes);
      }
      this.maxTotalBytes = bytes;
      return this;
    }

    /**
     * Seal once per plaintext and reuse the value (default {@code true}). Tickets are then sealed with
     * their times moved back to the start of their refresh granule ({@link AffinityCookies#shareable}),
     * so every client pinned to the same target in the same granule (at most 60 s) gets the same value,
     * sealed once. What that reveals: someone who sees two clients' cookies can tell that both were
     * pinned to the same target within the same granule, which the routing already tells anyone who
     * sees where the requests go; while a value unique to each client is an identifier of that client,
     * a shared one names a crowd. With {@code false} every cookie is sealed afresh under a new nonce
     * and no two clients' values are equal.
     */
    public Builder sealReuse(boolean sealReuse) {
      this.sealReuse = sealReuse;
      return this;
    }

    public CookiePolicy build() {
      if (sameSite == SameSite.NONE && secure == SecureMode.NEVER) {
        throw new IllegalStateException("sameSite None requires Secure; secure is set to never");
      }
      return new CookiePolicy(this);
    }
  }
}
