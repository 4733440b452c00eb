package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Cookie;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

class ServletVersionTest {
  /** Servlet 5.0's {@code Cookie}: everything but {@code setAttribute}. */
  static final class Servlet5Cookie {
    public void setHttpOnly(boolean httpOnly) {}
  }

  /** A context answering only what the check asks: the container's Servlet version and name. */
  static ServletContext context(int major, int minor, String serverInfo) {
    return (ServletContext) Proxy.newProxyInstance(ServletVersionTest.class.getClassLoader(),
        new Class<?>[] {ServletContext.class}, (proxy, method, args) -> switch (method.getName()) {
          case "getMajorVersion" -> major;
          case "getMinorVersion" -> minor;
          case "getServerInfo" -> serverInfo;
          default -> throw new UnsupportedOperationException(method.getName());
        });
  }

  @Test
  void aServlet5ContainerIsRefusedWithTheVersionNeededAndTheVersionFound() {
    assertThatThrownBy(() -> ServletVersion.require6(context(5, 0, "Apache Tomcat/10.0.27"), Servlet5Cookie.class))
        .isInstanceOf(ServletException.class)
        .hasMessage("Affinity's filter needs Servlet 6.0 or later (Jakarta EE 10: Tomcat 10.1+, Jetty 12 ee10+);"
            + " this container provides Servlet 5.0 (Apache Tomcat/10.0.27)")
        .hasNoCause();
  }

  @Test
  void theCookieClassDecidesNotTheReportedVersion() {
    // A container reporting 6.0 whose Cookie lacks setAttribute would still fail at the first cookie.
    assertThatThrownBy(() -> ServletVersion.require6(context(6, 0, "odd"), Servlet5Cookie.class))
        .isInstanceOf(ServletException.class).hasMessageContaining("provides Servlet 6.0 (odd)");
    assertThatCode(() -> ServletVersion.require6(context(6, 1, "Apache Tomcat/11.0.27"), Cookie.class))
        .doesNotThrowAnyException();
  }

  @Test
  void theContainersOwnCookieClassPasses() {
    assertThatCode(() -> ServletVersion.require6(context(6, 0, "Jetty"))).doesNotThrowAnyException();
  }
}
