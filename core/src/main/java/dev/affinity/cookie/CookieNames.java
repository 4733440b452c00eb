package dev.affinity.cookie;

/**
 * The affinity cookie names derived from one prefix ({@code AFFINITY} by default), so that renaming
 * all of them is one setting.
 */
public record CookieNames(String prefix) {
  public static final String CORS_SUFFIX = "CORS";

  public CookieNames {
    CookiePolicy.checkPrefix(prefix);
  }

  /** Balancer-generated, duration-based stickiness. */
  public String duration() {
    return prefix;
  }

  /** Balancer-generated, bound to the application's own cookie. */
  public String application() {
    return prefix + "APP";
  }

  /** Target-group stickiness for weighted forwarding. */
  public String group() {
    return prefix + "TG";
  }

  /** Issued by the filter inside a target. */
  public String route() {
    return prefix + "ROUTE";
  }

  /** Client-side session state issued by the filter. */
  public String session() {
    return prefix + "SESSION";
  }

  /** The companion set with {@code SameSite=None; Secure} for cross-site requests. */
  public static String corsCompanion(String name) {
    return name + CORS_SUFFIX;
  }
}
