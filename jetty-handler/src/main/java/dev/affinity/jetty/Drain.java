package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.Graceful;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link GracefulShutdown} over {@link AffinityServer}'s public listeners, on the thread that
 * stops the server, before Jetty stops the connectors (which closes whatever is still open). The
 * admin port, when there is one, is left alone: its {@code ready} answers 503 and {@code live} 200
 * until the very end.
 *
 * <p>Time (the unready delay, the grace) is measured on an injected {@link Scheduler}; everything else
 * waits on real events: Jetty's connectors complete their {@link Graceful#shutdown()} when their last
 * connection has closed.
 */
final class Drain {
  private static final Logger LOG = LoggerFactory.getLogger(Drain.class);
  /**
   * How long a kept-alive HTTP/1 connection with no request on it is kept once the drain starts,
   * instead of being closed at once: a request the client sent a moment ago still lands (and is
   * answered with {@code Connection: close}) rather than meeting a reset. Jetty's own shutdown uses
   * the same second.
   */
  static final Duration IDLE_LINGER = Duration.ofSeconds(1);

  private final List<ServerConnector> publicConnectors;
  private final WebSocketProxy webSockets;
  private final String readyPath;
  private volatile boolean stopping;
  private volatile boolean draining;

  Drain(List<ServerConnector> publicConnectors, WebSocketProxy webSockets, String readyPath) {
    this.publicConnectors = List.copyOf(publicConnectors);
    this.webSockets = requireNonNull(webSockets, "webSockets");
    this.readyPath = requireNonNull(readyPath, "readyPath");
  }

  /** From the first moment of a stop: readiness fails. */
  boolean isStopping() {
    return stopping;
  }

  /** From the moment the listeners close. */
  boolean isDraining() {
    return draining;
  }

  /**
   * A request that arrived on a connection the drain found idle (and gave {@link #IDLE_LINGER}) gets the
   * listener's idle timeout back, so that a slow target does not see it cut; its answer closes the
   * connection anyway.
   */
  static void keepIdleTimeout(Request request) {
    EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    long idleTimeout = request.getConnectionMetaData().getConnector().getIdleTimeout();
    if (endPoint.getIdleTimeout() != idleTimeout) {
      endPoint.setIdleTimeout(idleTimeout);
    }
  }

