package dev.affinity.jetty;

import dev.affinity.cookie.CookieSource;
import java.net.HttpCookie;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpHeader;

/**
 * One browser: a cookie jar applied to a shared Jetty {@link HttpClient}, so a test can have many
 * clients without one HttpClient each. It keeps cookies the way a browser does (replace by name,
 * forget on {@code Max-Age=0}) and lets tests put arbitrary cookie values in the jar.
 */
public final class UserAgent implements CookieSource {
  private final HttpClient http;
  private final URI base;
  final Map<String, String> jar = new LinkedHashMap<>();
  List<HttpCookie> lastSetCookies = List.of();
  List<String> lastSetCookieHeaders = List.of();

  public UserAgent(HttpClient http, URI base) {
    this.http = http;
    this.base = base;
  }

  public ContentResponse get(String path) throws Exception {
    return send(http.newRequest(base.resolve(path)));
  }

  ContentResponse send(Request request) throws Exception {
    if (!jar.isEmpty()) {
      String cookieHeader = jar.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; "));
      request.headers(h -> h.put(HttpHeader.COOKIE, cookieHeader));
    }
    ContentResponse response = request.timeout(20, TimeUnit.SECONDS).send();
    lastSetCookieHeaders = response.getHeaders().getValuesList(HttpHeader.SET_COOKIE);
    lastSetCookies = lastSetCookieHeaders.stream().flatMap(v -> HttpCookie.parse("Set-Cookie: " + v).stream()).toList();
    for (HttpCookie c : lastSetCookies) {
      if (c.getMaxAge() == 0) {
        jar.remove(c.getName());
      } else {
        jar.put(c.getName(), c.getValue());
      }
    }
    return response;
  }

  /** The Set-Cookie header the last response carried for {@code name}, or null. */
  String setCookieHeader(String name) {
    return lastSetCookieHeaders.stream().filter(v -> v.startsWith(name + "=")).findFirst().orElse(null);
  }

  @Override
  public String value(String name) {
    return jar.get(name);
  }
}
