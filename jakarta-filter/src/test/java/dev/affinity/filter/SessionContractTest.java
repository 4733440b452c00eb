package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.session.redis.RedisProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The filter's own HttpSession (cookie and redis mode) on Jetty 12 ee10 and Tomcat 10.1, over real
 * sockets: limits, forged cookies, the class allow-list, ids, rotation on pin, invalidation.
 */
class SessionContractTest {
  private static RedisProcess redis;
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void startRedis() throws Exception {
    redis = RedisProcess.start();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    if (redis != null) {
      redis.close();
    }
  }

  static List<Arguments> cases() {
    return List.of(Arguments.of(ServletContainer.Kind.JETTY, "cookie"), Arguments.of(ServletContainer.Kind.TOMCAT, "cookie"),
        Arguments.of(ServletContainer.Kind.JETTY, "redis"), Arguments.of(ServletContainer.Kind.TOMCAT, "redis"));
  }

  /** A tiny browser: keeps the cookies the responses set (by name), sends them back. */
  static final class Browser {
    final URI base;
    final Map<String, String> cookies = new java.util.LinkedHashMap<>();

    Browser(URI base) {
      this.base = base;
    }

    HttpResponse<String> get(String path) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10));
      if (!cookies.isEmpty()) {
        b.header("Cookie", cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining("; ")));
      }
      HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
      for (String set : r.headers().allValues("Set-Cookie")) {
        String pair = set.substring(0, set.indexOf(';') < 0 ? set.length() : set.indexOf(';'));
        String name = pair.substring(0, pair.indexOf('='));
        String value = pair.substring(pair.indexOf('=') + 1);
        boolean removal = set.contains("Max-Age=0");
        if (removal || value.isEmpty()) {
          cookies.remove(name);
        } else {
          cookies.put(name, value);
        }
      }
      return r;
    }

    String ok(String path) throws Exception {
      HttpResponse<String> r = get(path);
      assertThat(r.statusCode()).as("%s: %s", path, r.body()).isEqualTo(200);
      return r.body();
    }
  }

  static String field(String body, String name) {
    int at = body.indexOf(name + "=");
    int end = body.indexOf(' ', at);
    return body.substring(at + name.length() + 1, end < 0 ? body.length() : end);
  }

  @ParameterizedTest(name = "{0} sessionMode={1}")
  @MethodSource("cases")
  void behavesAsTheServletSpecSays(ServletContainer.Kind kind, String mode) throws Exception {
    Map<String, String> params = TestWebapp.standardParams();
    params.put("sessionMode", mode);
    params.put("rotateSessionOnPin", "true");
    if (mode.equals("redis")) {
      params.put("redisUri", redis.uri());
      params.put("sessionMaxBytes", "8192");
    }
    try (ServletContainer container = kind.create()) {
      URI uri = container.start(TestWebapp.write(params), null);
      Browser browser = new Browser(uri);
      assertThat(browser.ok("/cart/list")).startsWith("target=app-1 items=0 id=- new=false");
      assertThat(browser.cookies).doesNotContainKey("AFFINITYSESSION");

      String first = browser.ok("/cart/add?item=1");
      assertThat(first).contains("items=1").contains("new=true");
      String id = field(first, "id");
      assertThat(browser.cookies).containsKey("AFFINITYSESSION").doesNotContainKey("JSESSIONID");
      assertThat(browser.ok("/cart/info")).contains("id=" + id + " new=false requested=" + id + " valid=true");

      // Over the limit: IllegalStateException naming the limit and the size; the session is unchanged.
      HttpResponse<String> big = browser.get("/cart/big?bytes=" + (mode.equals("redis") ? 9000 : 20000));
      assertThat(big.statusCode()).isEqualTo(413);
      assertThat(big.body()).contains("sessionMaxBytes=" + (mode.equals("redis") ? 8192 : 16384))
          .containsPattern("\"big\" would make the (sealed AFFINITYSESSION cookie|stored session) \\d+ bytes");
      assertThat(browser.ok("/cart/list")).contains("items=1 id=" + id);

      // A class that is not on the allow-list is refused when set.
      HttpResponse<String> evil = browser.get("/cart/evil");
      assertThat(evil.statusCode()).isEqualTo(400);
      assertThat(evil.body()).contains(TestServlets.NotAllowed.class.getName()).contains("sessionAllowedClasses");

      // changeSessionId keeps the attributes under a new id; the old id no longer works.
      String oldCookie = browser.cookies.get("AFFINITYSESSION");
      String rotated = browser.ok("/cart/rotate");
      String newId = field(rotated, "changed");
      assertThat(newId).isNotEqualTo(id);
      assertThat(browser.ok("/cart/list")).contains("items=1 id=" + newId);
      if (mode.equals("redis")) {
        Browser replay = new Browser(uri);
        replay.cookies.put("AFFINITYSESSION", oldCookie);
        assertThat(replay.ok("/cart/info")).contains("items=0 id=- ").contains("valid=false");
      }

      // rotateSessionOnPin: Affinity.pin() changes the id too.
      browser.ok("/pin");
      String afterPin = browser.ok("/cart/list");
      assertThat(field(afterPin, "id")).isNotEqualTo(newId);
      assertThat(afterPin).contains("items=1");

      // A forged or foreign session cookie is absent: a new session, 200.
      Browser forger = new Browser(uri);
      forger.cookies.put("AFFINITYSESSION", browser.cookies.get("AFFINITYSESSION").substring(0, 40) + "AAAA");
      assertThat(forger.ok("/cart/info")).contains("items=0 id=- new=false requested=null valid=false");
      String fresh = forger.ok("/cart/add?item=9");
      assertThat(fresh).contains("items=1").contains("new=true");

      // invalidate() expires the cookie; the next request has no session.
      assertThat(browser.ok("/cart/invalidate")).isEqualTo("invalidated");
      assertThat(browser.cookies).doesNotContainKey("AFFINITYSESSION");
      assertThat(browser.ok("/cart/list")).contains("items=0 id=-");
    }
  }

  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.EnumSource(ServletContainer.Kind.class)
  void rotateSessionOnPinChangesTheContainersSessionIdToo(ServletContainer.Kind kind) throws Exception {
    Map<String, String> params = TestWebapp.standardParams();
    params.put("rotateSessionOnPin", "true");
    params.put("pinOnSessionCreate", "false");
    try (ServletContainer container = kind.create()) {
      Browser browser = new Browser(container.start(TestWebapp.write(params), null));
      browser.ok("/session");
      String before = browser.cookies.get("JSESSIONID");
      assertThat(before).isNotNull();
      assertThat(browser.cookies).doesNotContainKey("AFFINITYSESSION");
      browser.ok("/pin");
      assertThat(browser.cookies.get("JSESSIONID")).isNotNull().isNotEqualTo(before);
      assertThat(browser.ok("/session")).startsWith("session new=false");
    }
  }
}
