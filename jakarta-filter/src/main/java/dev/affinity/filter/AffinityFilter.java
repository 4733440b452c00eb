package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.route.RouteCookies;
import dev.affinity.route.RouteSettings;
import dev.affinity.session.RequestSession;
import dev.affinity.session.SessionConflictException;
import dev.affinity.session.SessionMode;
import dev.affinity.session.SessionSettings;
import dev.affinity.session.SessionStore;
import dev.affinity.session.SessionStoreException;
import dev.affinity.session.SessionStoreProvider;
import dev.affinity.session.Sessions;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issues the sealed route cookie ({@code AFFINITYROUTE}) that the Affinity balancer honours as this
 * target's pin. The application decides through {@link Affinity#current}, the CDI bindings
 * {@link Sticky} and {@link ReleaseAffinity}, or by creating a session ({@code pinOnSessionCreate});
 * the filter adds the cookies before the response commits.
 *
 * <p>Configured by init-params (see {@link RouteSettings#SETTINGS}), by an {@link AffinityFilterConfig}
 * given to the constructor, or by {@code affinity.properties} through {@link AffinityInitializer}. Map
 * it to {@code /*} with the dispatcher types {@code REQUEST}, {@code ASYNC} and {@code ERROR}, and
 * declare it async-supported.
 *
 * <p>With {@code sessionMode} {@code cookie} or {@code redis}, the request's {@code HttpSession} is
 * the filter's own: kept in a sealed {@code AFFINITYSESSION} cookie, or in Redis behind a near-cache,
 * so that it survives the loss of this target. A session that cannot be loaded because the store is
 * unreachable is answered with {@code 503} and {@code Retry-After}; a save that lost a race with
 * another request for the same session, with {@code 409} and {@code Retry-After: 0}.
 */
public class AffinityFilter implements Filter {
  private static final Logger LOG = LoggerFactory.getLogger(AffinityFilter.class);
  private static final String CDI_CLASS = "jakarta.enterprise.inject.spi.CDI";

  private AffinityFilterConfig config;
  private RouteCookies route;
  private DecisionSource decisions;
  private Sessions sessions;
  /** The configured listener behind a guard; {@code null} when none is set (nothing is measured). */
  private GuardedListener listener;
  /** The servlet context attribute under which the session store (redis mode) is published. */
  public static final String SESSION_STORE_ATTRIBUTE = SessionStore.class.getName();

  /** A filter configured from its init-params when the container initializes it. */
  public AffinityFilter() {}

  /** A filter configured in code; init-params are then ignored. */
  public AffinityFilter(AffinityFilterConfig config) {
    this.config = requireNonNull(config, "config");
  }

  @Override
  public void init(FilterConfig filterConfig) throws ServletException {
    ServletVersion.require6(filterConfig.getServletContext());
    if (config == null) {
      String name = filterConfig.getFilterName();
      try {
        AffinityFilterConfig.checkNames(Collections.list(filterConfig.getInitParameterNames()));
        config = AffinityFilterConfig.fromParameters(filterConfig::getInitParameter);
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw new ServletException("AffinityFilter \"" + name + "\": invalid init-param: " + e.getMessage(), e);
      }
    }
    listener = config.listener() == AffinityListener.none() ? null : new GuardedListener(config.listener());
    route = listener == null ? RouteCookies.of(config.settings()) : RouteCookies.of(config.settings(), listener);
    decisions = config.cdi() ? lookUpCdi() : null;
    sessions = openSessions(config, filterConfig.getServletContext().getSessionTimeout(), filterConfig.getFilterName(),
        listener);
    if (sessions != null && sessions.store() != null) {
      filterConfig.getServletContext().setAttribute(SESSION_STORE_ATTRIBUTE, sessions.store());
    }
    LOG.info("AffinityFilter issues {} for target {}{} ({}; CDI decisions {}; sessions {})", route.cookieName(),
        config.settings().targetId(),
        config.settings().targetGroup().isEmpty() ? "" : " in group " + config.settings().targetGroup(),
        config.settings().keyring(), decisions == null ? "off" : "on",
        sessions == null ? "container" : sessions.toString());
  }

  /** Cookie or redis mode: the application's {@link Sessions}; {@code null} for the container's. */
  private static Sessions openSessions(AffinityFilterConfig config, int timeoutMinutes, String filterName,
      AffinityListener listener) throws ServletException {
    SessionSettings settings = config.sessions();
    if (settings.mode() == SessionMode.CONTAINER) {
      return null;
    }
    RouteSettings route = config.settings();
    SessionStore store = null;
    if (settings.mode() == SessionMode.REDIS) {
      store = SessionStore.nearCached(openStore(settings, route, filterName), settings.nearCacheSize(),
          settings.nearCacheTtl(), route.clock());
      if (listener != null) {
        store = new MeasuredSessionStore(store, listener);
      }
    }
    Sessions.Builder b = Sessions.builder(settings)
        .keyring(route.keyring())
        .cookiePolicy(route.cookiePolicy())
        .target(route.targetId(), route.targetGroup())
        .clock(route.clock())
        .defaultMaxInactive(timeoutMinutes > 0 ? Duration.ofMinutes(timeoutMinutes) : Duration.ZERO);
    if (store != null) {
      b.store(store);
    }
    return b.build();
  }

  private static SessionStore openStore(SessionSettings settings, RouteSettings route, String filterName)
      throws ServletException {
    for (ClassLoader loader : new ClassLoader[] {AffinityFilter.class.getClassLoader(),
        Thread.currentThread().getContextClassLoader()}) {
      if (loader == null) {
        continue;
      }
      for (SessionStoreProvider provider : ServiceLoader.load(SessionStoreProvider.class, loader)) {
        if (provider.supports(settings.redisUri())) {
          return provider.open(settings, route.clock());
        }
      }
    }
    throw new ServletException("AffinityFilter \"" + filterName + "\": sessionMode redis needs the module"
        + " dev.affinity:affinity-session-redis (and Lettuce) on the class path; no store opens "
        + settings.redactedUri());
  }

  /** The CDI bridge, loaded by name so that the filter runs without the CDI API on the class path. */
  private static DecisionSource lookUpCdi() {
    try {
      Class.forName(CDI_CLASS, false, AffinityFilter.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return null;
    }
    try {
      return (DecisionSource) Class.forName("dev.affinity.filter.CdiDecisions", true, AffinityFilter.class.getClassLoader())
          .getDeclaredMethod("create").invoke(null);
    } catch (ReflectiveOperationException | LinkageError e) {
      LOG.debug("CDI bridge unavailable", e);
      return null;
    }
  }

  /** The settings in effect (after {@link #init}). */
  public AffinityFilterConfig config() {
    return config;
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest) || !(res instanceof HttpServletResponse)) {
      chain.doFilter(req, res);
      return;
    }
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    Affinity affinity = Affinity.find(request).orElse(null);
    boolean initial = affinity == null;
    if (initial) {
      ServletCookies cookies = ServletCookies.of(request);
      affinity = new Affinity(
          route.begin(cookies, request.isSecure(), request.getHeader(RouteCookies.PREVIOUS_TARGET_HEADER)),
          config.settings().targetId(), decisions);
      if (listener != null) {
        affinity.listener(listener, sessions != null && sessions.mode() == SessionMode.COOKIE);
      }
      if (sessions != null) {
        RequestSession session = sessions.begin(cookies, request.isSecure());
        affinity.session(session);
        if (config.sessions().rotateOnPin()) {
          affinity.rotateSessionOnPin(() -> {
            if (session.current(false) != null) {
              session.changeId();
            }
          });
        }
      } else if (config.sessions().rotateOnPin()) {
        affinity.rotateSessionOnPin(() -> {
          if (request.getSession(false) != null) {
            request.changeSessionId();
          }
        });
      }
      request.setAttribute(Affinity.ATTRIBUTE, affinity);
    }
    // Each pass (the request, and an async or error dispatch of it) guards its own response.
    RouteCookieResponse wrapped = new RouteCookieResponse(response, affinity);
    affinity.attach(wrapped);
    AffinityRequest wrappedRequest = new AffinityRequest(request, wrapped, affinity,
        config.settings().pinOnSessionCreate());
    boolean completed = false;
    try {
      chain.doFilter(wrappedRequest, wrapped);
      completed = true;
    } catch (IOException | ServletException | RuntimeException e) {
      if (!answerSessionFailure(e, response, affinity)) {
        throw e;
      }
    } finally {
      if (!wrappedRequest.isAsyncStarted()) {
        try {
          wrapped.writeCookies();
        } catch (RuntimeException e) {
          if (completed && answerSessionFailure(e, response, affinity)) {
            return;
          }
          if (completed) {
            throw e;
          }
          // Do not hide the application's exception behind ours.
          LOG.debug("could not add route cookies after an exception", e);
        }
      }
      if (initial && request.getDispatcherType() == DispatcherType.REQUEST && !wrappedRequest.isAsyncStarted()) {
        LOG.trace("{} {}: {}", request.getMethod(), request.getRequestURI(), affinity);
      }
    }
  }

  /**
   * Answers a request whose session could not be loaded ({@code 503}) or saved ({@code 409}), if the
   * response is not committed yet.
   *
   * @return false when {@code failure} is not about the session, or the response is already committed
   */
  private static boolean answerSessionFailure(Throwable failure, HttpServletResponse response, Affinity affinity) {
    Throwable cause = failure;
    while (cause != null && !(cause instanceof SessionConflictException) && !(cause instanceof SessionStoreException)) {
      cause = cause.getCause();
    }
    if (cause == null || response.isCommitted() || affinity.session() == null) {
      return false;
    }
    affinity.session().abandon();
    boolean conflict = cause instanceof SessionConflictException;
    if (conflict) {
      LOG.debug("409: {}", cause.getMessage());
    } else {
      LOG.warn("503: {}", cause.getMessage());
    }
    try {
      response.reset();
      response.setStatus(conflict ? HttpServletResponse.SC_CONFLICT : HttpServletResponse.SC_SERVICE_UNAVAILABLE);
      response.setHeader("Retry-After", conflict ? "0" : "1");
      response.setHeader("Cache-Control", "no-store");
      response.setContentType("text/plain;charset=utf-8");
      byte[] body = (conflict
          ? "The session was changed by a concurrent request; retry this request.\n"
          : "The session store is unavailable; retry shortly.\n").getBytes(StandardCharsets.UTF_8);
      response.setContentLength(body.length);
      try {
        response.getOutputStream().write(body);
      } catch (IllegalStateException writerInUse) {
        response.getWriter().write(new String(body, StandardCharsets.UTF_8));
      }
    } catch (IOException | IllegalStateException e) {
      LOG.debug("could not answer the session failure", e);
    }
    return true;
  }

  @Override
  public void destroy() {
    if (sessions != null && sessions.store() != null) {
      sessions.store().close();
    }
  }
}
