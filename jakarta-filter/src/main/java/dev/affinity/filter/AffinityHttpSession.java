package dev.affinity.filter;

import dev.affinity.session.Session;
import jakarta.servlet.ServletContext;
import jakarta.servlet.http.HttpSession;
import jakarta.servlet.http.HttpSessionBindingEvent;
import jakarta.servlet.http.HttpSessionBindingListener;
import java.time.Duration;
import java.util.Collections;
import java.util.Enumeration;

/**
 * The Servlet view of a core {@link Session} (cookie or redis mode). Binding listeners are told when
 * their value is bound and unbound; {@code HttpSessionListener}s and attribute listeners registered
 * with the container are not called for these sessions.
 */
final class AffinityHttpSession implements HttpSession {
  private final Session session;
  private final ServletContext context;
  private final Affinity affinity;

  AffinityHttpSession(Session session, ServletContext context, Affinity affinity) {
    this.session = session;
    this.context = context;
    this.affinity = affinity;
  }

  Session session() {
    return session;
  }

  @Override
  public long getCreationTime() {
    return session.createdAt().toEpochMilli();
  }

  @Override
  public String getId() {
    return session.id();
  }

  @Override
  public long getLastAccessedTime() {
    return session.lastAccessedAt().toEpochMilli();
  }

  @Override
  public ServletContext getServletContext() {
    return context;
  }

  @Override
  public void setMaxInactiveInterval(int interval) {
    session.maxInactive(Duration.ofSeconds(interval));
    affinity.sessionChanged();
  }

  @Override
  public int getMaxInactiveInterval() {
    long seconds = session.maxInactive().getSeconds();
    return seconds <= 0 ? -1 : (int) Math.min(Integer.MAX_VALUE, seconds);
  }

  @Override
  public Object getAttribute(String name) {
    return session.getAttribute(name);
  }

  @Override
  public Enumeration<String> getAttributeNames() {
    return Collections.enumeration(session.attributeNames());
  }

  @Override
  public void setAttribute(String name, Object value) {
    Object previous = session.setAttribute(name, value);
    if (value instanceof HttpSessionBindingListener && previous != value) {
      ((HttpSessionBindingListener) value).valueBound(new HttpSessionBindingEvent(this, name, value));
    }
    if (previous instanceof HttpSessionBindingListener && previous != value) {
      ((HttpSessionBindingListener) previous).valueUnbound(new HttpSessionBindingEvent(this, name, previous));
    }
    affinity.sessionChanged();
  }

  @Override
  public void removeAttribute(String name) {
    Object previous = session.removeAttribute(name);
    if (previous instanceof HttpSessionBindingListener) {
      ((HttpSessionBindingListener) previous).valueUnbound(new HttpSessionBindingEvent(this, name, previous));
    }
    affinity.sessionChanged();
  }

  @Override
  public void invalidate() {
    session.invalidate();
    affinity.sessionChanged();
  }

  @Override
  public boolean isNew() {
    if (!session.isValid()) {
      throw new IllegalStateException("isNew: the session was invalidated");
    }
    return session.isNew();
  }

  @Override
  public String toString() {
    return "AffinityHttpSession{" + session + "}";
  }
}
