package dev.affinity.bench;

import dev.affinity.filter.AffinityFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Two identical hello-world servlets in one Jetty ee10 server, on two ports: one behind
 * {@link AffinityFilter}, one without. {@code bench/filter-overhead.sh} loads both alternately with
 * wrk to measure what the filter costs per request.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.affinity.bench.FilterOverhead PLAIN_PORT FILTERED_PORT KEYS</pre>
 */
public final class FilterOverhead {
  private FilterOverhead() {}

  /** Answers a fixed small body, as a hello-world application would. */
  public static final class Hello extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      if ("pin".equals(req.getQueryString())) {
        // Once, to hand the load generator a real route cookie that the filter then opens on every request.
        dev.affinity.filter.Affinity.current(req).pin();
      }
      resp.setContentType("text/plain");
      resp.getWriter().print("hello\n");
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: FilterOverhead PLAIN_PORT FILTERED_PORT KEYS");
      System.exit(64);
    }
    Server server = new Server();
    ServerConnector plain = connector(server, Integer.parseInt(args[0]), "plain");
    ServerConnector filtered = connector(server, Integer.parseInt(args[1]), "filtered");
    org.eclipse.jetty.server.Handler.Sequence contexts = new org.eclipse.jetty.server.Handler.Sequence(
        context("plain", null), context("filtered", args[2]));
    server.setHandler(contexts);
    server.start();
    System.out.println("plain http://127.0.0.1:" + plain.getLocalPort() + "/  filtered http://127.0.0.1:" + filtered.getLocalPort() + "/");
    System.out.flush();
    server.join();
  }

  private static ServerConnector connector(Server server, int port, String name) {
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    connector.setName(name);
    server.addConnector(connector);
    return connector;
  }

  private static ServletContextHandler context(String connectorName, String keys) {
    ServletContextHandler context = new ServletContextHandler("/");
    context.setVirtualHosts(java.util.List.of("@" + connectorName));
    context.addServlet(new ServletHolder(new Hello()), "/*");
    if (keys != null) {
      FilterHolder filter = new FilterHolder(AffinityFilter.class);
      filter.setInitParameter("targetId", "bench-1");
      filter.setInitParameter("keys", keys);
      filter.setAsyncSupported(true);
      context.addFilter(filter, "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    return context;
  }
}
