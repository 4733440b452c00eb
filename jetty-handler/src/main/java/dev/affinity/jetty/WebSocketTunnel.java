package dev.affinity.jetty;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied WebSocket: the session facing the client (the balancer is its server) joined to the
 * session facing the target (the balancer is its client). Each side relays the frames it receives to
 * the other side one at a time, and asks its own remote for the next frame only once the other side
 * has written the previous one. Close handshakes pass through: a CLOSE from one remote goes to the
 * other, and its answer comes back as the answer to the first.
 */
final class WebSocketTunnel {
  private static final Logger LOG = LoggerFactory.getLogger(WebSocketTunnel.class);

  private final WebSocketProxy proxy;
  private final Attempt attempt;
  private final int maxMessageBytes;
  private final Side clientSide = new Side("P2C");
  private final Side targetSide = new Side("P2S");
  private volatile HttpFields serverToProxyHeaders;
  // Guarded by this.
  private boolean clientDone;
  private boolean targetDone;
  private boolean opened;
  private boolean finished;

  WebSocketTunnel(WebSocketProxy proxy, Attempt attempt, int maxMessageBytes) {
    this.proxy = proxy;
    this.attempt = attempt;
    this.maxMessageBytes = maxMessageBytes;
    clientSide.peer = targetSide;
    targetSide.peer = clientSide;
  }

  Attempt attempt() {
    return attempt;
  }

  Target target() {
    return attempt.target();
  }

  TargetGroup group() {
    return attempt.group();
  }

  FrameHandler clientSide() {
    return clientSide;
  }

  FrameHandler targetSide() {
    return targetSide;
  }

  void serverToProxyHeaders(HttpFields headers) {
    this.serverToProxyHeaders = headers;
  }

  HttpFields serverToProxyHeaders() {
    return serverToProxyHeaders;
  }

  /** The target never upgraded: nothing was opened, only the attempt is over. */
  void targetUpgradeFailed() {
    synchronized (this) {
      targetDone = true;
      clientDone = true;
    }
    finish();
  }

