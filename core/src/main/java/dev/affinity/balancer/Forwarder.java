package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.CookieSource;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.HostPattern;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.RequestPath;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleRequest;
import dev.affinity.rules.RuleSet;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Where a balancer's requests start: hands out the first {@link Attempt} of each exchange, and
 * counts how exchanges ended. One per way in (the HTTP handler, the WebSocket proxy), so each keeps
 * its own counters; both read the same {@link Router}, looked up afresh for each exchange so that a
 * configuration reload is seen at once.
 *
 * <p>Everything that decides an exchange's fate lives in {@link Attempt}: in-flight counting, the
 * retry rule, ejection after a refused connect, the application-cookie pin, the 503. Adapters only
 * translate between their container and it.
 */
public final class Forwarder {
  /**
   * Tells a target which target the client was pinned to before a failover moved it. The balancer
   * sets it and strips any a client sent; the filter in the target reads it.
   */
  public static final String PREVIOUS_TARGET_HEADER = dev.affinity.route.RouteCookies.PREVIOUS_TARGET_HEADER;

  /**
   * At most this many moves to another target per exchange. One: a group whose targets all refuse
   * fails open onto the ones just ejected (as ALB does), so a second move would mostly retry a target
   * known to refuse; the next request finds the refusing ones out of rotation.
   */
  static final int MAX_FAILOVERS = 1;

  private final Supplier<Router> router;
  final LongAdder failovers = new LongAdder();
  final LongAdder resends = new LongAdder();
  final LongAdder noTarget = new LongAdder();
  final LongAdder badGateway = new LongAdder();
  final LongAdder gatewayTimeout = new LongAdder();
  final LongAdder tooLarge = new LongAdder();
  final LongAdder ruleAnswers = new LongAdder();
  final LongAdder refusedPaths = new LongAdder();
  private volatile long maxRequestBodyBytes = NO_BODY_LIMIT;

  /** {@link #maxRequestBodyBytes()} when bodies of any size are passed on. */
  public static final long NO_BODY_LIMIT = Long.MAX_VALUE;

  public Forwarder(Supplier<Router> router) {
    this.router = requireNonNull(router, "router");
  }

  public Router router() {
    return router.get();
  }

  /**
   * Routes a request and returns its first attempt. When no target can take it, the attempt has no
   * target and {@link Attempt#unavailable()} says how to answer. Never throws for anything a client sent.
   *
   * @param method the request method, as the client sent it
   * @param bodyless whether the request carries no body (no content, no chunked encoding)
   */
  public Attempt begin(CookieSource cookies, boolean secure, String method, boolean bodyless) {
    requireNonNull(cookies, "cookies");
    requireNonNull(method, "method");
    Router current = router.get();
    RouteDecision decision = current.route(cookies, secure);
    return new Attempt(this, current, cookies, secure, isReplayable(method, bodyless), decision, 1, 0, false);
  }

  /**
   * Matches the request against the listener's rules and returns its first attempt: for a forward, as
   * {@link #begin(CookieSource, boolean, String, boolean)} by the rule's groups and persistence; for a
   * redirect or fixed response, or a path the rules refuse ({@code 400}: an encoded slash, a dot segment...),
   * an attempt without a target whose {@link Attempt#unavailable()} is that answer. A listener without
   * rules (and without a default action) skips all of it: its requests are routed as they always were.
   *
   * @param request what the rules look at: host, method, path, query, headers, source address
   * @param listener the listener's name ({@code host:port}), for its own rules
   * @param replayable whether the request may be sent again ({@link #isReplayable}; a WebSocket upgrade is,
   *     whatever method carries it)
   */
  public Attempt begin(CookieSource cookies, RuleRequest request, String listener, boolean secure, boolean replayable) {
    requireNonNull(cookies, "cookies");
    requireNonNull(request, "request");
    Router current = router.get();
    RuleSet rules = current.rules(listener);
    RuleAction fallback = current.defaultAction();
    if (rules.rules().isEmpty() && fallback == null) {
      return new Attempt(this, current, cookies, secure, replayable, current.route(cookies, secure), 1, 0, false);
    }
    RequestPath path = RequestPath.parse(request.rawPath());
    if (path.isRefused()) {
      refusedPaths.increment();
      return answering(current, cookies, secure, null, Attempt.Next.answer(400, -1, "the request path is refused: " + path.refusal() + "."));
    }
    Rule rule = rules.match(request, path);
    RuleAction action = rule != null ? rule.action() : fallback;
    if (action == null || action instanceof RuleAction.Forward) {
      RouteDecision decision = rule != null ? current.route(cookies, secure, rule) : current.routeByDefault(cookies, secure);
      return new Attempt(this, current, cookies, secure, replayable, decision, 1, 0, false, rule, null);
    }
    ruleAnswers.increment();
    if (action instanceof Redirect redirect) {
      String host = request.host();
      String location = redirect.location(secure ? "https" : "http", HostPattern.hostWithoutPort(host), IpLiteral.portOfHost(host),
          rawPathWithoutSlash(request.rawPath()), request.rawQuery());
      return answering(current, cookies, secure, rule, Attempt.Next.redirect(redirect.status(), location));
    }
    FixedResponse fixed = (FixedResponse) action;
    return answering(current, cookies, secure, rule, Attempt.Next.fixed(fixed.status(), fixed.contentTypeHeader(), fixed.body()));
  }

