package dev.affinity.bench;

import java.util.List;
import org.eclipse.jetty.ee10.proxy.BalancerServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;

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
    List<String> origins = BenchProxies.origins(args, "usage: BalancerServletProxy PORT URI [URI...]   e.g. 8082 http://127.0.0.1:9001 http://127.0.0.1:9002");
    int port = Integer.parseInt(args[0]);
    Server server = start(port, origins);
    System.out.println("BalancerServletProxy listening on http://127.0.0.1:" + BenchProxies.port(server)
        + " -> " + origins + " (members t1..t" + origins.size() + ", stickySessions=true)");
    server.join();
  }

  /** Starts the servlet on 127.0.0.1:{@code port} (0 picks a free port) over the given origins. */
  public static Server start(int port, List<String> origins) throws Exception {
    Server server = BenchProxies.server(port, "balancer-servlet");

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