  /** The target upgraded but the 101 could not be given to the client. */
  void clientUpgradeFailed(Throwable cause) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("P2C upgrade to client failed for target {}: {}", target().id(), cause.toString());
    }
    synchronized (this) {
      clientDone = true;
    }
    CoreSession toTarget = targetSide.session;
    if (toTarget != null && toTarget.isOutputOpen()) {
      toTarget.close(CloseStatus.SHUTDOWN, "client went away", Callback.NOOP);
    }
    finish();
  }

  /** Both sessions are up: count the connection and start reading from both remotes. */
  private void clientOpened() {
    boolean targetGone;
    synchronized (this) {
      targetGone = targetDone;
      opened = true;
    }
    target().webSocketOpened();
    proxy.opened(this);
    if (LOG.isDebugEnabled()) {
      LOG.debug("C2P/P2S WebSocket open to target {}", target().id());
    }
    if (targetGone) {
      clientSide.session.close(CloseStatus.SERVER_ERROR, "target " + target().id() + " closed the connection", Callback.NOOP);
      clientSide.session.demand();
      return;
    }
    clientSide.session.demand();
    targetSide.session.demand();
  }

  /** Closes both sides (a drain or a shutdown). Returns whether either side was still open. */
  boolean closeBoth(int code, String reason) {
    boolean any = false;
    for (Side side : new Side[] {clientSide, targetSide}) {
      CoreSession session = side.session;
      if (session != null && session.isOutputOpen()) {
        session.close(code, reason, Callback.NOOP);
        any = true;
      }
    }
    return any;
  }

  /** {@code from} got a CLOSE from its remote: pass it on, or, if it answers the other's CLOSE, answer that. */
  private void onCloseFrame(Side from, Frame frame, Callback callback) {
    CloseStatus status = CloseStatus.getCloseStatus(frame);
    if (status == null) {
      status = CloseStatus.NO_CODE_STATUS;
    }
    Side to = from.peer;
    Callback answer;
    synchronized (this) {
      answer = to.pendingClose;
      to.pendingClose = null;
      if (answer == null) {
        from.pendingClose = callback;
      }
    }
    CoreSession toSession = to.session;
    if (answer != null) {
      // This CLOSE answers one that came from the other remote: give that remote the same answer.
      closeOrComplete(toSession, status, answer);
      callback.succeeded();
      return;
    }
    if (toSession != null && toSession.isOutputOpen()) {
      CloseStatus forwarded = status;
      // The remote's answer comes back in onCloseFrame (or onClosed) of the other side.
      toSession.close(status, Callback.from(() -> { }, x -> answerPending(from, forwarded)));
    } else {
      answerPending(from, status);
    }
  }

  /** Completes {@code side}'s CLOSE waiting for an answer, if any, answering with {@code status}. */
  private void answerPending(Side side, CloseStatus status) {
    Callback pending;
    synchronized (this) {
      pending = side.pendingClose;
      side.pendingClose = null;
    }
    if (pending != null) {
      closeOrComplete(side.session, status, pending);
    }
  }

  private static void closeOrComplete(CoreSession session, CloseStatus status, Callback callback) {
    if (session != null && session.isOutputOpen()) {
      session.close(status, callback);
    } else {
      callback.succeeded();
    }
  }

  /** {@code side}'s connection is over: close the other side with a status that says why. */
  private void onSideClosed(Side side, CloseStatus status) {
    synchronized (this) {
      if (side == clientSide) {
        clientDone = true;
      } else {
        targetDone = true;
      }
    }
    Side other = side.peer;
    CloseStatus toOther = statusForOther(side, status);
    // A CLOSE from this side that was still waiting for the other's answer: the session is gone anyway.
    answerPending(side, toOther);
    // A CLOSE from the other side that was waiting for this side's answer: this side will never give it.
    answerPending(other, toOther);
    CoreSession otherSession = other.session;
    if (otherSession != null && otherSession.isOutputOpen()) {
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} closed ({}) for target {}: closing {} with {}", side.tag, status, target().id(), other.tag, toOther);
      }
      otherSession.close(toOther, Callback.NOOP);
    }
    finish();
  }

  /** Which close status the other side gets when {@code side} ended with {@code status}. */
  private CloseStatus statusForOther(Side side, CloseStatus status) {
    int code = status == null ? CloseStatus.NO_CLOSE : status.getCode();
    if (code == CloseStatus.NO_CODE) {
      return new CloseStatus(CloseStatus.NORMAL);
    }
    if (CloseStatus.isTransmittableStatusCode(code)) {
      return new CloseStatus(code, status.getReason());
    }
    if (side == targetSide) {
      Throwable cause = status == null ? side.error : status.getCause() != null ? status.getCause() : side.error;
      if (cause == null || cause instanceof java.nio.channels.ClosedChannelException || cause instanceof org.eclipse.jetty.io.EofException) {
        // The target closed its end without a CLOSE frame (it stopped, or its connection was closed).
        return new CloseStatus(CloseStatus.SHUTDOWN, "target " + target().id() + " went away");
      }
      return new CloseStatus(CloseStatus.SERVER_ERROR, "target " + target().id() + " failed: " + cause.getClass().getSimpleName());
    }
    return new CloseStatus(CloseStatus.SHUTDOWN, "client went away");
  }

  private void finish() {
    boolean count;
    boolean wasOpened;
    synchronized (this) {
      if (finished || !clientDone || !targetDone) {
        return;
      }
      finished = true;
      count = true;
      wasOpened = opened;
    }
    if (count) {
      attempt.finished();
      if (wasOpened) {
        target().webSocketClosed();
        proxy.closed(this);
      }
    }
  }

  private void tooLarge(Side side) {
    String reason = "message larger than " + maxMessageBytes + " bytes";
    closeBoth(CloseStatus.MESSAGE_TOO_LARGE, reason);
    side.session.demand();
  }

  /** One of the two sessions, relaying what its remote sends to the other session. */
  private final class Side implements FrameHandler {
    final String tag;
    Side peer;
    volatile CoreSession session;
    volatile Throwable error;
    /** The CLOSE this side's remote sent, waiting for the other remote's answer. Guarded by the tunnel. */
    Callback pendingClose;
    /** Bytes of the data message being relayed; only touched from onFrame, which is never concurrent. */
    private long messageBytes;

    Side(String tag) {
      this.tag = tag;
    }

    @Override
    public void onOpen(CoreSession coreSession, Callback callback) {
      this.session = coreSession;
      callback.succeeded();
      if (this == clientSide) {
        clientOpened();
      }
    }

    @Override
    public void onFrame(Frame frame, Callback callback) {
      byte opCode = frame.getOpCode();
      if (opCode == OpCode.CLOSE) {
        onCloseFrame(this, frame, callback);
        return;
      }
      if (frame.isDataFrame()) {
        long size = opCode == OpCode.CONTINUATION ? messageBytes + frame.getPayloadLength() : frame.getPayloadLength();
        if (size > maxMessageBytes) {
          callback.succeeded();
          tooLarge(this);
          return;
        }
        messageBytes = frame.isFin() ? 0 : size;
      }
      // A fresh frame (no mask, no RSV bits: no extension is negotiated on either hop) over the same
      // payload, which stays valid until this frame's callback completes.
      Frame relayed = new Frame(opCode, frame.isFin(), frame.getPayload());
      peer.session.sendFrame(relayed, Callback.from(() -> {
        callback.succeeded();
        session.demand();
      }, x -> {
        if (LOG.isDebugEnabled()) {
          LOG.debug("{} relay to target {} failed: {}", peer.tag, target().id(), x.toString());
        }
        // The other side is closing; its onClosed closes this one. Keep reading to see the close through.
        callback.succeeded();
        session.demand();
      }), false);
    }

    @Override
    public void onError(Throwable cause, Callback callback) {
      this.error = cause;
      callback.succeeded();
    }

    @Override
    public void onClosed(CloseStatus closeStatus, Callback callback) {
      try {
        if (session != null) {
          onSideClosed(this, closeStatus);
        }
      } finally {
        callback.succeeded();
      }
    }

    @Override
    public String toString() {
      return "WebSocketTunnel." + tag + "[" + target().id() + "]";
    }
  }
}
