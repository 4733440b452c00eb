package dev.affinity.jetty;

import java.net.URI;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/** A target that answers its id at once, and holds {@code /held} until {@link #release()}. */
public final class HeldTarget {
  public final String id;
  /** Requests for {@code /held} that reached this target. */
  public final AtomicInteger arrived = new AtomicInteger();
  private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();
  private volatile boolean released;
  private final Server server;
  private final ServerConnector connector;

  public HeldTarget(String id) throws Exception {
    this.id = id;
    server = new Server(new QueuedThreadPool(16, 2));
    connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract.NonBlocking() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        if (Request.getPathInContext(request).equals("/held")) {
          arrived.incrementAndGet();
          Runnable answer = () -> Content.Sink.write(response, true, "held by " + id, callback);
          if (released) {
            answer.run();
          } else {
            waiting.add(answer);
            if (released) {
              drain();
            }
          }
          return true;
        }
        Content.Sink.write(response, true, id, callback);
        return true;
      }
    });
    server.start();
  }

  public URI uri() {
    return URI.create("http://127.0.0.1:" + connector.getLocalPort());
  }

  /** Answers every held request, and from now on answers {@code /held} at once. */
  public void release() {
    released = true;
    drain();
  }

  private void drain() {
    for (Runnable r; (r = waiting.poll()) != null; ) {
      r.run();
    }
  }

  public void stop() throws Exception {
    server.stop();
  }
}
