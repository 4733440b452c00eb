package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookieNames;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Rejection;
import dev.affinity.cookie.SetCookie;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The balancer's policy, free of any container: given the cookies a request carries, which target
 * serves it and which cookies the response sets. Adapters translate requests into
 * {@link #route} calls, proxy, then call {@link #failover} when the target refused and
 * {@link #onResponse} when it answered.
 *
 * <p>Order of precedence: a valid route cookie from the application ({@code AFFINITYROUTE}) naming a
 * live configured target; then the group's own stickiness ({@code AFFINITY} or {@code AFFINITYAPP});
 * then the group's algorithm. A pin to a target that cannot serve is moved to another target and the
 * cookie rewritten, with the old target reported as {@link RouteDecision#previousTargetId()}.
 */
public final class Router {
  /** The largest {@link Builder#forward} weight of a target group. */
  public static final int MAX_FORWARD_WEIGHT = 999;

  private final AffinityCookies cookies;
  private final CookieNames names;
  private final List<TargetGroup> groups;
  private final Map<String, Target> targetsById;
  private final Map<Target, TargetGroup> groupOfTarget;
  private final TargetGroup[] forwardGroups;
  private final int[] weights;
  private final Map<String, TargetGroup> groupsByName;
  private final Expiry groupStickiness;

  private Router(Builder b) {
    this.cookies = b.cookies;
    this.names = cookies.names();
    this.groups = Collections.unmodifiableList(new ArrayList<>(b.groups.values()));
    Map<String, Target> byId = new HashMap<>();
    Map<Target, TargetGroup> groupOf = new IdentityHashMap<>();
    for (TargetGroup g : groups) {
      for (Target t : g.targets()) {
        if (byId.put(t.id(), t) != null) {
          throw new IllegalArgumentException("target id \"" + t.id() + "\" is used in more than one group; ids must be unique");
        }
        groupOf.put(t, g);
      }
    }
    this.targetsById = byId;
    this.groupOfTarget = groupOf;
    Map<String, Integer> forward = b.forward.isEmpty()
        ? Map.of(groups.get(0).name(), 1)
        : b.forward;
    List<TargetGroup> fg = new ArrayList<>();
    List<Integer> w = new ArrayList<>();
    for (Map.Entry<String, Integer> e : forward.entrySet()) {
      TargetGroup g = b.groups.get(e.getKey());
      if (g == null) {
        throw new IllegalArgumentException("forward names group \"" + e.getKey() + "\", which is not configured");
      }
      if (e.getValue() > 0) {
        fg.add(g);
        w.add(e.getValue());
      }
    }
    if (fg.isEmpty()) {
      throw new IllegalArgumentException("forward needs at least one group with a weight above 0");
    }
    this.forwardGroups = fg.toArray(new TargetGroup[0]);
    this.weights = w.stream().mapToInt(Integer::intValue).toArray();
    this.groupsByName = new HashMap<>(b.groups);
    this.groupStickiness = b.groupStickiness;
  }

  /** The group a client's {@code AFFINITYTG} cookie may name, by name, or {@code null}. */
  public TargetGroup group(String name) {
    return name == null ? null : groupsByName.get(name);
  }

  public static Builder builder(AffinityCookies cookies) {
    return new Builder(cookies);
  }

  public AffinityCookies cookies() {
    return cookies;
  }

  public List<TargetGroup> groups() {
    return groups;
  }

  /** Any configured target by id, or {@code null}: a lookup, never a scan. */
  public Target target(String id) {
    return id == null ? null : targetsById.get(id);
  }

  public TargetGroup groupOf(Target target) {
    return groupOfTarget.get(target);
  }

  /** Decides where a request goes. Never throws for anything a client sent. */
  public RouteDecision route(CookieSource request, boolean secure) {
    requireNonNull(request, "request");
    Instant now = cookies.now();
    String previous = null;
    Optional<AffinityTicket> route = cookies.read(request, names.route());
    if (route.isPresent()) {
      Target t = targetsById.get(route.get().targetId());
      if (t != null) {
        TargetGroup g = groupOfTarget.get(t);
        if (g.canKeep(t, now)) {
          t.countStickyHit();
          return new RouteDecision(g, t, RouteDecision.Outcome.ROUTE_COOKIE, null, List.of(), null);
        }
        previous = t.id();
      }
    }
    TargetGroup group;
    List<SetCookie> groupCookies = List.of();
    if (groupStickiness == null) {
      group = forwardGroups.length == 1 ? forwardGroups[0] : weightedLiveGroup(now);
    } else {
      Optional<AffinityTicket> held = cookies.read(request, names.group());
      TargetGroup pinned = held.isPresent() ? groupsByName.get(held.get().targetGroup()) : null;
      if (pinned != null && (pinned.isLive(now) || !anyLive(now))) {
        // Stickiness to a group beats the forwarding weights, even a weight of 0.
        group = pinned;
        if (groupStickiness.needsRefresh(held.get(), now)) {
          groupCookies = cookies.issue(names.group(), groupStickiness.refresh(held.get(), now), groupStickiness, secure, request);
        }
      } else {
        // No pin, or a pin to a group that is gone, empty or dead: ALB would answer 503 until the
        // cookie expires; the client is moved to a live group instead.
        group = weightedLiveGroup(now);
        AffinityTicket ticket = groupStickiness.newTicket(group.name(), group.name(), now);
        groupCookies = cookies.issue(names.group(), ticket, groupStickiness, secure, request);
      }
    }
    RouteDecision decision = routeInGroup(group, request, secure, now, previous);
    return groupCookies.isEmpty() ? decision : decision.withMoreCookies(groupCookies);
  }

  private RouteDecision routeInGroup(TargetGroup group, CookieSource request, boolean secure, Instant now, String previous) {
    StickinessPolicy policy = group.stickiness();
    switch (policy.type()) {
      case DURATION:
        return sticky(group, names.duration(), policy.expiry(), true, request, secure, now, previous);
      case APPLICATION:
        if (request.value(policy.applicationCookie()) != null) {
          return sticky(group, names.application(), policy.expiry(), false, request, secure, now, previous);
        }
        return balanced(group, RouteDecision.Outcome.NEW_CLIENT, now, previous);
      default:
        return balanced(group, RouteDecision.Outcome.UNPINNED, now, previous);
    }
  }

  private boolean anyLive(Instant now) {
    for (TargetGroup g : forwardGroups) {
      if (g.isLive(now)) {
        return true;
      }
    }
    return false;
  }

  private RouteDecision balanced(TargetGroup group, RouteDecision.Outcome outcome, Instant now, String previous) {
    Target t = group.choose(now, null);
    if (t == null) {
      return noTarget(group);
    }
    return new RouteDecision(group, t, previous != null ? RouteDecision.Outcome.REPIN : outcome, previous, List.of(), null);
  }

  private RouteDecision sticky(TargetGroup group, String cookieName, Expiry expiry, boolean pinNewClients,
      CookieSource request, boolean secure, Instant now, String previous) {
    Optional<AffinityTicket> held = cookies.read(request, cookieName);
    if (held.isPresent()) {
      AffinityTicket ticket = held.get();
      Target pinned = group.target(ticket.targetId());
      if (pinned != null && group.canKeep(pinned, now)) {
        pinned.countStickyHit();
        if (expiry.needsRefresh(ticket, now)) {
          AffinityTicket refreshed = expiry.refresh(ticket, now);
          return new RouteDecision(group, pinned, RouteDecision.Outcome.STICKY_HIT, previous,
              cookies.issue(cookieName, refreshed, expiry, secure, request), refreshed);
        }
        return new RouteDecision(group, pinned, RouteDecision.Outcome.STICKY_HIT, previous, List.of(), ticket);
      }
      Target moved = group.choose(now, pinned);
      if (moved == null) {
        return noTarget(group);
      }
      moved.countRePin();
      AffinityTicket repinned = movedTicket(ticket, moved, group, expiry, now);
      return new RouteDecision(group, moved, RouteDecision.Outcome.REPIN, ticket.targetId(),
          cookies.issue(cookieName, repinned, expiry, secure, request), repinned);
    }
    Rejection invalid = cookies.rejection(request, cookieName);
    Target chosen = group.choose(now, null);
    if (chosen == null) {
      return noTarget(group).withCookieRejection(invalid);
    }
    if (!pinNewClients) {
      return new RouteDecision(group, chosen, previous != null ? RouteDecision.Outcome.REPIN : RouteDecision.Outcome.NEW_CLIENT,
          previous, List.of(), null).withCookieRejection(invalid);
    }
    if (previous != null) {
      chosen.countRePin();
    } else {
      chosen.countNewPin();
    }
    AffinityTicket ticket = expiry.newTicket(chosen.id(), group.name(), now);
    return new RouteDecision(group, chosen, previous != null ? RouteDecision.Outcome.REPIN : RouteDecision.Outcome.NEW_CLIENT,
        previous, cookies.issue(cookieName, ticket, expiry, secure, request), ticket).withCookieRejection(invalid);
  }

  /** A fixed pin keeps its end when it moves (Classic ELB semantics); a sliding one starts afresh. */
  private static AffinityTicket movedTicket(AffinityTicket old, Target moved, TargetGroup group, Expiry expiry, Instant now) {
    AffinityTicket ticket = old.withTarget(moved.id(), group.name());
    return expiry.mode() == Expiry.Mode.FIXED ? ticket : expiry.refresh(ticket, now);
  }

  /**
   * The request could not be delivered to {@code failed.target()} (the connection was refused): a
   * decision for another target of the same group, with the client's pin moved there, or
   * {@code null} when there is none. Only call this for requests that are safe to send again.
   */
  public RouteDecision failover(RouteDecision failed, CookieSource request, boolean secure) {
    requireNonNull(failed, "failed");
    requireNonNull(request, "request");
    TargetGroup group = failed.group();
    Target from = failed.target();
    Instant now = cookies.now();
    Target to = group.choose(now, from);
    if (to == null || to == from) {
      return null;
    }
    to.countRePin();
    StickinessPolicy policy = group.stickiness();
    String previous = from.id();
    switch (policy.type()) {
      case DURATION: {
        AffinityTicket ticket = failed.ticket() != null
            ? movedTicket(failed.ticket(), to, group, policy.expiry(), now)
            : policy.expiry().newTicket(to.id(), group.name(), now);
        return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous,
            cookies.issue(names.duration(), ticket, policy.expiry(), secure, request), ticket);
      }
      case APPLICATION:
        if (failed.ticket() != null) {
          // As ALB: after failover the client stays on the new target.
          AffinityTicket ticket = movedTicket(failed.ticket(), to, group, policy.expiry(), now);
          return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous,
              cookies.issue(names.application(), ticket, policy.expiry(), secure, request), ticket);
        }
        return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), null);
      default:
        return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), null);
    }
  }

  /**
   * Cookies to add once the target answered. For application stickiness, a response that sets the
   * application's cookie pins the client to the target that set it.
   *
   * @param setsApplicationCookie whether the target's response set the group's application cookie
   */
  public List<SetCookie> onResponse(RouteDecision decision, boolean setsApplicationCookie, CookieSource request, boolean secure) {
    StickinessPolicy policy = decision.group() == null ? null : decision.group().stickiness();
    if (!setsApplicationCookie || policy == null || policy.type() != StickinessPolicy.Type.APPLICATION || decision.target() == null) {
      return List.of();
    }
    Target target = decision.target();
    AffinityTicket held = decision.ticket();
    Instant now = cookies.now();
    if (held != null && held.targetId().equals(target.id()) && !policy.expiry().needsRefresh(held, now)) {
      return List.of();
    }
    AffinityTicket ticket;
    if (held == null) {
      target.countNewPin();
      ticket = policy.expiry().newTicket(target.id(), decision.group().name(), now);
    } else {
      ticket = movedTicket(held, target, decision.group(), policy.expiry(), now);
    }
    return cookies.issue(names.application(), ticket, policy.expiry(), secure, request);
  }

  /** A forward group by weight, among those that can take a new client (all of them if none can). */
  private TargetGroup weightedLiveGroup(Instant now) {
    if (forwardGroups.length == 1) {
      return forwardGroups[0];
    }
    boolean anyLive = anyLive(now);
    int total = 0;
    for (int i = 0; i < forwardGroups.length; i++) {
      if (!anyLive || forwardGroups[i].isLive(now)) {
        total += weights[i];
      }
    }
    int pick = ThreadLocalRandom.current().nextInt(total);
    for (int i = 0; i < forwardGroups.length; i++) {
      if (!anyLive || forwardGroups[i].isLive(now)) {
        pick -= weights[i];
        if (pick < 0) {
          return forwardGroups[i];
        }
      }
    }
    return forwardGroups[forwardGroups.length - 1];
  }

  private static RouteDecision noTarget(TargetGroup group) {
    return new RouteDecision(group, null, RouteDecision.Outcome.NO_TARGET, null, List.of(), null);
  }

  /** Collects groups and forwarding weights. */
  public static final class Builder {
    private final AffinityCookies cookies;
    private final Map<String, TargetGroup> groups = new LinkedHashMap<>();
    private final Map<String, Integer> forward = new LinkedHashMap<>();
    private Expiry groupStickiness;

    private Builder(AffinityCookies cookies) {
      this.cookies = requireNonNull(cookies, "cookies");
    }

    public Builder group(TargetGroup group) {
      requireNonNull(group, "group");
      if (groups.putIfAbsent(group.name(), group) != null) {
        throw new IllegalArgumentException("target group \"" + group.name() + "\" was already added");
      }
      return this;
    }

    /** Share of new clients for a group (0-{@value #MAX_FORWARD_WEIGHT}). Without any, all traffic goes to the first group. */
    public Builder forward(String groupName, int weight) {
      requireNonNull(groupName, "groupName");
      if (weight < 0 || weight > MAX_FORWARD_WEIGHT) {
        throw new IllegalArgumentException("forward weight of group " + groupName + " must be between 0 and " + MAX_FORWARD_WEIGHT + ", got " + weight);
      }
      if (forward.putIfAbsent(groupName, weight) != null) {
        throw new IllegalArgumentException("forward names group \"" + groupName + "\" twice");
      }
      return this;
    }

    /**
     * Keeps a client on the target group it was first forwarded to ({@code AFFINITYTG}) for this
     * long, so blue/green and canary clients see one version. Off by default.
     */
    public Builder groupStickiness(Expiry expiry) {
      this.groupStickiness = requireNonNull(expiry, "expiry");
      return this;
    }

    public Router build() {
      if (groups.isEmpty()) {
        throw new IllegalStateException("a router needs at least one target group");
      }
      return new Router(this);
    }
  }
}
