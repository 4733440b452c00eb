package dev.affinity.filter;

import jakarta.servlet.ServletContainerInitializer;
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
import org.eclipse.jetty.ee11.webapp.WebAppContext;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.resource.ResourceFactory;

/** The Servlet 6.1 containers, started as jakarta-filter's {@link ServletContainer}s start theirs. */
final class Servlet61Containers {
  private Servlet61Containers() {}

  /** Jetty 12, ee11 {@code WebAppContext}. */
  static final class JettyEe11 implements ServletContainer {
    private Server server;

    @Override
    public URI start(Path webapp, ServletContainerInitializer initializer) throws Exception {
      server = new Server();
      // The module README's advice to Jetty users (FilterContractTest.aValueDifferingOnlyInCaseIsAnotherValue).
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
        throw new DeploymentFailed(ServletContainer.messages(e), e);
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

  /** Embedded Tomcat 11 with the web application's own {@code web.xml} and no global defaults. */
  static final class Tomcat11 implements ServletContainer {
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
      if (initializer != null) {
        context.addServletContainerInitializer(initializer, null);
      }
      // Tomcat logs a failed deployment instead of throwing it: collect what it logs with a cause.
      List<String> failures = new ArrayList<>();
      Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
          if (record.getThrown() != null) {
            synchronized (failures) {
              failures.add(record.getMessage() + ": " + ServletContainer.messages(record.getThrown()));
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
