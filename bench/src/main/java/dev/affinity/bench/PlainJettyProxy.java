package dev.affinity.bench;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.Server;

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
    List<String> origins = BenchProxies.origins(args, "usage: PlainJettyProxy PORT URI [URI...]   e.g. 8081 http://127.0.0.1:9001 http://127.0.0.1:9002");
    int port = Integer.parseInt(args[0]);
    Server server = start(port, origins);
    System.out.println("PlainJettyProxy listening on http://127.0.0.1:" + BenchProxies.port(server)
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

    Server server = BenchProxies.server(port, "plain-proxy");
    server.setHandler(proxy);
    server.start();
    return server;
  }
}
