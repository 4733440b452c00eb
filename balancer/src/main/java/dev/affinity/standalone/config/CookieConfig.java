package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;

/** How affinity cookies are named and sent; {@link #toPolicy()} gives core's policy. */
public record CookieConfig(
    String prefix, boolean cors, SameSite sameSite, SecureMode secure, int maxShardBytes, int maxTotalBytes, boolean sealReuse) {
  public static final String DEFAULT_PREFIX = "AFFINITY";
  public static final int DEFAULT_MAX_SHARD_BYTES = 4096;
  public static final int DEFAULT_MAX_TOTAL_BYTES = 16384;

  public CookieConfig {
    requireNonNull(prefix, "prefix");
    requireNonNull(sameSite, "sameSite");
    requireNonNull(secure, "secure");
  }

  /** With {@code sealReuse} at its default, on. */
  public CookieConfig(String prefix, boolean cors, SameSite sameSite, SecureMode secure, int maxShardBytes, int maxTotalBytes) {
    this(prefix, cors, sameSite, secure, maxShardBytes, maxTotalBytes, true);
  }

  public static CookieConfig defaults() {
    return new CookieConfig(DEFAULT_PREFIX, false, SameSite.LAX, SecureMode.AUTO, DEFAULT_MAX_SHARD_BYTES, DEFAULT_MAX_TOTAL_BYTES, true);
  }

  /** Core's cookie policy for these settings; throws IllegalArgumentException/IllegalStateException naming a bad one. */
  public CookiePolicy toPolicy() {
    return CookiePolicy.builder()
        .prefix(prefix)
        .cors(cors)
        .sameSite(sameSite)
        .secure(secure)
        .maxShardBytes(maxShardBytes)
        .maxTotalBytes(maxTotalBytes)
        .sealReuse(sealReuse)
        .build();
  }
}
