package dev.affinity.samples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import java.net.CookieManager;
import java.net.HttpCookie;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One shopper with a cookie jar, talking to the shop's JSON API; reads the few fields tests need. */
final class ShopClient {
  private final URI base;
  private final CookieManager cookies = new CookieManager();
  private final HttpClient http;

  ShopClient(URI base) {
    this.base = base;
    this.http = HttpClient.newBuilder().cookieHandler(cookies).build();
  }

  HttpResponse<String> send(String method, String path, String form, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path));
    if (headers.length > 0) {
      request.headers(headers);
    }
    if (form != null) {
      request.header("Content-Type", "application/x-www-form-urlencoded");
    }
    request.method(method, form == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(form));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** {@code GET /api/cart} (or a change by {@code POST}), which must answer 200. */
  Cart cart() throws Exception {
    return ok(send("GET", "/api/cart", null));
  }

  Cart add(String sku) throws Exception {
    return ok(send("POST", "/api/cart", "action=add&sku=" + sku));
  }

  private static Cart ok(HttpResponse<String> response) {
    assertThat(response.statusCode()).as("%s: %s", response.uri(), response.body()).isEqualTo(200);
    return new Cart(response.body());
  }

  /** The route cookie in the jar, opened with {@code keys}. */
  Optional<AffinityTicket> routeTicket(String keys) {
    Map<String, String> jar = new HashMap<>();
    for (HttpCookie c : cookies.getCookieStore().getCookies()) {
      jar.put(c.getName(), c.getValue());
    }
    AffinityCookies codec = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.parse(keys)).build(), CookiePolicy.defaults());
    return codec.read(CookieSource.of(jar), codec.names().route());
  }

  /** The cart servlet's JSON answer. */
  record Cart(String json) {
    String field(String name) {
      Matcher m = Pattern.compile("\"" + name + "\":(\"([^\"]*)\"|[^,}\\]]+)").matcher(json);
      if (!m.find()) {
        throw new AssertionError("no " + name + " in " + json);
      }
      return m.group(2) != null ? m.group(2) : m.group(1);
    }

    String target() {
      return field("target");
    }

    String pinnedTarget() {
      return field("pinnedTarget");
    }

    String failedOverFrom() {
      return field("failedOverFrom");
    }

    boolean failedOverNow() {
      return Boolean.parseBoolean(field("failedOverNow"));
    }

    int count() {
      return Integer.parseInt(field("count"));
    }

    String sessionMode() {
      return field("sessionMode");
    }
  }
}
