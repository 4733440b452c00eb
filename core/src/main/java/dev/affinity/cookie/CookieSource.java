package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * The cookies a request carried, by name, as the container parsed them. Adapters wrap Jetty's or the
 * Servlet API's parsed cookies; core never parses a {@code Cookie} header itself.
 */
@FunctionalInterface
public interface CookieSource {

  /** The value of the first cookie called {@code name}, or {@code null} when there is none. */
  String value(String name);

  static CookieSource of(Map<String, String> cookies) {
    requireNonNull(cookies, "cookies");
    return cookies::get;
  }

  static CookieSource empty() {
    return name -> null;
  }
}
