package dev.affinity.filter;

import jakarta.servlet.ServletContainerInitializer;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.scan.StandardJarScanner;
import org.eclipse.jetty.ee10.webapp.WebAppContext;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.resource.ResourceFactory;

/** A real servlet container on an ephemeral port of 127.0.0.1, serving one web application directory. */
interface ServletContainer extends AutoCloseable {

  /**
   * Deploys {@code webapp} (and {@code initializer}, when not {@code null}) and starts.
   *
   * @return the application's base URI
   * @throws DeploymentFailed with the container's reason when the application did not start
   */
  URI start(Path webapp, ServletContainerInitializer initializer) throws Exception;

  @Override
  void close();

  /** Thrown when the container started but the application failed to deploy. */
  final class DeploymentFailed extends Exception {
    DeploymentFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  enum Kind {
    JETTY, TOMCAT;

    ServletContainer create() {
      return this == JETTY ? new Jetty() : new TomcatContainer();
    }
  }

  static String messages(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c).append(" | ");
      for (Throwable s : c.getSuppressed()) {
        sb.append(messages(s));
      }
    }
    return sb.toString();
  }

  /** Jetty 12, ee10 {@code WebAppContext}. */
  final class Jetty implements ServletContainer {
    private Server server;

    @Override
    public URI start(Path webapp, ServletContainerInitializer initializer) throws Exception {
      server = new Server();
      // As the module README asks of Jetty users: Jetty's per-connection header cache otherwise matches a
      // Cookie line ignoring case, and hands a request the value of an earlier one differing only in case.
      HttpConfiguration http = new HttpConfiguration();
      http.setHeaderCacheCaseSensitive(true);
      ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
      connector.setHost("127.0.0.1");
      connector.setPort(0);
      server.addConnector(connector);
      WebAppContext context = new WebAppContext();
      context.setContextPath("/");
      context.setBaseResource(ResourceFactory.of(server).newResource(webapp));
      context.setParentLoaderPriority(true);
      context.setThrowUnavailableOnStartupException(true);
      if (initializer != null) {
        context.addServletContainerInitializer(initializer);
      }
      server.setHandler(context);
      try {
        server.start();
      } catch (Exception e) {
        close();
        throw new DeploymentFailed(messages(e), e);
      }
      return URI.create("http://127.0.0.1:" + connector.getLocalPort());
    }

    @Override
    public void close() {
      if (server != null) {
        try {
          server.stop();
        } catch (Exception e) {
          throw new IllegalStateException("stopping Jetty failed", e);
        }
      }
    }
  }

  /**
   * Embedded Tomcat with the web application's own {@code web.xml} and no global defaults: Tomcat 10.1
   * here, Tomcat 11 in jakarta-filter-servlet61 (the embedding API is the same).
   */
  final class TomcatContainer implements ServletContainer {
    private Tomcat tomcat;

    @Override
    public URI start(Path webapp, ServletContainerInitializer initializer) throws Exception {
      Path base = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "tomcat-");
      tomcat = new Tomcat();
      tomcat.setBaseDir(base.toString());
      Connector connector = new Connector();
      connector.setPort(0);
      connector.setProperty("address", "127.0.0.1");
      tomcat.setConnector(connector);
      tomcat.getHost().setAutoDeploy(false);
      tomcat.setAddDefaultWebXmlToWebapp(false);
      Context context = tomcat.addWebapp("", webapp.toAbsolutePath().toString());
      StandardJarScanner scanner = new StandardJarScanner();
      scanner.setScanClassPath(false);
      context.setJarScanner(scanner);
      // Weld Servlet is on the test class path for the Jetty CDI test; keep it out of Tomcat's tests.
      context.setContainerSciFilter("org\\.jboss\\.weld\\..*");
      if (initializer != null) {
        context.addServletContainerInitializer(initializer, null);
      }
      List<String> failures = new ArrayList<>();
      Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
          if (record.getThrown() != null) {
            synchronized (failures) {
              failures.add(record.getMessage() + ": " + messages(record.getThrown()));
            }
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };
      java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
      root.addHandler(capture);
      try {
        tomcat.start();
      } finally {
        root.removeHandler(capture);
      }
      if (context.getState() != LifecycleState.STARTED) {
        close();
        throw new DeploymentFailed("context " + context.getState() + ": " + String.join(" || ", failures), null);
      }
      return URI.create("http://127.0.0.1:" + connector.getLocalPort());
    }

    @Override
    public void close() {
      if (tomcat != null) {
        try {
          tomcat.stop();
          tomcat.destroy();
        } catch (Exception e) {
          throw new IllegalStateException("stopping Tomcat failed", e);
        } finally {
          tomcat = null;
        }
      }
    }

  }
}
