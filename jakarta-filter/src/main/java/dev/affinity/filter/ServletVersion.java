package dev.affinity.filter;

import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Cookie;

/**
 * Refuses a container older than Servlet 6.0 at start-up, where it would otherwise fail at the first
 * cookie ({@code NoSuchMethodError} on {@link Cookie#setAttribute}, new in 6.0).
 */
final class ServletVersion {
  static final String NEEDED = "Affinity's filter needs Servlet 6.0 or later (Jakarta EE 10: Tomcat 10.1+,"
      + " Jetty 12 ee10+)";

  private ServletVersion() {}

  /** Checks the container's own {@code Cookie} class. */
  static void require6(ServletContext context) throws ServletException {
    require6(context, Cookie.class);
  }

  /**
   * The decisive test is whether {@code cookieClass} has {@code setAttribute(String, String)}: that is
   * the 6.0 method the filter calls, and the class the container loaded is what fails or not. The
   * version the context reports only names what the container provides; a descriptor's version
   * ({@code getEffectiveMajorVersion}) says nothing about the container.
   */
  static void require6(ServletContext context, Class<?> cookieClass) throws ServletException {
    try {
      cookieClass.getMethod("setAttribute", String.class, String.class);
    } catch (NoSuchMethodException e) {
      throw new ServletException(NEEDED + "; this container provides Servlet " + provided(context));
    }
  }

  private static String provided(ServletContext context) {
    try {
      return context.getMajorVersion() + "." + context.getMinorVersion() + " (" + context.getServerInfo() + ")";
    } catch (RuntimeException | LinkageError e) {
      return "older than 6.0";
    }
  }
}
