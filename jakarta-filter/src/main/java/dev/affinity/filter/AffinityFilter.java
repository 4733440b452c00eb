package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.route.RouteCookies;
import dev.affinity.route.RouteSettings;
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
import java.util.Collections;
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
 */
public class AffinityFilter implements Filter {
  private static final Logger LOG = LoggerFactory.getLogger(AffinityFilter.class);
  private static final String CDI_CLASS = "jakarta.enterprise.inject.spi.CDI";

  private AffinityFilterConfig config;
  private RouteCookies route;
  private DecisionSource decisions;

  /** A filter configured from its init-params when the container initializes it. */
  public AffinityFilter() {}

  /** A filter configured in code; init-params are then ignored. */
  public AffinityFilter(AffinityFilterConfig config) {
    this.config = requireNonNull(config, "config");
  }

  @Override
  public void init(FilterConfig filterConfig) throws ServletException {
    if (config == null) {
      String name = filterConfig.getFilterName();
      try {
        RouteSettings.checkNames(Collections.list(filterConfig.getInitParameterNames()));
        config = AffinityFilterConfig.fromParameters(filterConfig::getInitParameter);
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw new ServletException("AffinityFilter \"" + name + "\": invalid init-param: " + e.getMessage(), e);
      }
    }
    route = RouteCookies.of(config.settings());
    decisions = config.cdi() ? lookUpCdi() : null;
    LOG.info("AffinityFilter issues {} for target {}{} ({}; CDI decisions {})", route.cookieName(),
        config.settings().targetId(),
        config.settings().targetGroup().isEmpty() ? "" : " in group " + config.settings().targetGroup(),
        config.settings().keyring(), decisions == null ? "off" : "on");
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
      affinity = new Affinity(
          route.begin(ServletCookies.of(request), request.isSecure(), request.getHeader(RouteCookies.PREVIOUS_TARGET_HEADER)),
          config.settings().targetId(), decisions);
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
    } finally {
      if (!wrappedRequest.isAsyncStarted()) {
        try {
          wrapped.writeCookies();
        } catch (RuntimeException e) {
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

  @Override
  public void destroy() {}
}
