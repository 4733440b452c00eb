package dev.affinity.route;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookieSource;
import java.util.Optional;

/**
 * The route cookie ({@code AFFINITYROUTE}, and {@code AFFINITYROUTECORS} with CORS on) as a target
 * issues it: sealed with the shared keyring, naming this target's id and the configured group.
 * One per application; {@link #begin} starts the per-request {@link RoutePin}.
 */
public final class RouteCookies {
  /** Header the balancer sets on a failed-over request: the id of the target the client was pinned to. */
  public static final String PREVIOUS_TARGET_HEADER = "X-Affinity-Previous-Target";

  private final RouteSettings settings;
  private final AffinityCookies cookies;
  private final String cookieName;

  private RouteCookies(RouteSettings settings, CodecMetrics metrics) {
    this.settings = settings;
    AffinityCookieCodec codec = AffinityCookieCodec.builder()
        .keyring(settings.keyring())
        .clock(settings.clock())
        .metrics(metrics)
        .build();
    this.cookies = AffinityCookies.of(codec, settings.cookiePolicy());
    this.cookieName = cookies.names().route();
  }

  public static RouteCookies of(RouteSettings settings) {
    return of(settings, CodecMetrics.noop());
  }

  public static RouteCookies of(RouteSettings settings, CodecMetrics metrics) {
    return new RouteCookies(requireNonNull(settings, "settings"), requireNonNull(metrics, "metrics"));
  }

  public RouteSettings settings() {
    return settings;
  }

  public AffinityCookies cookies() {
    return cookies;
  }

  /** {@code AFFINITYROUTE}, or the configured prefix followed by {@code ROUTE}. */
  public String cookieName() {
    return cookieName;
  }

  /**
   * The state of one request: the pin its cookies carry, the previous target the balancer reported,
   * and what the application decides. A request that failed over here from another target (the
   * header is set and its route cookie names another target) is re-pinned to this target at once.
   *
   * @param request the request's cookies
   * @param secureRequest whether the request arrived over TLS
   * @param previousTargetHeader the {@value #PREVIOUS_TARGET_HEADER} header, or {@code null}
   */
  public RoutePin begin(CookieSource request, boolean secureRequest, String previousTargetHeader) {
    requireNonNull(request, "request");
    RoutePin pin = new RoutePin(this, request, secureRequest, previousTarget(previousTargetHeader));
    if (pin.previousTarget().isPresent()) {
      Optional<String> pinned = pin.pinnedTarget();
      if (pinned.isPresent() && !pinned.get().equals(settings.targetId())) {
        pin.pin();
      }
    }
    return pin;
  }

  /** The header's target id when it is one (1-64 of {@code A-Z a-z 0-9 . _ -}); blank or garbage is ignored. */
  public static Optional<String> previousTarget(String header) {
    if (header == null) {
      return Optional.empty();
    }
    String id = header.trim();
    return RouteSettings.isValidId(id) ? Optional.of(id) : Optional.empty();
  }
}
