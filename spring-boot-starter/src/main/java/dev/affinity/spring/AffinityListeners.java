package dev.affinity.spring;

import dev.affinity.cookie.Rejection;
import dev.affinity.filter.AffinityListener;
import dev.affinity.session.SessionMode;
import java.util.List;

/** Every {@link AffinityListener} bean of the application, in their order. */
final class AffinityListeners implements AffinityListener {
  private final List<AffinityListener> listeners;

  AffinityListeners(List<AffinityListener> listeners) {
    this.listeners = List.copyOf(listeners);
  }

  @Override
  public void pinned() {
    for (AffinityListener l : listeners) {
      l.pinned();
    }
  }

  @Override
  public void moved(String targetId) {
    for (AffinityListener l : listeners) {
      l.moved(targetId);
    }
  }

  @Override
  public void released() {
    for (AffinityListener l : listeners) {
      l.released();
    }
  }

  @Override
  public void routeCookieRejected(Rejection reason) {
    for (AffinityListener l : listeners) {
      l.routeCookieRejected(reason);
    }
  }

  @Override
  public void sessionWritten(SessionMode mode, int bytes) {
    for (AffinityListener l : listeners) {
      l.sessionWritten(mode, bytes);
    }
  }

  @Override
  public String toString() {
    return "AffinityListeners" + listeners;
  }
}
