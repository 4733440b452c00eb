package dev.affinity.spring;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Keyring;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A plain JDK client for the tests' app on its random port (the same code on Boot 3 and 4, whose
 * test clients moved), and core's reading of the route cookie, as the balancer does it.
 */
final class Http {
  /** The keyring of src/test/resources/application.yml. */
  static final String SECRET = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
  static final String KEYS = "k1:" + SECRET;

  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final int port;

  Http(int port) {
    this.port = port;
  }

  HttpResponse<String> get(String path, String... headers) {
    return send("GET", path, headers);
  }

  HttpResponse<String> post(String path, String... headers) {
    return send("POST", path, headers);
  }

  HttpResponse<String> send(String method, String path, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (headers.length > 0) {
      b.headers(headers);
    }
    try {
      return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new AssertionError(method + " " + path + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** The Set-Cookie header for {@code name}, if the response has one. */
  static Optional<String> setCookie(HttpResponse<?> response, String name) {
    List<String> all = response.headers().allValues("Set-Cookie");
    return all.stream().filter(h -> h.startsWith(name + "=")).findFirst();
  }

  /** The value part of a Set-Cookie header. */
  static String value(String setCookie) {
    int eq = setCookie.indexOf('=');
    int semi = setCookie.indexOf(';');
    return setCookie.substring(eq + 1, semi < 0 ? setCookie.length() : semi);
  }

  /** Opens a route cookie value with the shared keyring, as the balancer does. */
  static Optional<AffinityTicket> openRoute(String value) {
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.parse(KEYS)).build(), CookiePolicy.defaults());
    String name = cookies.names().route();
    return cookies.read(n -> n.equals(name) ? value : null, name);
  }
}
