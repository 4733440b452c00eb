package dev.affinity.filter;

import dev.affinity.session.RequestSession;
import dev.affinity.session.Session;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpSession;

/**
 * Sees the application create a session (to pin on it, by setting), serves the session from the
 * client-side cookie or the store in cookie and redis mode, and keeps asynchronous processing
 * on the cookie-writing response: {@code startAsync()} hands out a context whose {@code complete()} and
 * {@code dispatch()} write the route cookies first.
 */
final class AffinityRequest extends HttpServletRequestWrapper {
  private final Affinity affinity;
  private final RouteCookieResponse response;
  private final boolean pinOnSessionCreate;
  private final RequestSession managed;
  private boolean sessionSeen;
  private AffinityHttpSession wrapped;

  AffinityRequest(HttpServletRequest request, RouteCookieResponse response, Affinity affinity,
      boolean pinOnSessionCreate) {
    super(request);
    this.affinity = affinity;
    this.response = response;
    this.pinOnSessionCreate = pinOnSessionCreate;
    this.managed = affinity.session();
  }

  @Override
  public HttpSession getSession() {
    return getSession(true);
  }

  @Override
  public HttpSession getSession(boolean create) {
    if (managed != null) {
      return managedSession(create);
    }
    if (!create || !pinOnSessionCreate || sessionSeen) {
      return super.getSession(create);
    }
    HttpSession session = super.getSession(false);
    if (session == null) {
      session = super.getSession(true);
      if (session != null && session.isNew()) {
        affinity.sessionCreated();
      }
    }
    sessionSeen = session != null;
    return session;
  }

  private synchronized HttpSession managedSession(boolean create) {
    Session session = managed.current(create);
    if (session == null) {
      return null;
    }
    if (wrapped == null || wrapped.session() != session) {
      wrapped = new AffinityHttpSession(session, getServletContext(), affinity);
      if (session.isNew() && pinOnSessionCreate) {
        affinity.sessionCreated();
      }
    }
    return wrapped;
  }

  @Override
  public String changeSessionId() {
    if (managed == null) {
      return super.changeSessionId();
    }
    String id = managed.changeId();
    affinity.sessionChanged();
    return id;
  }

  @Override
  public String getRequestedSessionId() {
    return managed == null ? super.getRequestedSessionId() : managed.requestedId().orElse(null);
  }

  @Override
  public boolean isRequestedSessionIdValid() {
    return managed == null ? super.isRequestedSessionIdValid() : managed.requestedIdValid();
  }

  @Override
  public boolean isRequestedSessionIdFromCookie() {
    return managed == null ? super.isRequestedSessionIdFromCookie() : managed.requestedId().isPresent();
  }

  @Override
  public boolean isRequestedSessionIdFromURL() {
    return managed == null && super.isRequestedSessionIdFromURL();
  }

  @Override
  public AsyncContext startAsync() throws IllegalStateException {
    return guarded(super.startAsync(this, response));
  }

  @Override
  public AsyncContext startAsync(ServletRequest servletRequest, ServletResponse servletResponse) {
    return guarded(super.startAsync(servletRequest, servletResponse));
  }

  @Override
  public AsyncContext getAsyncContext() {
    AsyncContext context = super.getAsyncContext();
    return context == null || context instanceof GuardedAsyncContext ? context : new GuardedAsyncContext(context);
  }

  private AsyncContext guarded(AsyncContext context) {
    context.addListener(new AsyncListener() {
      @Override
      public void onTimeout(AsyncEvent event) {
        // The container is about to answer on its own: the pin made so far still goes out.
        response.writeCookies();
      }

      @Override
      public void onError(AsyncEvent event) {
        response.writeCookies();
      }

      @Override
      public void onComplete(AsyncEvent event) {}

      @Override
      public void onStartAsync(AsyncEvent event) {
        event.getAsyncContext().addListener(this);
      }
    });
    return new GuardedAsyncContext(context);
  }

  /** Writes the route cookies before the container completes or re-dispatches the request. */
  private final class GuardedAsyncContext implements AsyncContext {
    private final AsyncContext context;

    GuardedAsyncContext(AsyncContext context) {
      this.context = context;
    }

    @Override
    public ServletRequest getRequest() {
      return context.getRequest();
    }

    @Override
    public ServletResponse getResponse() {
      return context.getResponse();
    }

    @Override
    public boolean hasOriginalRequestAndResponse() {
      return context.hasOriginalRequestAndResponse();
    }

    @Override
    public void dispatch() {
      response.writeCookies();
      context.dispatch();
    }

    @Override
    public void dispatch(String path) {
      response.writeCookies();
      context.dispatch(path);
    }

    @Override
    public void dispatch(ServletContext servletContext, String path) {
      response.writeCookies();
      context.dispatch(servletContext, path);
    }

    @Override
    public void complete() {
      response.writeCookies();
      context.complete();
    }

    @Override
    public void start(Runnable run) {
      context.start(run);
    }

    @Override
    public void addListener(AsyncListener listener) {
      context.addListener(listener);
    }

    @Override
    public void addListener(AsyncListener listener, ServletRequest servletRequest, ServletResponse servletResponse) {
      context.addListener(listener, servletRequest, servletResponse);
    }

    @Override
    public <T extends AsyncListener> T createListener(Class<T> clazz) throws jakarta.servlet.ServletException {
      return context.createListener(clazz);
    }

    @Override
    public void setTimeout(long timeout) {
      context.setTimeout(timeout);
    }

    @Override
    public long getTimeout() {
      return context.getTimeout();
    }
  }

}
