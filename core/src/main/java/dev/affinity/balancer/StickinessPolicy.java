package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.Expiry;
import java.util.regex.Pattern;

/**
 * How a target group (or one listener rule) keeps a client on one target: as ALB offers it — not at
 * all, by a balancer-generated cookie that lasts a duration, or by a balancer cookie bound to the
 * application's own session cookie — and as Gateway API adds it: by a sealed token in a request header
 * for clients that keep no cookies (API and gRPC clients), with idle and absolute timeouts
 * ({@link Expiry#timeouts}) and a strict mode.
 *
 * <p>Policies are values: {@link #withSessionName}, {@link #strict(boolean)} and {@link #withCookiePath}
 * return changed copies.
 */
public final class StickinessPolicy {
  private static final Pattern COOKIE_NAME = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,128}");
  private static final StickinessPolicy NONE = new StickinessPolicy(Type.NONE, null, null, null, false, "/");

  /** The kind of stickiness. */
  public enum Type {
    NONE,
    /** The balancer pins each new client with its own cookie (Gateway API: cookie persistence). */
    DURATION,
    /** The balancer pins a client once the target's answer sets the application's cookie. */
    APPLICATION,
    /** As {@link #DURATION}, but the sealed token travels in a request and response header. */
    HEADER
  }

  private final Type type;
  private final Expiry expiry;
  private final String applicationCookie;
  private final String sessionName;
  private final boolean strict;
  private final String cookiePath;

  private StickinessPolicy(Type type, Expiry expiry, String applicationCookie, String sessionName, boolean strict, String cookiePath) {
    this.type = type;
    this.expiry = expiry;
    this.applicationCookie = applicationCookie;
    this.sessionName = sessionName;
    this.strict = strict;
    this.cookiePath = cookiePath;
  }

  /** Every request is balanced on its own. */
  public static StickinessPolicy none() {
    return NONE;
  }

  /** The balancer pins each new client with its {@code AFFINITY} cookie for this long. */
  public static StickinessPolicy duration(Expiry expiry) {
    return new StickinessPolicy(Type.DURATION, requireNonNull(expiry, "expiry"), null, null, false, "/");
  }

  /**
   * When the target's response sets {@code applicationCookie} (say {@code JSESSIONID}), the balancer
   * pins the client to that target with {@code AFFINITYAPP}, honoured while the application cookie
   * is sent.
   */
  public static StickinessPolicy application(String applicationCookie, Expiry expiry) {
    requireNonNull(applicationCookie, "applicationCookie");
    if (!COOKIE_NAME.matcher(applicationCookie).matches()) {
      throw new IllegalArgumentException("application cookie name is not a valid cookie name: \"" + applicationCookie + "\"");
    }
    return new StickinessPolicy(Type.APPLICATION, requireNonNull(expiry, "expiry"), applicationCookie, null, false, "/");
  }

  /**
   * The balancer pins each new client and hands it the sealed token in the response header
   * {@code headerName}; a request that sends the token back in that header is routed to the pinned
   * target, exactly as the cookie would be. {@code headerName} {@code null}: the router's default,
   * {@code X-Affinity-Session} (from the cookie prefix).
   */
  public static StickinessPolicy header(String headerName, Expiry expiry) {
    return new StickinessPolicy(Type.HEADER, requireNonNull(expiry, "expiry"), null,
        headerName == null ? null : checkName(headerName, "header"), false, "/");
  }

  /**
   * The same policy with the cookie (or header) carrying the pin named {@code name}, instead of the
   * default ({@code AFFINITY}, {@code AFFINITYAPP} or {@code X-Affinity-Session}, from the cookie prefix).
   */
  public StickinessPolicy withSessionName(String name) {
    if (type == Type.NONE) {
      throw new IllegalStateException("stickiness none has no session name");
    }
    return new StickinessPolicy(type, expiry, applicationCookie, checkName(name, type == Type.HEADER ? "header" : "cookie"), strict, cookiePath);
  }

  /**
   * Strict persistence (Envoy's stateful session): a client whose pinned target is gone, unhealthy or
   * refusing is answered {@code 503} with {@code Retry-After} instead of being moved. A draining target
   * within its deregistration delay still serves its clients.
   */
  public StickinessPolicy strict(boolean strict) {
    if (type == Type.NONE && strict) {
      throw new IllegalStateException("stickiness none cannot be strict: nothing is pinned");
    }
    return new StickinessPolicy(type, expiry, applicationCookie, sessionName, strict, cookiePath);
  }

  /** The same policy with its cookies scoped to {@code path} (a rule's path prefix), instead of {@code /}. */
  public StickinessPolicy withCookiePath(String path) {
    requireNonNull(path, "path");
    if (!path.startsWith("/") || path.chars().anyMatch(c -> c < 0x21 || c == ';' || c == 0x7F)) {
      throw new IllegalArgumentException("cookie path must start with / and hold no spaces, ';' or control characters, got \"" + path + "\"");
    }
    return new StickinessPolicy(type, expiry, applicationCookie, sessionName, strict, path);
  }

  private static String checkName(String name, String what) {
    requireNonNull(name, "name");
    if (!COOKIE_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("session name is not a valid " + what + " name (1-128 token characters): \"" + name + "\"");
    }
    return name;
  }

  public Type type() {
    return type;
  }

  /** {@code null} for {@link Type#NONE}. */
  public Expiry expiry() {
    return expiry;
  }

  /** {@code null} unless {@link Type#APPLICATION}. */
  public String applicationCookie() {
    return applicationCookie;
  }

  /** The configured cookie or header name carrying the pin, or {@code null} for the router's default. */
  public String sessionName() {
    return sessionName;
  }

  public boolean isStrict() {
    return strict;
  }

  /** {@code /}, or the path prefix of the rule that set this policy. */
  public String cookiePath() {
    return cookiePath;
  }

  /** Whether a client carries its pin in a token the balancer reads back (every type but {@link Type#NONE}). */
  boolean pins() {
    return type != Type.NONE;
  }

  @Override
  public String toString() {
    String extras = (sessionName != null ? ", " + sessionName : "") + (strict ? ", strict" : "")
        + ("/".equals(cookiePath) ? "" : ", path " + cookiePath);
    switch (type) {
      case DURATION:
        return "duration(" + expiry + extras + ")";
      case APPLICATION:
        return "application(" + applicationCookie + ", " + expiry + extras + ")";
      case HEADER:
        return "header(" + expiry + extras + ")";
      default:
        return "none";
    }
  }
}
