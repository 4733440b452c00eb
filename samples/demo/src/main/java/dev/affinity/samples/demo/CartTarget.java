package dev.affinity.samples.demo;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.valves.RemoteIpValve;
import org.apache.tomcat.util.scan.StandardJarScanner;
import org.eclipse.jetty.ee10.webapp.WebAppContext;
import org.eclipse.jetty.server.ForwardedRequestCustomizer;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * One target: the cart WAR in a servlet container on 127.0.0.1. It can be killed (the container
 * stops, connections are refused) and restarted on the same port, as a fresh process would be.
 *
 * <p>Both containers believe the balancer's {@code X-Forwarded-Proto} (and Jetty its {@code Forwarded}),
 * as containers behind a TLS-terminating proxy are set up to: {@code request.isSecure()} then says
 * whether the shopper is on HTTPS, and the filter's cookies get {@code Secure} by it. Only the
 * balancer can send those headers here; the targets listen on loopback.
 */
abstract class CartTarget implements AutoCloseable {
  final String id;
  final Path webapp;
  final String keys;
  private int port;
  private volatile boolean running;

  CartTarget(String id, Path webapp, String keys) {
    this.id = id;
    this.webapp = webapp;
    this.keys = keys;
  }

  static CartTarget jetty(String id, Path webapp, String keys) {
    return new JettyTarget(id, webapp, keys);
  }

  static CartTarget tomcat(String id, Path webapp, String keys, Path workDir) {
    return new TomcatTarget(id, webapp, keys, workDir);
  }

  String id() {
    return id;
  }

  /** {@code "Jetty 12 ee10"} or {@code "Tomcat 10.1"}. */
  abstract String container();

  boolean running() {
    return running;
  }

  URI uri() {
    return URI.create("http://127.0.0.1:" + port);
  }

  synchronized void start() throws Exception {
    if (running) {
      return;
    }
    port = startOn(port);
    running = true;
  }

  synchronized void kill() throws Exception {
    if (!running) {
      return;
    }
    running = false;
    stopNow();
  }

  @Override
  public void close() throws Exception {
    kill();
  }

  /** Starts on {@code port} (0: a free one) and returns the port bound. */
  abstract int startOn(int port) throws Exception;

  abstract void stopNow() throws Exception;

  private static final class JettyTarget extends CartTarget {
    private Server server;

    JettyTarget(String id, Path webapp, String keys) {
      super(id, webapp, keys);
    }

    @Override
    String container() {
      return "Jetty 12 ee10";
    }

    @Override
    int startOn(int port) throws Exception {
      QueuedThreadPool threads = new QueuedThreadPool(32, 2);
      threads.setName(id);
      Server s = new Server(threads);
      HttpConfiguration http = new HttpConfiguration();
      // Cookie values are case-sensitive; Jetty's header cache is not unless told (jakarta-filter/README.md).
      http.setHeaderCacheCaseSensitive(true);
      http.addCustomizer(new ForwardedRequestCustomizer());
      ServerConnector connector = new ServerConnector(s, 1, 1, new HttpConnectionFactory(http));
      connector.setHost("127.0.0.1");
      connector.setPort(port);
      connector.setReuseAddress(true);
      s.addConnector(connector);
      WebAppContext context = new WebAppContext();
      context.setContextPath("/");
      context.setWar(webapp.toString());
      // Parent first: the WAR's SLF4J would otherwise meet the demo's logback through the parent.
      context.setParentLoaderPriority(true);
      context.setThrowUnavailableOnStartupException(true);
      context.addServletContainerInitializer(new TargetIdentity(id, keys));
      s.setHandler(context);
      s.setStopTimeout(0);
      try {
        s.start();
      } catch (Exception e) {
        s.stop();
        throw e;
      }
      server = s;
      return connector.getLocalPort();
    }

    @Override
    void stopNow() throws Exception {
      if (server != null) {
        server.stop();
        server = null;
      }
    }
  }

  private static final class TomcatTarget extends CartTarget {
    private final Path workDir;
    private Tomcat tomcat;

    TomcatTarget(String id, Path webapp, String keys, Path workDir) {
      super(id, webapp, keys);
      this.workDir = workDir;
    }

    @Override
    String container() {
      return "Tomcat 10.1";
    }

    @Override
    int startOn(int port) throws Exception {
      Path base = Files.createDirectories(workDir.resolve(id));
      Tomcat t = new Tomcat();
      t.setBaseDir(base.toString());
      Connector connector = new Connector();
      connector.setPort(port);
      connector.setProperty("address", "127.0.0.1");
      t.setConnector(connector);
      t.getHost().setAutoDeploy(false);
      // Its default internalProxies take loopback, where the balancer connects from.
      RemoteIpValve forwarded = new RemoteIpValve();
      forwarded.setProtocolHeader("X-Forwarded-Proto");
      t.getEngine().getPipeline().addValve(forwarded);
      // No JSP engine here: the default servlet (static files) only, instead of Tomcat's global web.xml.
      t.setAddDefaultWebXmlToWebapp(false);
      Context context = t.addWebapp("", webapp.toString());
      Tomcat.addDefaultMimeTypeMappings(context);
      Wrapper files = Tomcat.addServlet(context, "default", "org.apache.catalina.servlets.DefaultServlet");
      files.setLoadOnStartup(1);
      context.addServletMappingDecoded("/", "default");
      // Parent first, as on Jetty: one SLF4J (the demo's logback) for balancer and targets.
      ((StandardContext) context).setDelegate(true);
      StandardJarScanner scanner = new StandardJarScanner();
      scanner.setScanClassPath(false);
      context.setJarScanner(scanner);
      context.addServletContainerInitializer(new TargetIdentity(id, keys), null);
      t.start();
      if (context.getState() != LifecycleState.STARTED) {
        t.stop();
        t.destroy();
        throw new IllegalStateException(id + ": the cart WAR did not start on Tomcat (" + context.getState() + ")");
      }
      tomcat = t;
      return connector.getLocalPort();
    }

    @Override
    void stopNow() throws Exception {
      if (tomcat != null) {
        tomcat.stop();
        tomcat.destroy();
        tomcat = null;
      }
    }
  }
}
