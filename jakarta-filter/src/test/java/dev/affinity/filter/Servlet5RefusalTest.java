package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.route.RouteCookies;
import dev.affinity.session.SessionSettings;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The filter on the real Servlet 5.0 API (jakarta.servlet-api 5.0.0, what Tomcat 10.0 and Jetty 11
 * implement), in a class loader that sees no other Servlet API: init must refuse, naming the version.
 */
class Servlet5RefusalTest {
  private static final Path API5 = Path.of("target", "servlet5", "jakarta.servlet-api-5.jar");

  @Test
  void filterInitAndInitializerRefuseServlet5() throws Exception {
    assertThat(API5).as("copied by maven-dependency-plugin").exists();
    try (URLClassLoader loader = new URLClassLoader(new URL[] {
        API5.toUri().toURL(), codeOf(AffinityFilter.class), codeOf(RouteCookies.class),
        codeOf(SessionSettings.class), codeOf(LoggerFactory.class), codeOf(Servlet5RefusalTest.class)}, ClassLoader.getPlatformClassLoader())) {
      Class<?> cookie = loader.loadClass("jakarta.servlet.http.Cookie");
      assertThat(cookie.getMethods()).noneMatch(m -> m.getName().equals("setAttribute"));

      Class<?> contextType = loader.loadClass("jakarta.servlet.ServletContext");
      Object context = Proxy.newProxyInstance(loader, new Class<?>[] {contextType}, (p, m, a) -> switch (m.getName()) {
        case "getMajorVersion" -> 5;
        case "getMinorVersion" -> 0;
        case "getServerInfo" -> "Apache Tomcat/10.0.27";
        case "getClassLoader" -> loader;
        default -> throw new UnsupportedOperationException(m.getName());
      });
      Class<?> configType = loader.loadClass("jakarta.servlet.FilterConfig");
      Object config = Proxy.newProxyInstance(loader, new Class<?>[] {configType}, (p, m, a) -> switch (m.getName()) {
        case "getServletContext" -> context;
        case "getFilterName" -> "affinity";
        case "getInitParameterNames" -> Collections.emptyEnumeration();
        default -> null;
      });
      String expected = "Affinity's filter needs Servlet 6.0 or later (Jakarta EE 10: Tomcat 10.1+, Jetty 12 ee10+);"
          + " this container provides Servlet 5.0 (Apache Tomcat/10.0.27)";

      Object filter = loader.loadClass(AffinityFilter.class.getName()).getConstructor().newInstance();
      Method init = filter.getClass().getMethod("init", configType);
      assertThatThrownBy(() -> unwrap(() -> init.invoke(filter, config)))
          .satisfies(e -> assertThat(e.getClass().getName()).isEqualTo("jakarta.servlet.ServletException"))
          .hasMessage(expected);

      // The initializer refuses when it has a filter to register (a properties file on the path).
      var constructor = loader.loadClass(AffinityInitializer.class.getName()).getDeclaredConstructor(String.class);
      constructor.setAccessible(true);
      Object initializer = constructor.newInstance("affinity-test.properties");
      Method onStartup = initializer.getClass().getMethod("onStartup", java.util.Set.class, contextType);
      assertThat(loader.getResource("affinity-test.properties")).isNotNull();
      assertThatThrownBy(() -> unwrap(() -> onStartup.invoke(initializer, java.util.Set.of(), context)))
          .satisfies(e -> assertThat(e.getClass().getName()).isEqualTo("jakarta.servlet.ServletException"))
          .hasMessage(expected);
    }
  }

  private static URL codeOf(Class<?> type) {
    return type.getProtectionDomain().getCodeSource().getLocation();
  }

  interface Call {
    Object run() throws Exception;
  }

  private static Object unwrap(Call call) throws Throwable {
    try {
      return call.run();
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
