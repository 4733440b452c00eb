package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.RouteDecision.Pinning;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookieNames;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Rejection;
import dev.affinity.cookie.SetCookie;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleSet;
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
 * live target the request may reach; then the stickiness in force (the group's, or a listener rule's
 * override): a pin held by the client beats the forwarding weights, even a weight of 0; then the
 * weights and the group's algorithm. A pin to a target that cannot serve is moved to another target
 * and the cookie rewritten, with the old target reported as {@link RouteDecision#previousTargetId()} —
 * unless the persistence is strict, which answers {@code 503} instead.
 *
 * <p>Each group keeps its clients' pins under its own name, so that a client sent to several groups
 * (by weights, or by rules forwarding paths to different groups) holds one pin per group: the first
 * group keeps the classic names ({@code AFFINITY}, {@code AFFINITYAPP}, {@code X-AFFINITY-Session}),
 * every other one appends {@code .<group>}, unless the policy names its own ({@code sessionName}).
 */
public final class Router {
  /** The largest {@link Forward} weight of a target group. */
  public static final int MAX_FORWARD_WEIGHT = 999;

  private final AffinityCookies cookies;
  private final CookieNames names;
  private final List<TargetGroup> groups;
  private final Map<String, Target> targetsById;
  private final Map<Target, TargetGroup> groupOfTarget;
  private final Map<String, TargetGroup> groupsByName;
  private final Map<TargetGroup, Pinning> groupPinning;
  private final Route defaultRoute;
  private final Map<Forward, Map<StickinessPolicy, Route>> routes;
  private final RuleSet rules;
  private final Map<String, RuleSet> listenerRules;
  private final RuleAction defaultAction;
  private final Route defaultActionRoute;
  private final Map<Rule, Route> ruleRoutes;

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
    this.groupsByName = new HashMap<>(b.groups);
    Map<TargetGroup, Pinning> pinning = new IdentityHashMap<>();
    for (TargetGroup g : groups) {
      pinning.put(g, pinning(g, g.stickiness()));
    }
    this.groupPinning = pinning;
    Forward.Builder fallback = b.forwardGiven ? b.forward : Forward.builder().group(groups.get(0).name(), 1);
    if (b.groupStickiness != null) {
      fallback.groupStickiness(b.groupStickiness);
    }
    // The default route reaches every group by an application route cookie, as before rules existed.
    this.defaultRoute = resolve(fallback.build(), null, true);
    Map<Forward, Map<StickinessPolicy, Route>> resolved = new IdentityHashMap<>();
    for (Map.Entry<Forward, List<StickinessPolicy>> e : b.plans.entrySet()) {
      Map<StickinessPolicy, Route> byOverride = new IdentityHashMap<>();
      for (StickinessPolicy override : e.getValue()) {
        byOverride.put(override == null ? NO_OVERRIDE : override, resolve(e.getKey(), override, false));
      }
      resolved.put(e.getKey(), byOverride);
    }
    this.routes = resolved;
    this.rules = b.rules;
    this.listenerRules = Map.copyOf(b.listenerRules);
    this.defaultAction = b.defaultAction;
    this.defaultActionRoute = defaultAction instanceof RuleAction.Forward f ? resolve(forwardOf(f), null, true) : null;
    Map<Rule, Route> byRule = new IdentityHashMap<>();
    List<RuleSet> all = new ArrayList<>(listenerRules.values());
    all.add(rules);
    for (RuleSet set : all) {
      for (Rule rule : set.rules()) {
        if (rule.action() instanceof RuleAction.Forward f && !byRule.containsKey(rule)) {
          byRule.put(rule, resolve(forwardOf(f), persistenceOf(rule), false));
        }
      }
    }
    this.ruleRoutes = byRule;
  }

  private static Forward forwardOf(RuleAction.Forward action) {
    return action.forward();
  }

  /** A rule's persistence override, its cookies scoped to the rule's path prefix unless it names a path itself. */
  private static StickinessPolicy persistenceOf(Rule rule) {
    StickinessPolicy policy = rule.persistence();
    if (policy == null) {
      return null;
    }
    return policy.cookiePath().equals("/") && policy.pins() ? policy.withCookiePath(rule.pathPrefixForCookies()) : policy;
  }

  /** The rules requests on {@code listener} are matched against: its own, else the global ones (possibly none). */
  public RuleSet rules(String listener) {
    RuleSet own = listener == null ? null : listenerRules.get(listener);
    return own != null ? own : rules;
  }

  /** The listeners that have rules of their own, by name ({@code host:port}), sorted by name; for display. */
  public Map<String, RuleSet> listenerRules() {
    return Collections.unmodifiableMap(new java.util.TreeMap<>(listenerRules));
  }

  /** What applies when no rule matches: {@code null} for the top-level forward (as before rules existed). */
  public RuleAction defaultAction() {
    return defaultAction;
  }

  /** Routes a request that {@code rule} (a forward) matched, with its persistence override if any. */
  public RouteDecision route(CookieSource request, boolean secure, Rule rule) {
    requireNonNull(request, "request");
    Route route = ruleRoutes.get(requireNonNull(rule, "rule"));
    if (route == null) {
      throw new IllegalArgumentException("rule " + rule.name() + " is not a forward rule of this router");
    }
    return route(request, secure, route);
  }

  /** Routes a request no rule matched, by the default action's forward (or the top-level forward). */
  public RouteDecision routeByDefault(CookieSource request, boolean secure) {
    requireNonNull(request, "request");
    return route(request, secure, defaultActionRoute != null ? defaultActionRoute : defaultRoute);
  }

  /** The key of a forward's route without a persistence override (identity maps take no null keys). */
  private static final StickinessPolicy NO_OVERRIDE = StickinessPolicy.none().strict(false);

  private Route resolve(Forward forward, StickinessPolicy override, boolean anyGroupByRouteCookie) {
    List<TargetGroup> gs = new ArrayList<>();
    List<Integer> ws = new ArrayList<>();
    for (Map.Entry<String, Integer> e : forward.weights().entrySet()) {
      TargetGroup g = groupsByName.get(e.getKey());
      if (g == null) {
        throw new IllegalArgumentException("forward names group \"" + e.getKey() + "\", which is not configured; the groups are "
            + groupsByName.keySet());
      }
      gs.add(g);
      ws.add(e.getValue());
    }
    Pinning[] pinnings = new Pinning[gs.size()];
    for (int i = 0; i < pinnings.length; i++) {
      pinnings[i] = override == null ? groupPinning.get(gs.get(i)) : pinning(gs.get(i), override);
    }
    return new Route(gs.toArray(new TargetGroup[0]), ws.stream().mapToInt(Integer::intValue).toArray(),
        forward.groupStickiness(), pinnings, anyGroupByRouteCookie);
  }

  /** The pinning of {@code policy} in {@code group}: its own session name, or the group's default one. */
  private Pinning pinning(TargetGroup group, StickinessPolicy policy) {
    if (!policy.pins()) {
      return Pinning.NONE;
    }
    String name = policy.sessionName();
    if (name == null) {
      String classic = switch (policy.type()) {
        case DURATION -> names.duration();
        case APPLICATION -> names.application();
        default -> "X-" + names.prefix() + "-Session";
      };
      name = group == groups.get(0) ? classic : classic + "." + group.name();
    }
    return new Pinning(policy, name);
  }

  /**
   * One way a request may be forwarded: a {@link Forward} resolved against this router's groups, with
   * the pinning in force in each of them.
   */
  static final class Route {
    final TargetGroup[] groups;
    final int[] weights;
    final Expiry groupStickiness;
    final Pinning[] pinnings;
    final boolean anyGroupByRouteCookie;

    Route(TargetGroup[] groups, int[] weights, Expiry groupStickiness, Pinning[] pinnings, boolean anyGroupByRouteCookie) {
      this.groups = groups;
      this.weights = weights;
      this.groupStickiness = groupStickiness;
      this.pinnings = pinnings;
      this.anyGroupByRouteCookie = anyGroupByRouteCookie;
    }

    int indexOf(TargetGroup group) {
      for (int i = 0; i < groups.length; i++) {
        if (groups[i] == group) {
          return i;
        }
      }
      return -1;
    }
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

  /**
   * The name of the cookie (or, for header persistence, the header) that carries the pins of
   * {@code group}'s own stickiness; {@code null} when it has none.
   */
  public String sessionName(TargetGroup group) {
    Pinning p = groupPinning.get(requireNonNull(group, "group"));
    return p == null ? null : p.name();
  }

  /** Decides where a request goes by the top-level forward. Never throws for anything a client sent. */
  public RouteDecision route(CookieSource request, boolean secure) {
    requireNonNull(request, "request");
    return route(request, secure, defaultRoute);
  }

  /**
   * Decides where a request goes by {@code forward} (registered with {@link Builder#plan}, as every
   * listener rule's is), with {@code override} as the stickiness in each of its groups, or the groups'
   * own when {@code null}. Never throws for anything a client sent.
   */
  public RouteDecision route(CookieSource request, boolean secure, Forward forward, StickinessPolicy override) {
    requireNonNull(request, "request");
    requireNonNull(forward, "forward");
    Map<StickinessPolicy, Route> byOverride = routes.get(forward);
    Route route = byOverride == null ? null : byOverride.get(override == null ? NO_OVERRIDE : override);
    if (route == null) {
      throw new IllegalArgumentException(forward + (override == null ? "" : " with " + override)
          + " was not planned when this router was built (Router.Builder.plan)");
    }
    return route(request, secure, route);
  }

  private RouteDecision route(CookieSource request, boolean secure, Route r) {
    Instant now = cookies.now();
    String previous = null;
    Optional<AffinityTicket> routeCookie = cookies.read(request, names.route());
    if (routeCookie.isPresent()) {
      Target t = targetsById.get(routeCookie.get().targetId());
      if (t != null) {
        TargetGroup g = groupOfTarget.get(t);
        int index = r.indexOf(g);
        // An application's pin reaches only the groups this request may be forwarded to: a rule sending
        // /api to another group must not be overridden by the web application's cookie (it has Path=/).
        if (index >= 0 || r.anyGroupByRouteCookie) {
          if (g.canKeep(t, now) && !g.outlivedInstance(t, routeCookie.get().issuedAt())) {
            t.countStickyHit();
            return new RouteDecision(g, t, RouteDecision.Outcome.ROUTE_COOKIE, null, List.of(), null)
                .pinning(index >= 0 ? r.pinnings[index] : groupPinning.get(g));
          }
          previous = t.id();
        }
      }
    }
    int index;
    List<SetCookie> groupCookies = List.of();
    AffinityTicket held = null;
    if (r.groupStickiness == null) {
      if (r.groups.length == 1) {
        index = 0;
      } else {
        // Persistence beats weights: a client holding a pin in one of the groups goes back there,
        // even to a group of weight 0; only clients without one are shared by weight.
        index = -1;
        for (int i = 0; i < r.groups.length && index < 0; i++) {
          Pinning p = r.pinnings[i];
          if (p.policy().pins() && (p.policy().type() != StickinessPolicy.Type.APPLICATION
              || request.value(p.policy().applicationCookie()) != null)) {
            Optional<AffinityTicket> pin = readPin(request, p);
            if (pin.isPresent() && r.groups[i].target(pin.get().targetId()) != null) {
              index = i;
              held = pin.get();
            }
          }
        }
        if (index < 0) {
          index = weightedLiveGroup(r, now);
        }
      }
    } else {
      Expiry groupStickiness = r.groupStickiness;
      Optional<AffinityTicket> pinnedGroup = cookies.read(request, names.group());
      int pinned = pinnedGroup.isPresent() ? r.indexOf(groupsByName.get(pinnedGroup.get().targetGroup())) : -1;
      if (pinned >= 0 && (r.groups[pinned].isLive(now) || !anyLive(r, now))) {
        // Stickiness to a group beats the forwarding weights, even a weight of 0.
        index = pinned;
        if (groupStickiness.needsRefresh(pinnedGroup.get(), now)) {
          groupCookies = cookies.issue(names.group(),
              cookies.shareable(groupStickiness.refresh(pinnedGroup.get(), now), groupStickiness), groupStickiness, secure, request);
        }
      } else {
        // No pin, or a pin to a group that is gone, empty or dead: ALB would answer 503 until the
        // cookie expires; the client is moved to a live group instead.
        index = weightedLiveGroup(r, now);
        TargetGroup group = r.groups[index];
        AffinityTicket ticket = cookies.shareable(groupStickiness.newTicket(group.name(), group.name(), now), groupStickiness);
        groupCookies = cookies.issue(names.group(), ticket, groupStickiness, secure, request);
      }
    }
    RouteDecision decision = routeInGroup(r.groups[index], r.pinnings[index], request, secure, now, previous, held);
    return groupCookies.isEmpty() ? decision : decision.withMoreCookies(groupCookies);
  }

  /** The client's pin under {@code pinning}: from its cookie, or for header persistence from its header. */
  private Optional<AffinityTicket> readPin(CookieSource request, Pinning pinning) {
    if (pinning.isHeader()) {
      return cookies.open(pinning.name(), ClientRequest.header(request, pinning.name()));
    }
    return cookies.read(request, pinning.name());
  }

  /** Why a pin present under {@code pinning} did not open, or {@code null} when the request carried none. */
  private Rejection pinRejection(CookieSource request, Pinning pinning) {
    if (pinning.isHeader()) {
      return ClientRequest.header(request, pinning.name()) != null ? cookies.lastRejection() : null;
    }
    return cookies.rejection(request, pinning.name());
  }

  private RouteDecision routeInGroup(TargetGroup group, Pinning pinning, CookieSource request, boolean secure, Instant now,
      String previous, AffinityTicket held) {
    switch (pinning.policy().type()) {
      case DURATION:
      case HEADER:
        return sticky(group, pinning, true, request, secure, now, previous, held);
      case APPLICATION:
        if (request.value(pinning.policy().applicationCookie()) != null) {
          return sticky(group, pinning, false, request, secure, now, previous, held);
        }
        return balanced(group, pinning, RouteDecision.Outcome.NEW_CLIENT, now, previous);
      default:
        return balanced(group, pinning, RouteDecision.Outcome.UNPINNED, now, previous);
    }
  }

  private boolean anyLive(Route r, Instant now) {
    for (int i = 0; i < r.groups.length; i++) {
      if (r.weights[i] > 0 && r.groups[i].isLive(now)) {
        return true;
      }
    }
    return false;
  }

  private RouteDecision balanced(TargetGroup group, Pinning pinning, RouteDecision.Outcome outcome, Instant now, String previous) {
    Target t = group.choose(now, null);
    if (t == null) {
      return noTarget(group).pinning(pinning);
    }
    return new RouteDecision(group, t, previous != null ? RouteDecision.Outcome.REPIN : outcome, previous, List.of(), null)
        .pinning(pinning);
  }

  private RouteDecision sticky(TargetGroup group, Pinning pinning, boolean pinNewClients,
      CookieSource request, boolean secure, Instant now, String previous, AffinityTicket alreadyRead) {
    Optional<AffinityTicket> held = alreadyRead != null ? Optional.of(alreadyRead) : readPin(request, pinning);
    Expiry expiry = pinning.policy().expiry();
    boolean strict = pinning.policy().isStrict();
    if (held.isPresent()) {
      AffinityTicket ticket = held.get();
      Target pinned = group.target(ticket.targetId());
      if (pinned != null && group.outlivedInstance(pinned, ticket.issuedAt())) {
        // The address answers as another instance now: the session this pin kept is gone with the old
        // one. The client is placed afresh, once (its new pin postdates the change), with the old target
        // reported as the previous one; strict persistence answers 503 instead, as for a target gone.
        if (strict) {
          return new RouteDecision(group, null, RouteDecision.Outcome.NO_TARGET, ticket.targetId(), List.of(), ticket)
              .pinning(pinning).strictRefusal();
        }
        Target placed = group.choose(now, null);
        if (placed == null) {
          return noTarget(group).pinning(pinning);
        }
        placed.countRePin();
        AffinityTicket fresh = expiry.newTicket(placed.id(), group.name(), now);
        return issued(new RouteDecision(group, placed, RouteDecision.Outcome.REPIN, ticket.targetId(), List.of(), fresh),
            pinning, fresh, secure, request);
      }
      if (pinned != null && (strict ? group.canKeepStrictly(pinned, now) : group.canKeep(pinned, now))) {
        pinned.countStickyHit();
        if (expiry.needsRefresh(ticket, now)) {
          AffinityTicket refreshed = expiry.refresh(ticket, now);
          return issued(new RouteDecision(group, pinned, RouteDecision.Outcome.STICKY_HIT, previous, List.of(), refreshed),
              pinning, refreshed, secure, request);
        }
        return new RouteDecision(group, pinned, RouteDecision.Outcome.STICKY_HIT, previous, List.of(), ticket).pinning(pinning);
      }
      if (strict && (pinned != null || ticket.targetGroup().equals(group.name()))) {
        // Envoy's strict stateful session: the pinned target is gone or unhealthy, and the client is
        // told so (503, Retry-After) rather than moved to a target that does not hold its state.
        return new RouteDecision(group, null, RouteDecision.Outcome.NO_TARGET, ticket.targetId(), List.of(), ticket)
            .pinning(pinning).strictRefusal();
      }
      Target moved = group.choose(now, pinned);
      if (moved == null) {
        return noTarget(group).pinning(pinning);
      }
      moved.countRePin();
      AffinityTicket repinned = movedTicket(ticket, moved, group, expiry, now);
      return issued(new RouteDecision(group, moved, RouteDecision.Outcome.REPIN, ticket.targetId(), List.of(), repinned),
          pinning, repinned, secure, request);
    }
    Rejection invalid = pinRejection(request, pinning);
    Target chosen = group.choose(now, null);
    if (chosen == null) {
      return noTarget(group).pinning(pinning).withCookieRejection(invalid);
    }
    RouteDecision.Outcome outcome = previous != null ? RouteDecision.Outcome.REPIN : RouteDecision.Outcome.NEW_CLIENT;
    if (!pinNewClients) {
      return new RouteDecision(group, chosen, outcome, previous, List.of(), null).pinning(pinning).withCookieRejection(invalid);
    }
    if (previous != null) {
      chosen.countRePin();
    } else {
      chosen.countNewPin();
    }
    AffinityTicket ticket = expiry.newTicket(chosen.id(), group.name(), now);
    return issued(new RouteDecision(group, chosen, outcome, previous, List.of(), ticket), pinning, ticket, secure, request)
        .withCookieRejection(invalid);
  }

  /**
   * {@code decision} carrying {@code ticket} to the client: in cookies (scoped to the pinning's path), or
   * for header persistence as the token for the response header.
   */
  private RouteDecision issued(RouteDecision decision, Pinning pinning, AffinityTicket ticket, boolean secure, CookieSource request) {
    AffinityTicket sealed = shareable(ticket, pinning.policy().expiry(), decision.group(), decision.target());
    if (pinning.isHeader()) {
      return new RouteDecision(decision.group(), decision.target(), decision.outcome(), decision.previousTargetId(), List.of(), sealed)
          .pinning(pinning).sessionToken(cookies.seal(pinning.name(), sealed));
    }
    List<SetCookie> set = cookies.issue(pinning.name(), sealed, pinning.policy().expiry(), secure, request, pinning.policy().cookiePath());
    return new RouteDecision(decision.group(), decision.target(), decision.outcome(), decision.previousTargetId(), set, sealed)
        .pinning(pinning);
  }

  /**
   * {@code ticket} as many clients can share it ({@link AffinityCookies#shareable}), unless moving its
   * time back would date it before its target's current instance: that pin would be taken for one made
   * with the instance that is gone and placed afresh on the next request, so it is sealed as it is.
   */
  private AffinityTicket shareable(AffinityTicket ticket, Expiry expiry, TargetGroup group, Target target) {
    AffinityTicket shared = cookies.shareable(ticket, expiry);
    return shared != ticket && group.outlivedInstance(target, shared.issuedAt()) && !group.outlivedInstance(target, ticket.issuedAt())
        ? ticket : shared;
  }

  /** A fixed pin keeps its end when it moves (Classic ELB semantics); a sliding one starts afresh. */
  private static AffinityTicket movedTicket(AffinityTicket old, Target moved, TargetGroup group, Expiry expiry, Instant now) {
    AffinityTicket ticket = old.withTarget(moved.id(), group.name());
    return expiry.mode() == Expiry.Mode.FIXED ? ticket : expiry.refresh(ticket, now);
  }

  /**
   * The request could not be delivered to {@code failed.target()} (the connection was refused): a
   * decision for another target of the same group, with the client's pin moved there, or
   * {@code null} when there is none — or when strict persistence keeps the client on its pinned
   * target. Only call this for requests that are safe to send again.
   */
  public RouteDecision failover(RouteDecision failed, CookieSource request, boolean secure) {
    requireNonNull(failed, "failed");
    requireNonNull(request, "request");
    TargetGroup group = failed.group();
    Target from = failed.target();
    Pinning pinning = failed.pinning();
    if (pinning.policy().isStrict() && failed.outcome() == RouteDecision.Outcome.STICKY_HIT) {
      return null;
    }
    Instant now = cookies.now();
    Target to = group.choose(now, from);
    if (to == null || to == from) {
      return null;
    }
    to.countRePin();
    StickinessPolicy policy = pinning.policy();
    String previous = from.id();
    switch (policy.type()) {
      case DURATION:
      case HEADER: {
        AffinityTicket ticket = failed.ticket() != null
            ? movedTicket(failed.ticket(), to, group, policy.expiry(), now)
            : policy.expiry().newTicket(to.id(), group.name(), now);
        return issued(new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), ticket), pinning, ticket, secure, request);
      }
      case APPLICATION:
        if (failed.ticket() != null) {
          // As ALB: after failover the client stays on the new target.
          AffinityTicket ticket = movedTicket(failed.ticket(), to, group, policy.expiry(), now);
          return issued(new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), ticket), pinning, ticket, secure, request);
        }
        return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), null).pinning(pinning);
      default:
        return new RouteDecision(group, to, RouteDecision.Outcome.REPIN, previous, List.of(), null).pinning(pinning);
    }
  }

  /**
   * Cookies to add once the target answered. For application stickiness, a response that sets the
   * application's cookie pins the client to the target that set it.
   *
   * @param setsApplicationCookie whether the target's response set the group's application cookie
   */
  public List<SetCookie> onResponse(RouteDecision decision, boolean setsApplicationCookie, CookieSource request, boolean secure) {
    Pinning pinning = decision.pinning();
    StickinessPolicy policy = pinning.policy();
    if (!setsApplicationCookie || policy.type() != StickinessPolicy.Type.APPLICATION || decision.target() == null) {
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
    return cookies.issue(pinning.name(), shareable(ticket, policy.expiry(), decision.group(), target), policy.expiry(), secure, request,
        policy.cookiePath());
  }

  /** A group of the route by weight, among those that can take a new client (all of them if none can). */
  private int weightedLiveGroup(Route r, Instant now) {
    if (r.groups.length == 1) {
      return 0;
    }
    boolean anyLive = anyLive(r, now);
    int total = 0;
    for (int i = 0; i < r.groups.length; i++) {
      if (r.weights[i] > 0 && (!anyLive || r.groups[i].isLive(now))) {
        total += r.weights[i];
      }
    }
    int pick = ThreadLocalRandom.current().nextInt(total);
    for (int i = 0; i < r.groups.length; i++) {
      if (r.weights[i] > 0 && (!anyLive || r.groups[i].isLive(now))) {
        pick -= r.weights[i];
        if (pick < 0) {
          return i;
        }
      }
    }
    return r.groups.length - 1;
  }

  private static RouteDecision noTarget(TargetGroup group) {
    return new RouteDecision(group, null, RouteDecision.Outcome.NO_TARGET, null, List.of(), null);
  }

  /** Collects groups, the top-level forward, and the forwards of listener rules. */
  public static final class Builder {
    private final AffinityCookies cookies;
    private final Map<String, TargetGroup> groups = new LinkedHashMap<>();
    /** The top-level forward, checked as any {@link Forward} is. */
    private final Forward.Builder forward = Forward.builder();
    private boolean forwardGiven;
    private final Map<Forward, List<StickinessPolicy>> plans = new IdentityHashMap<>();
    private Expiry groupStickiness;
    private RuleSet rules = RuleSet.empty();
    private final Map<String, RuleSet> listenerRules = new LinkedHashMap<>();
    private RuleAction defaultAction;

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
      forward.group(groupName, weight);
      forwardGiven = true;
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

    /**
     * Makes {@code forward} (a listener rule's) routable by {@link Router#route(CookieSource, boolean, Forward, StickinessPolicy)},
     * with {@code override} ({@code null}: each group's own stickiness). Its groups are checked when the router is built.
     */
    public Builder plan(Forward forward, StickinessPolicy override) {
      requireNonNull(forward, "forward");
      List<StickinessPolicy> overrides = plans.computeIfAbsent(forward, f -> new ArrayList<>());
      if (overrides.stream().noneMatch(o -> o == override)) {
        overrides.add(override);
      }
      return this;
    }

    /** The listener rules for every listener without its own. */
    public Builder rules(RuleSet rules) {
      this.rules = requireNonNull(rules, "rules");
      return this;
    }

    /** The rules of one listener (by its name, {@code host:port}), instead of the global ones. */
    public Builder rules(String listener, RuleSet rules) {
      requireNonNull(listener, "listener");
      if (listenerRules.putIfAbsent(listener, requireNonNull(rules, "rules")) != null) {
        throw new IllegalArgumentException("listener " + listener + " already has rules");
      }
      return this;
    }

    /** What applies when no rule matches; without it, the top-level forward. */
    public Builder defaultAction(RuleAction action) {
      this.defaultAction = requireNonNull(action, "action");
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
