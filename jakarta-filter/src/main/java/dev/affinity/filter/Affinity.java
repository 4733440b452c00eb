package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.SetCookie;
import dev.affinity.route.RoutePin;
import dev.affinity.session.RequestSession;
import dev.affinity.session.SessionMode;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The client's route, as the application sees it during one request: pin the client to this target,
 * move it to another, release it, or ask where it is pinned. Decisions become {@code Set-Cookie}s that
 * {@link AffinityFilter} adds before the response commits; the last decision of a request wins.
 *
 * <pre>{@code
 * Affinity.current(request).pin(Duration.ofMinutes(30));
 * }</pre>
 *
 * <p>Thread-safe, so that an asynchronous request may decide on another thread.
 */
public final class Affinity {
  /** The request attribute under which the filter keeps the request's {@code Affinity}. */
  public static final String ATTRIBUTE = Affinity.class.getName();

  private final RoutePin route;
  private final String targetId;
  private final DecisionSource decisions;
  private int appliedDecision;
  private volatile RouteCookieResponse response;
  private volatile RequestSession session;
  private volatile Runnable rotateSessionOnPin;
  private volatile AffinityListener listener;
  private boolean measureSessionCookies;
  private int reportedVersion;
  private List<SetCookie> reportedSessionCookies = List.of();

  Affinity(RoutePin route, String targetId, DecisionSource decisions) {
    this.route = route;
    this.targetId = targetId;
    this.decisions = decisions;
  }

  /**
   * The request's route.
   *
   * @throws IllegalStateException when {@link AffinityFilter} is not mapped for this request
   */
  public static Affinity current(HttpServletRequest request) {
    return find(requireNonNull(request, "request")).orElseThrow(() -> new IllegalStateException(
        "no Affinity for " + request.getRequestURI() + ": AffinityFilter is not mapped for this request"
            + " (map it to /* with dispatcher types REQUEST, ASYNC and ERROR)"));
  }

  /** The request's route, or empty when the filter is not mapped for it. */
  public static Optional<Affinity> find(ServletRequest request) {
    Object attribute = requireNonNull(request, "request").getAttribute(ATTRIBUTE);
    return attribute instanceof Affinity ? Optional.of((Affinity) attribute) : Optional.empty();
  }

  /** Pins the client to this target for the configured {@code pinDuration}. */
  public void pin() {
    route.pin();
    rotateSession();
    decided();
  }

  /** Pins the client to this target for {@code duration} (1 s – 7 d). */
  public void pin(Duration duration) {
    route.pin(duration);
    rotateSession();
    decided();
  }

  /** Pins the client to another target, by the id the balancer knows it by. */
  public void moveTo(String targetId) {
    route.moveTo(targetId);
    decided();
  }

  /** Expires the route cookies: the balancer balances the client's next request afresh. */
  public void release() {
    route.release();
    decided();
  }

  /** The target the client is pinned to: by this request's decision, else by the valid route cookie it sent. */
  public Optional<String> pinnedTarget() {
    applyRecordedDecision();
    return route.pinnedTarget();
  }

  /** The target the balancer failed over from ({@code X-Affinity-Previous-Target}), when it said so. */
  public Optional<String> previousTarget() {
    return route.previousTarget();
  }

  /** This target's own id. */
  public String targetId() {
    return targetId;
  }

  RoutePin route() {
    return route;
  }

  void attach(RouteCookieResponse response) {
    this.response = response;
  }

  /** The request's session in cookie or redis mode ({@code null} with the container's sessions). */
  RequestSession session() {
    return session;
  }

  void session(RequestSession session) {
    this.session = session;
  }

  /** With {@code rotateSessionOnPin}: what changes the session id when the application pins. */
  void rotateSessionOnPin(Runnable rotation) {
    this.rotateSessionOnPin = rotation;
  }

  /**
   * Reports to {@code listener} what reaches the client.
   *
   * @param measureSessionCookies cookie mode: report the bytes of each newly sealed session cookie
   */
  void listener(AffinityListener listener, boolean measureSessionCookies) {
    synchronized (this) {
      this.measureSessionCookies = measureSessionCookies;
    }
    this.listener = listener;
  }

  /** The session cookies to add with the route cookies (writing the session through first). */
  List<SetCookie> sessionCookies() {
    RequestSession s = session;
    if (s == null) {
      return List.of();
    }
    List<SetCookie> cookies = s.cookies();
    AffinityListener l = listener;
    if (l != null) {
      int bytes = 0;
      synchronized (this) {
        // RequestSession hands out the same list until it seals a new cookie.
        if (measureSessionCookies && cookies != reportedSessionCookies) {
          reportedSessionCookies = cookies;
          for (SetCookie cookie : cookies) {
            bytes += cookie.value().length();
          }
        }
      }
      if (bytes > 0) {
        l.sessionWritten(SessionMode.COOKIE, bytes);
      }
    }
    return cookies;
  }

  /**
   * The route cookies of the current decision went into the response: reports the decision, once
   * however often its cookies are written again (after a reset, on an error dispatch).
   */
  void routeCookiesWritten() {
    AffinityListener l = listener;
    if (l == null) {
      return;
    }
    int version;
    Optional<String> target;
    do {
      // Another thread of an async request may decide in between: read a consistent pair.
      version = route.version();
      target = route.pinnedTarget();
    } while (version != route.version());
    if (version == 0) {
      return;
    }
    synchronized (this) {
      if (version <= reportedVersion) {
        return;
      }
      reportedVersion = version;
    }
    if (target.isEmpty()) {
      l.released();
    } else if (target.get().equals(targetId)) {
      l.pinned();
    } else {
      l.moved(target.get());
    }
  }

  /** The application changed its session: after the body started, its cookie goes out at once. */
  void sessionChanged() {
    decided();
  }

  private void rotateSession() {
    Runnable rotation = rotateSessionOnPin;
    if (rotation != null) {
      rotation.run();
    }
  }

  void sessionCreated() {
    if (route.pinForNewSession()) {
      decided();
    }
  }

  /** Takes a decision the CDI interceptors recorded since the last look, if any. */
  void applyRecordedDecision() {
    if (decisions == null) {
      return;
    }
    AffinityDecision.Decision decision = decisions.current();
    if (decision == null) {
      return;
    }
    synchronized (this) {
      if (decision.sequence() <= appliedDecision) {
        return;
      }
      appliedDecision = decision.sequence();
    }
    if (decision.kind() == AffinityDecision.Kind.RELEASE) {
      route.release();
    } else if (decision.duration() == null) {
      route.pin();
      rotateSession();
    } else {
      route.pin(decision.duration());
      rotateSession();
    }
  }

  /** When the response has started its body, cookies for a late decision are written at once. */
  private void decided() {
    RouteCookieResponse r = response;
    if (r != null && r.outputStarted()) {
      r.writeCookies();
    }
  }

  @Override
  public String toString() {
    return "Affinity{" + targetId + ", " + route + "}";
  }
}
