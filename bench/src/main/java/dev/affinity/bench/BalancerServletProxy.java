package dev.affinity.bench;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.ee10.proxy.BalancerServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The Java peer with stickiness for {@code bench/compare.sh}: Jetty 12's ee10
 * {@link BalancerServlet} with {@code stickySessions=true}. Members are named {@code t1}, {@code t2},
 * … in argument order; the servlet routes a request whose {@code JSESSIONID} ends in
 * {@code .t2} to member {@code t2} (the mod_jk "jvmRoute" convention), and round-robins the rest.
 * The server and upstream client are set up like {@code AffinityServer} and
 * {@link PlainJettyProxy} (200 threads, 32 KB headers and buffers, 1024 connections per target).
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar dev.affinity.bench.BalancerServletProxy PORT URI...}
 * (listens on 127.0.0.1 only).
 */
public final class BalancerServletProxy {
  private BalancerServletProxy() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: BalancerServletProxy PORT URI [URI...]   e.g. 8082 http://127.0.0.1:9001 http://127.0.0.1:9002");
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
    System.out.println("BalancerServletProxy listening on http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort()
        + " -> " + origins + " (members t1..t" + origins.size() + ", stickySessions=true)");
    server.join();
  }

  /** Starts the servlet on 127.0.0.1:{@code port} (0 picks a free port) over the given origins. */
  public static Server start(int port, List<String> origins) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(200);
    threads.setName("balancer-servlet");
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

    ServletContextHandler context = new ServletContextHandler("/");
    ServletHolder balancer = new ServletHolder("balancer", BalancerServlet.class);
    for (int i = 0; i < origins.size(); i++) {
      balancer.setInitParameter("balancerMember.t" + (i + 1) + ".proxyTo", origins.get(i));
    }
    balancer.setInitParameter("stickySessions", "true");
    // Same upstream client settings as AffinityBalancer and PlainJettyProxy.
    balancer.setInitParameter("maxConnections", "1024");
    balancer.setInitParameter("requestBufferSize", String.valueOf(32 * 1024));
    balancer.setInitParameter("responseBufferSize", String.valueOf(32 * 1024));
    balancer.setAsyncSupported(true);
    balancer.setInitOrder(1);
    context.addServlet(balancer, "/*");
    server.setHandler(context);
    server.start();
    return server;
  }
}