  GracefulShutdown.Outcome run(GracefulShutdown settings, Scheduler timer) {
    // The unready delay is timed from before readiness turns: whoever sees the 503 (a probe, a test
    // moving a manual clock) can count on the delay being under way.
    CompletableFuture<Void> unready = settings.unreadyDelay().isZero() ? null : after(timer, settings.unreadyDelay());
    stopping = true;
    LOG.info("affinity: stopping: {} answers 503; listeners close in {}; grace {}", readyPath, settings.unreadyDelay(),
        settings.grace());
    try {
      if (unready != null) {
        unready.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      LOG.warn("affinity: the unready delay's timer failed; draining now", e.getCause());
    }
    CompletableFuture<Void> deadline = after(timer, settings.grace().minus(settings.unreadyDelay()));
    draining = true;
    List<CompletableFuture<Void>> closed = new ArrayList<>();
    for (ServerConnector connector : publicConnectors) {
      // The connector closes its listening socket (new connections are refused, so a client or a load
      // balancer in front tries elsewhere at once) and answers each HTTP/1 connection's next request with
      // Connection: close; its HTTP/2 session container sends GOAWAY. Both complete when their last
      // connection is gone.
      closed.add(connector.shutdown());
      for (Graceful graceful : connector.getContainedBeans(Graceful.class)) {
        if (graceful != connector) {
          closed.add(graceful.shutdown());
        }
      }
    }
    int idle = lingerIdleConnections();
    // Again every half linger: a connection whose answer was on its way a moment ago (committed before the
    // listener closed, so kept alive) or that was accepted just before is idle only now. On the listener's
    // own scheduler, as the idle timeouts it shortens are.
    Scheduler.Task relinger = publicConnectors.isEmpty() ? null : every(publicConnectors.get(0).getScheduler(), IDLE_LINGER.dividedBy(2),
        this::lingerIdleConnections);
    int webSocketsClosed = webSockets.closeAll(CloseStatus.SHUTDOWN, "the balancer is shutting down");
    int open = openConnections();
    LOG.info("affinity: draining {} client connections ({} idle, {} WebSockets closed with 1001)", open, idle, webSocketsClosed);
    CompletableFuture<Void> allClosed = CompletableFuture.allOf(closed.toArray(new CompletableFuture<?>[0]));
    try {
      CompletableFuture.anyOf(allClosed, deadline).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      LOG.debug("affinity: drain ended with {}", e.getCause().toString());
    }
    deadline.cancel(false);
    if (relinger != null) {
      relinger.cancel();
    }
    int left = openConnections();
    if (left == 0) {
      LOG.info("affinity: drained; stopping");
      return GracefulShutdown.Outcome.complete();
    }
    LOG.warn("affinity: the shutdown grace ({}) ran out with {} client connections open; cutting them", settings.grace(), left);
    // Closed here, before Jetty stops the connectors: their selectors also carry the direct relay's target
    // connections, and a target connection closed first would read as the target's failure (a 502 that blames it).
    for (ServerConnector connector : publicConnectors) {
      for (EndPoint endPoint : connector.getConnectedEndPoints()) {
        endPoint.close();
      }
    }
    return new GracefulShutdown.Outcome(false, left);
  }

  /** Gives each kept-alive HTTP/1 connection with no request on it {@link #IDLE_LINGER} to live. */
  private int lingerIdleConnections() {
    int idle = 0;
    for (ServerConnector connector : publicConnectors) {
      long linger = Math.min(IDLE_LINGER.toMillis(), connector.getIdleTimeout());
      for (EndPoint endPoint : connector.getConnectedEndPoints()) {
        if (JettyInternals.isIdleHttp1(endPoint)) {
          endPoint.setIdleTimeout(linger);
          idle++;
        }
      }
    }
    return idle;
  }

  /** Client connections open now over the public listeners (also {@link AffinityServer#openConnections()}). */
  int openConnections() {
    int open = 0;
    for (ServerConnector connector : publicConnectors) {
      open += connector.getConnectedEndPoints().size();
    }
    return open;
  }

  /** Runs {@code task} every {@code period} until the returned task is cancelled; {@code null} without a scheduler. */
  private static Scheduler.Task every(Scheduler scheduler, Duration period, Runnable task) {
    if (scheduler == null || !scheduler.isRunning()) {
      return null;
    }
    java.util.concurrent.atomic.AtomicReference<Scheduler.Task> next = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable[] repeat = new Runnable[1];
    repeat[0] = () -> {
      if (cancelled.get()) {
        return;
      }
      try {
        task.run();
      } catch (RuntimeException e) {
        LOG.debug("affinity: drain sweep failed", e);
      }
      if (!cancelled.get()) {
        next.set(scheduler.schedule(repeat[0], period.toMillis(), TimeUnit.MILLISECONDS));
      }
    };
    next.set(scheduler.schedule(repeat[0], period.toMillis(), TimeUnit.MILLISECONDS));
    return () -> {
      cancelled.set(true);
      Scheduler.Task t = next.get();
      return t == null || t.cancel();
    };
  }

  private static CompletableFuture<Void> after(Scheduler timer, Duration delay) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (delay.isZero() || delay.isNegative()) {
      done.complete(null);
      return done;
    }
    Scheduler.Task task;
    try {
      task = timer.schedule(() -> done.complete(null), delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      // A timer that never started (a server stopped after a failed start): nothing to wait for anyway.
      LOG.debug("affinity: no shutdown timer ({}); not waiting", e.toString());
      done.complete(null);
      return done;
    }
    done.whenComplete((v, x) -> task.cancel());
    return done;
  }
}
