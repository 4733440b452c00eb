package dev.affinity.filter;

import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.Rejection;
import dev.affinity.session.SessionMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The application's listener, kept from turning a metrics bug into a failed request: what it throws
 * is logged and dropped. Also the route codec's {@link CodecMetrics}, for rejected route cookies.
 */
final class GuardedListener implements AffinityListener, CodecMetrics {
  private static final Logger LOG = LoggerFactory.getLogger(GuardedListener.class);
  private final AffinityListener listener;

  GuardedListener(AffinityListener listener) {
    this.listener = listener;
  }

  @Override
  public void pinned() {
    try {
      listener.pinned();
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  @Override
  public void moved(String targetId) {
    try {
      listener.moved(targetId);
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  @Override
  public void released() {
    try {
      listener.released();
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  @Override
  public void routeCookieRejected(Rejection reason) {
    try {
      listener.routeCookieRejected(reason);
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  @Override
  public void sessionWritten(SessionMode mode, int bytes) {
    try {
      listener.sessionWritten(mode, bytes);
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  // CodecMetrics of the route cookie's codec: only rejections are of interest.

  @Override
  public void sealed() {}

  @Override
  public void opened(boolean cached) {}

  @Override
  public void rejected(Rejection reason) {
    routeCookieRejected(reason);
  }

  private void failed(RuntimeException e) {
    LOG.warn("AffinityListener {} failed; the request goes on", listener, e);
  }
}
