package dev.affinity.bench;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * What the Java peers that {@code bench/compare.sh} measures share: their command line and a
 * server set up like {@code AffinityServer} (200 threads, 32 KB request headers, no Server header,
 * 127.0.0.1 only), so that the comparison is not about connector sizes.
 */
final class BenchProxies {
  private BenchProxies() {}

  /** The origins ({@code scheme://host:port}) from {@code PORT URI...}; exits 2 with {@code usage} on bad input. */
  static List<String> origins(String[] args, String usage) {
    if (args.length < 2) {
      System.err.println(usage);
      System.exit(2);
    }
    List<String> origins = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      URI uri = URI.create(args[i]);
      if (uri.getScheme() == null || uri.getHost() == null) {
        System.err.println("not an absolute http URI: " + args[i]);
        System.exit(2);
      }
      origins.add(uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort()));
    }
    return origins;
  }

  /** A server with one connector on 127.0.0.1:{@code port} (0 picks a free port), not started. */
  static Server server(int port, String threadName) {
    QueuedThreadPool threads = new QueuedThreadPool(200);
    threads.setName(threadName);
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
    return server;
  }

  static int port(Server server) {
    return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }
}
