package dev.affinity.standalone;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Small Jetty servers on loopback for the demo: each says which target it is and how many requests
 * it has served, so stickiness can be watched with curl.
 */
final class DemoTargets implements AutoCloseable {
  private final List<Server> servers = new ArrayList<>();
  private final List<URI> uris = new ArrayList<>();

  static DemoTargets start(int count) throws Exception {
    DemoTargets targets = new DemoTargets();
    for (int i = 1; i <= count; i++) {
      targets.startOne("target-" + i);
    }
    return targets;
  }

  private void startOne(String id) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(32, 2);
    threads.setName(id);
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    AtomicLong served = new AtomicLong();
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
        response.getHeaders().put("X-Target", id);
        if (path.equals("/health")) {
          Content.Sink.write(response, true, "ok\n", callback);
          return true;
        }
        long n = served.incrementAndGet();
        String previous = request.getHeaders().get("X-Affinity-Previous-Target");
        String body = "Hello from " + id + " (request #" + n + " here)"
            + (previous == null ? "" : ", failed over from " + previous) + "\n";
        Content.Sink.write(response, true, body, callback);
        return true;
      }
    });
    server.start();
    servers.add(server);
    uris.add(URI.create("http://127.0.0.1:" + connector.getLocalPort()));
  }

  List<URI> uris() {
    return uris;
  }

  @Override
  public void close() throws Exception {
    for (Server server : servers) {
      server.stop();
    }
  }
}
