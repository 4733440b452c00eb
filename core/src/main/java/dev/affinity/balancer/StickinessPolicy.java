package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.Expiry;
import java.util.regex.Pattern;

/**
 * How a target group keeps a client on one target, as ALB offers it: not at all, by a
 * balancer-generated cookie that lasts a duration, or by a balancer cookie bound to the
 * application's own session cookie.
 */
public final class StickinessPolicy {
  private static final Pattern COOKIE_NAME = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,128}");
  private static final StickinessPolicy NONE = new StickinessPolicy(Type.NONE, null, null);

  /** The kind of stickiness. */
  public enum Type { NONE, DURATION, APPLICATION }

  private final Type type;
  private final Expiry expiry;
  private final String applicationCookie;

  private StickinessPolicy(Type type, Expiry expiry, String applicationCookie) {
    this.type = type;
    this.expiry = expiry;
    this.applicationCookie = applicationCookie;
  }

  /** Every request is balanced on its own. */
  public static StickinessPolicy none() {
    return NONE;
  }

  /** The balancer pins each new client with its {@code AFFINITY} cookie for this long. */
  public static StickinessPolicy duration(Expiry expiry) {
    return new StickinessPolicy(Type.DURATION, requireNonNull(expiry, "expiry"), null);
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
    return new StickinessPolicy(Type.APPLICATION, requireNonNull(expiry, "expiry"), applicationCookie);
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

  @Override
  public String toString() {
    switch (type) {
      case DURATION:
        return "duration(" + expiry + ")";
      case APPLICATION:
        return "application(" + applicationCookie + ", " + expiry + ")";
      default:
        return "none";
    }
  }
}
