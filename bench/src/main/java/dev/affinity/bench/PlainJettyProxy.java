package dev.affinity.bench;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The unsticky baseline for {@code bench/compare.sh}: Jetty 12's own {@link ProxyHandler.Reverse}, round robin
 * over fixed targets, no stickiness, no cookies, no health checks. The server is set up like
 * {@code AffinityServer} (200 threads, 32 KB request headers, no Server header) and the upstream
 * client gets the same limits, so that the comparison is not about connector sizes; the client
 * otherwise keeps Jetty's defaults (its own thread pool, a first-idle connection pool), which is
 * what a user of {@code ProxyHandler} starts from.
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar dev.affinity.bench.PlainJettyProxy PORT URI...}
 * (listens on 127.0.0.1 only).
 */
public final class PlainJettyProxy {
  private PlainJettyProxy() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: PlainJettyProxy PORT URI [URI...]   e.g. 8081 http://127.0.0.1:9001 http://127.0.0.1:9002");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    List<String> origins = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      URI uri = URI.create(args[i]);
      if (uri.getScheme() == null || uri.getHost() == null) {
        System.err.println("not an absolute http URI: " + args[i]);
        System.exit(2);
      }
      origins.add(uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort()));
    }
    Server server = start(port, origins);
    System.out.println("PlainJettyProxy listening on http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort()
        + " -> " + origins);
    server.join();
  }

  /** Starts the proxy on 127.0.0.1:{@code port} (0 picks a free port) over the given origins. */
  public static Server start(int port, List<String> origins) throws Exception {
    String[] targets = origins.toArray(String[]::new);
    AtomicLong next = new AtomicLong();
    ProxyHandler.Reverse proxy = new ProxyHandler.Reverse(request -> {
      String origin = targets[(int) Math.floorMod(next.getAndIncrement(), (long) targets.length)];
      String pathQuery = request.getHttpURI().getPathQuery();
      return HttpURI.build(origin).pathQuery(pathQuery == null || pathQuery.isEmpty() ? "/" : pathQuery);
    }) {
      @Override
      protected void configureHttpClient(HttpClient httpClient) {
        super.configureHttpClient(httpClient);
        // Same upstream client settings as AffinityBalancer.
        httpClient.setMaxConnectionsPerDestination(1024);
        httpClient.setRequestBufferSize(32 * 1024);
        httpClient.setResponseBufferSize(32 * 1024);
      }
    };

    QueuedThreadPool threads = new QueuedThreadPool(200);
    threads.setName("plain-proxy");
    Server server = new Server(threads);
    server.setStopAtShutdown(true);
    HttpConfiguration http = new HttpConfiguration();
    http.setRequestHeaderSize(32 * 1024);
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(proxy);
    server.start();
    return server;
  }
}