  private Attempt answering(Router current, CookieSource cookies, boolean secure, Rule rule, Attempt.Next answer) {
    RouteDecision none = new RouteDecision(null, null, RouteDecision.Outcome.ANSWERED, null, java.util.List.of(), null);
    return new Attempt(this, current, cookies, secure, false, none, 1, 0, false, rule, answer);
  }

  private static String rawPathWithoutSlash(String rawPath) {
    return rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
  }

  /** Requests a listener rule answered by itself (redirect, fixed response). */
  public long ruleAnswers() {
    return ruleAnswers.sum();
  }

  /** Requests answered {@code 400} because their path could reach a target as another path than the rules matched. */
  public long refusedPaths() {
    return refusedPaths.sum();
  }

  /**
   * Whether a request may be sent to a target again after a target may have seen it: an idempotent
   * method (RFC 9110 section 9.2.2) with no body to replay. The one method rule: it decides the retry
   * after a connection closed before the answer, and which requests a transport may take that
   * relies on such a retry (the Jetty handler's direct relay).
   */
  public static boolean isReplayable(String method, boolean bodyless) {
    if (!bodyless) {
      return false;
    }
    return switch (method) {
      case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" -> true;
      default -> false;
    };
  }

  /**
   * The largest request body passed on to a target, in bytes; {@link #NO_BODY_LIMIT} by default.
   * Bodies are streamed, never buffered whole, so the limit protects the targets, not the balancer.
   */
  public long maxRequestBodyBytes() {
    return maxRequestBodyBytes;
  }

  public void setMaxRequestBodyBytes(long maxRequestBodyBytes) {
    if (maxRequestBodyBytes < 0) {
      throw new IllegalArgumentException("maxRequestBodyBytes must not be negative, got " + maxRequestBodyBytes);
    }
    this.maxRequestBodyBytes = maxRequestBodyBytes;
  }

  /**
   * How to answer a request whose declared length ({@code Content-Length}) already passes
   * {@link #maxRequestBodyBytes()}, before any target is chosen: {@code 413}, counted in {@link #tooLargeResponses()};
   * {@code null} when the length is unknown ({@code -1}) or within the limit. A body of unknown length
   * that passes the limit while streamed ends as {@link Attempt.Failure#bodyTooLarge()}.
   */
  public Attempt.Next refuseLength(long declaredLength) {
    if (declaredLength <= maxRequestBodyBytes) {
      return null;
    }
    tooLarge.increment();
    return Attempt.tooLarge(maxRequestBodyBytes);
  }

  /** Requests answered {@code 413} because their body passed {@link #maxRequestBodyBytes()}. */
  public long tooLargeResponses() {
    return tooLarge.sum();
  }

  /** Requests moved to another target after their target failed. */
  public long failovers() {
    return failovers.sum();
  }

  /** Requests sent once more to the same target on a new connection (a kept-alive one closed before answering). */
  public long resends() {
    return resends.sum();
  }

  /** Exchanges answered {@code 503}: no target could take them. */
  public long noTargetResponses() {
    return noTarget.sum();
  }

  /** Exchanges answered {@code 502} (or a target's own 4xx refusal of an upgrade). */
  public long badGatewayResponses() {
    return badGateway.sum();
  }

  /** Exchanges answered {@code 504}: a target stayed silent past the upstream timeout. */
  public long gatewayTimeoutResponses() {
    return gatewayTimeout.sum();
  }
}
