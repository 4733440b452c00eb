package dev.affinity.samples.springcart;

import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.jetty.servlet.JettyServletWebServerFactory;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.servlet.ServletWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;

/**
 * The cart as a Spring Boot application. Both Tomcat 11 and Jetty 12 are on the class path; the
 * property {@code cart.server} ({@code tomcat}, the default, or {@code jetty}) picks one at start.
 * Boot's own server properties ({@code server.port}, ...) apply to either: its customizers act on
 * whichever factory is the bean.
 */
@SpringBootApplication
public class SpringCartApplication {
  /** The property that picks the servlet container. */
  public static final String SERVER_PROPERTY = "cart.server";

  public static void main(String[] args) {
    SpringApplication.run(SpringCartApplication.class, args);
  }

  /**
   * The servlet container named by {@code cart.server}. Being a bean, it makes Boot's Tomcat and
   * Jetty auto-configurations back off (each only adds a factory when there is none).
   *
   * @throws IllegalArgumentException for any other value, so that a typo fails the start
   */
  @Bean
  ServletWebServerFactory servletWebServerFactory(Environment environment) {
    String server = environment.getProperty(SERVER_PROPERTY, "tomcat").trim();
    return switch (server) {
      case "tomcat" -> new TomcatServletWebServerFactory();
      case "jetty" -> jetty();
      default -> throw new IllegalArgumentException(
          SERVER_PROPERTY + " must be tomcat or jetty, got \"" + server + "\"");
    };
  }

  private static JettyServletWebServerFactory jetty() {
    JettyServletWebServerFactory jetty = new JettyServletWebServerFactory();
    // Jetty's request header cache matches a new Cookie line against an earlier one ignoring case by
    // default, and sealed cookie values are case-sensitive (jakarta-filter/README.md, "On Jetty").
    jetty.addServerCustomizers(SpringCartApplication::caseSensitiveHeaderCache);
    return jetty;
  }

  static void caseSensitiveHeaderCache(Server server) {
    for (var connector : server.getConnectors()) {
      HttpConnectionFactory http = connector.getConnectionFactory(HttpConnectionFactory.class);
      if (http != null) {
        http.getHttpConfiguration().setHeaderCacheCaseSensitive(true);
      }
    }
  }
}
