package dev.affinity.filter;

import jakarta.servlet.ServletContainerInitializer;
import java.net.URI;
import java.nio.file.Path;
import org.eclipse.jetty.ee11.webapp.WebAppContext;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.resource.ResourceFactory;

/**
 * The Servlet 6.1 container that needs its own code: Jetty's ee11 {@code WebAppContext} is another class
 * than ee10's. Tomcat 11 keeps Tomcat 10.1's embedding API, so jakarta-filter's own
 * {@link ServletContainer.TomcatContainer} starts it (Tomcat 11 is what this module's class path has).
 */
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
}
