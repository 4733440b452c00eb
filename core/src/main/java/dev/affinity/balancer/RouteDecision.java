package dev.affinity.balancer;

import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.Rejection;
import dev.affinity.cookie.SetCookie;
import java.util.List;

/**
 * Where one request goes and what the response must carry. Made by {@link Router#route}; an
 * adapter proxies to {@link #target()}, adds {@link #setCookies()} to the response and, when
 * {@link #previousTargetId()} is set, tells the target where the client came from.
 */
public final class RouteDecision {
  /** How the target was found. */
  public enum Outcome {
    /** The client's affinity cookie named a live target. */
    STICKY_HIT,
    /** The application's route cookie (issued by the filter) named a live target. */
    ROUTE_COOKIE,
    /** A client with no valid pin was balanced (and pinned, where the policy pins). */
    NEW_CLIENT,
    /** The client's pin named a target that can no longer serve it, so it was moved. */
    REPIN,
    /** The group has no stickiness: balanced on its own. */
    UNPINNED,
    /** No target can take the request. */
    NO_TARGET,
    /** No target was asked: a listener rule answered by itself (redirect, fixed response), or the path was refused. */
    ANSWERED
  }

  private final TargetGroup group;
  private final Target target;
  private final Outcome outcome;
  private final String previousTargetId;
  private final List<SetCookie> setCookies;
  private final AffinityTicket ticket;
  private Rejection cookieRejection;
  /** How the client is kept in {@link #group}: the policy in force for this exchange, and its token's name. */
  private Pinning pinning = Pinning.NONE;
  /** For header persistence: the sealed token to send back in {@link Pinning#name()}, or {@code null}. */
  private String sessionToken;
  private boolean strictRefusal;

  RouteDecision(TargetGroup group, Target target, Outcome outcome, String previousTargetId,
      List<SetCookie> setCookies, AffinityTicket ticket) {
    this.group = group;
    this.target = target;
    this.outcome = outcome;
    this.previousTargetId = previousTargetId;
    this.setCookies = setCookies;
    this.ticket = ticket;
  }

  /**
   * The stickiness in force for one exchange in one group: the group's own, or the matched rule's
   * override; and the name of the cookie (or header) carrying its pin.
   */
  record Pinning(StickinessPolicy policy, String name) {
    static final Pinning NONE = new Pinning(StickinessPolicy.none(), null);

    boolean isHeader() {
      return policy.type() == StickinessPolicy.Type.HEADER;
    }
  }

  RouteDecision pinning(Pinning pinning) {
    this.pinning = pinning;
    return this;
  }

  Pinning pinning() {
    return pinning;
  }

  RouteDecision sessionToken(String token) {
    this.sessionToken = token;
    return this;
  }

  RouteDecision strictRefusal() {
    this.strictRefusal = true;
    return this;
  }

  /** The stickiness in force for this exchange: the group's, or the matched rule's override. */
  public StickinessPolicy stickiness() {
    return pinning.policy();
  }

  /**
   * For header persistence, the response header to send the client's sealed token in, or {@code null}
   * when there is none to send (no header persistence, or a token that needs no refresh).
   */
  public String sessionHeaderName() {
    return sessionToken == null ? null : pinning.name();
  }

  /** The value for {@link #sessionHeaderName()}, or {@code null}. */
  public String sessionHeaderValue() {
    return sessionToken;
  }

  /** Whether there is no target because strict persistence refused to move the client off its pinned one. */
  public boolean isStrictRefusal() {
    return strictRefusal;
  }

  public TargetGroup group() {
    return group;
  }

  /** {@code null} when the outcome is {@link Outcome#NO_TARGET}. */
  public Target target() {
    return target;
  }

  public Outcome outcome() {
    return outcome;
  }

  /** The target the client was pinned to before this request moved it, or {@code null}. */
  public String previousTargetId() {
    return previousTargetId;
  }

  /** Cookies for the response (often none: a sticky hit with a fresh cookie needs nothing). */
  public List<SetCookie> setCookies() {
    return setCookies;
  }

  /** The pin the client holds after this request, or {@code null} when there is none yet. */
  public AffinityTicket ticket() {
    return ticket;
  }

  /**
   * Why the client's affinity cookie was treated as absent (tampered, expired, sealed with an unknown
   * key...), or {@code null} when it had none or it opened: what tells an invalid cookie from a new client.
   */
  public Rejection cookieRejection() {
    return cookieRejection;
  }

  /** Marks a decision made for a client whose cookie did not open; set once, before the decision is handed out. */
  RouteDecision withCookieRejection(Rejection rejection) {
    this.cookieRejection = rejection;
    return this;
  }

  /** The same decision with {@code more} cookies set before its own. */
  RouteDecision withMoreCookies(List<SetCookie> more) {
    List<SetCookie> all = new java.util.ArrayList<>(more.size() + setCookies.size());
    all.addAll(more);
    all.addAll(setCookies);
    RouteDecision copy = new RouteDecision(group, target, outcome, previousTargetId, List.copyOf(all), ticket)
        .withCookieRejection(cookieRejection).pinning(pinning).sessionToken(sessionToken);
    copy.strictRefusal = strictRefusal;
    return copy;
  }

  @Override
  public String toString() {
    return "RouteDecision{" + outcome + " -> " + (target == null ? "none" : target.id())
        + (previousTargetId == null ? "" : " (from " + previousTargetId + ")") + ", cookies=" + setCookies.size() + "}";
  }
}
