package dev.affinity.route;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookieNames;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.SetCookie;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What one request decides about its client's route: pin (here or to another target), release, or
 * nothing. The last decision wins. {@link #cookies()} turns it into the {@code Set-Cookie}s to send,
 * sealed once per decision so that writing them again (after a container reset the headers, or on an
 * error dispatch) sends the same values.
 *
 * <p>Thread-safe: an asynchronous request may decide on another thread than the one that began it.
 */
public final class RoutePin {
  private enum Action { NONE, PIN, RELEASE }

  private final RouteCookies route;
  private final CookieSource request;
  private final boolean secureRequest;
  private final Optional<String> previousTarget;
  private final Optional<AffinityTicket> incoming;

  private Action action = Action.NONE;
  private String pinTarget;
  private Duration pinDuration;
  private int version;
  private int cookiesVersion = -1;
  private List<SetCookie> cookies = List.of();

  RoutePin(RouteCookies route, CookieSource request, boolean secureRequest, Optional<String> previousTarget) {
    this.route = route;
    this.request = request;
    this.secureRequest = secureRequest;
    this.previousTarget = previousTarget;
    this.incoming = route.cookies().read(request, route.cookieName());
  }

  /** Pins the client to this target for the configured default duration. */
  public void pin() {
    pin(route.settings().pinDuration());
  }

  /** Pins the client to this target for {@code duration} (1 s – 7 d). */
  public void pin(Duration duration) {
    decide(Action.PIN, route.settings().targetId(), checkDuration(duration));
  }

  /** Pins the client to another target (by its balancer id) for the default duration. */
  public void moveTo(String targetId) {
    decide(Action.PIN, RouteSettings.checkId("targetId", requireNonNull(targetId, "targetId")),
        route.settings().pinDuration());
  }

  /** Expires the route cookies: the balancer balances the client's next request afresh. */
  public void release() {
    decide(Action.RELEASE, null, null);
  }

  /**
   * Pins the client to this target because the application created a session, unless this request
   * already decided something or the client is already pinned here.
   *
   * @return true when it pinned
   */
  public synchronized boolean pinForNewSession() {
    if (action != Action.NONE || route.settings().targetId().equals(pinnedTarget().orElse(null))) {
      return false;
    }
    pin();
    return true;
  }

  /** The target the client is pinned to: by this request's decision, else by the cookie it sent. */
  public synchronized Optional<String> pinnedTarget() {
    switch (action) {
      case PIN:
        return Optional.of(pinTarget);
      case RELEASE:
        return Optional.empty();
      default:
        return incoming.map(AffinityTicket::targetId);
    }
  }

  /** The live route ticket the request carried, if any. */
  public Optional<AffinityTicket> incoming() {
    return incoming;
  }

  /** The target the balancer failed over from, as its header said. */
  public Optional<String> previousTarget() {
    return previousTarget;
  }

  /** Increases with each decision; 0 while nothing was decided. */
  public synchronized int version() {
    return version;
  }

  /** True once this request has decided to pin or release. */
  public synchronized boolean decided() {
    return action != Action.NONE;
  }

  /**
   * The cookies for the current decision: the sealed route cookie (and CORS companion) for a pin,
   * removals for a release, nothing when nothing was decided.
   */
  public synchronized List<SetCookie> cookies() {
    if (cookiesVersion != version) {
      cookies = render();
      cookiesVersion = version;
    }
    return cookies;
  }

  private List<SetCookie> render() {
    AffinityCookies cookies = route.cookies();
    String name = route.cookieName();
    switch (action) {
      case PIN: {
        Expiry expiry = Expiry.fixed(pinDuration);
        Instant now = cookies.now();
        AffinityTicket ticket = expiry.newTicket(pinTarget, route.settings().targetGroup(), now);
        return List.copyOf(cookies.issue(name, ticket, expiry, secureRequest, request));
      }
      case RELEASE: {
        // Expire the plain cookie and the companion even when the request did not carry them: an
        // earlier decision of this request may already have set them.
        String cors = CookieNames.corsCompanion(name);
        CookieSource carried = n -> n.equals(name) || n.equals(cors) ? "" : request.value(n);
        return List.copyOf(cookies.expire(name, secureRequest, carried));
      }
      default:
        return List.of();
    }
  }

  private synchronized void decide(Action action, String target, Duration duration) {
    this.action = action;
    this.pinTarget = target;
    this.pinDuration = duration;
    this.version++;
  }

  private static Duration checkDuration(Duration duration) {
    try {
      return Expiry.checkDuration(duration);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("pin duration: " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized String toString() {
    return "RoutePin{" + action + (pinTarget == null ? "" : " " + pinTarget + " for " + pinDuration)
        + ", incoming=" + incoming.map(AffinityTicket::targetId).orElse("none")
        + ", previous=" + previousTarget.orElse("none") + "}";
  }
}
