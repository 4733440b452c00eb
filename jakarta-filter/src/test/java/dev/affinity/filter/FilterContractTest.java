package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SetCookie;
import dev.affinity.route.RouteCookies;
import dev.affinity.route.RoutePin;
import dev.affinity.route.RouteSettings;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the filter promises, over real sockets. Each container runs it through a subclass that
 * registers a {@link ContainerExtension}.
 */
abstract class FilterContractTest {
  static final AffinityCookies OPENER =
      AffinityCookies.of(AffinityCookieCodec.builder().keyring(TestWebapp.KEYRING).build(), CookiePolicy.defaults());

  abstract ContainerExtension server();

  /** One {@code Set-Cookie} as the client received it; attribute names in lower case. */
  record Cookie(String name, String value, Map<String, String> attributes) {
    /** {@code Max-Age=0}, which Jetty renders as an {@code Expires} in 1970 instead. */
    boolean isRemoval() {
      return "0".equals(attributes.get("max-age"))
          || (!attributes.containsKey("max-age") && attributes.getOrDefault("expires", "").contains("1970"));
    }

    long maxAge() {
      return Long.parseLong(attributes.getOrDefault("max-age", "-1"));
    }
  }

  static List<Cookie> setCookies(HttpResponse<?> response) {
    List<Cookie> out = new ArrayList<>();
    for (String header : response.headers().allValues("set-cookie")) {
      String[] parts = header.split(";");
      int eq = parts[0].indexOf('=');
      Map<String, String> attributes = new LinkedHashMap<>();
      for (int i = 1; i < parts.length; i++) {
        String part = parts[i].trim();
        int aeq = part.indexOf('=');
        attributes.put((aeq < 0 ? part : part.substring(0, aeq)).toLowerCase(Locale.ROOT),
            aeq < 0 ? "" : part.substring(aeq + 1));
      }
      out.add(new Cookie(parts[0].substring(0, eq).trim(), parts[0].substring(eq + 1).trim(), attributes));
    }
    return out;
  }

  static Map<String, Cookie> byName(HttpResponse<?> response) {
    return setCookies(response).stream().collect(Collectors.toMap(Cookie::name, c -> c, (a, b) -> b, LinkedHashMap::new));
  }

  /** The route ticket the response set, opened with the shared keyring. */
  static Optional<AffinityTicket> routeTicket(HttpResponse<?> response) {
    Map<String, String> jar = new LinkedHashMap<>();
    for (Cookie c : setCookies(response)) {
      if (!c.isRemoval()) {
        jar.put(c.name(), c.value());
      }
    }
    return OPENER.read(CookieSource.of(jar), "AFFINITYROUTE");
  }

  /** {@code Cookie} header value with the response's live cookies, as a browser would send them. */
  static String cookieHeader(HttpResponse<?> response) {
    return setCookies(response).stream().filter(c -> !c.isRemoval())
        .map(c -> c.name() + "=" + c.value()).collect(Collectors.joining("; "));
  }

  /** A route cookie another target (sharing the keyring) issued. */
  static String routeCookieOf(String targetId, Keyring keyring) {
    RoutePin pin = RouteCookies.of(RouteSettings.builder().targetId(targetId).keyring(keyring).build())
        .begin(CookieSource.empty(), false, null);
    pin.pin();
    SetCookie c = pin.cookies().get(0);
    return c.name() + "=" + c.value();
  }

  private void assertPinnedHere(HttpResponse<?> response) {
    assertThat(routeTicket(response)).as("route cookie in %s", response.headers().allValues("set-cookie"))
        .hasValueSatisfying(t -> {
          assertThat(t.targetId()).isEqualTo("app-1");
          assertThat(t.targetGroup()).isEqualTo("blue");
        });
  }

  @Test
  void pinIssuesSealedRouteCookieAndCorsCompanion() throws Exception {
    HttpResponse<String> response = server().get("/pin");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("pinned to app-1");
    Map<String, Cookie> cookies = byName(response);
    assertThat(cookies).containsOnlyKeys("AFFINITYROUTE", "AFFINITYROUTECORS");

    Cookie plain = cookies.get("AFFINITYROUTE");
    assertThat(plain.attributes()).containsEntry("path", "/").containsKey("httponly").doesNotContainKey("secure");
    assertThat(plain.attributes().get("samesite")).isEqualToIgnoringCase("Lax");
    assertThat(plain.maxAge()).isBetween(1190L, 1200L);
    assertThat(plain.attributes()).containsKey("expires");

    Cookie cors = cookies.get("AFFINITYROUTECORS");
    assertThat(cors.value()).isEqualTo(plain.value());
    assertThat(cors.attributes()).containsKey("secure").containsKey("httponly");
    assertThat(cors.attributes().get("samesite")).isEqualToIgnoringCase("None");

    AffinityTicket ticket = routeTicket(response).orElseThrow();
    assertThat(ticket.targetId()).isEqualTo("app-1");
    assertThat(ticket.targetGroup()).isEqualTo("blue");
    assertThat(Duration.between(Instant.now(), ticket.expiresAt())).isBetween(Duration.ofMinutes(19), Duration.ofMinutes(20));
  }

  @Test
  void pinWithDurationAndMoveTo() throws Exception {
    HttpResponse<String> five = server().get("/pin?duration=PT5M");
    assertThat(byName(five).get("AFFINITYROUTE").maxAge()).isBetween(295L, 300L);

    HttpResponse<String> moved = server().get("/pin?to=app-2");
    assertThat(moved.body()).isEqualTo("pinned to app-2");
    assertThat(routeTicket(moved)).map(AffinityTicket::targetId).contains("app-2");
  }

  @Test
  void pinnedTargetComesFromTheIncomingCookie() throws Exception {
    HttpResponse<String> pinned = server().get("/pin");
    HttpResponse<String> next = server().get("/whoami", "Cookie", cookieHeader(pinned));
    assertThat(next.statusCode()).isEqualTo(200);
    assertThat(next.body()).startsWith("target=app-1 pinned=app-1 previous=-");
    assertThat(setCookies(next)).as("nothing decided, nothing set").isEmpty();

    HttpResponse<String> corsOnly = server().get("/whoami",
        "Cookie", "AFFINITYROUTECORS=" + byName(pinned).get("AFFINITYROUTECORS").value());
    assertThat(corsOnly.body()).contains("pinned=app-1");
  }

  @Test
  void releaseExpiresBothCookies() throws Exception {
    HttpResponse<String> pinned = server().get("/pin");
    HttpResponse<String> released = server().get("/release", "Cookie", cookieHeader(pinned));
    assertThat(released.statusCode()).isEqualTo(200);
    Map<String, Cookie> cookies = byName(released);
    assertThat(cookies).containsOnlyKeys("AFFINITYROUTE", "AFFINITYROUTECORS");
    assertThat(cookies.values()).allSatisfy(c -> {
      assertThat(c.isRemoval()).as("%s", c).isTrue();
      assertThat(c.value()).isEmpty();
    });
  }

  @Test
  void redirectCarriesTheCookie() throws Exception {
    HttpResponse<String> response = server().get("/redirect");
    assertThat(response.statusCode()).isEqualTo(302);
    assertThat(response.headers().firstValue("location")).hasValueSatisfying(l -> assertThat(l).endsWith("/whoami"));
    assertPinnedHere(response);
  }

  @ParameterizedTest
  @ValueSource(strings = {"flush", "stream", "writer", "length", "late"})
  void everyCommitPathCarriesTheCookie(String mode) throws Exception {
    HttpResponse<String> response = server().get("/flush?mode=" + mode);
    assertThat(response.statusCode()).isEqualTo(200);
    assertPinnedHere(response);
    if (mode.equals("stream") || mode.equals("writer")) {
      assertThat(response.body()).hasSize(TestServlets.BIG);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"complete", "bare", "dispatch"})
  void asyncCarriesThePinMadeOnAnotherThread(String mode) throws Exception {
    HttpResponse<String> response = server().get("/async?mode=" + mode);
    assertThat(response.statusCode()).isEqualTo(200);
    assertPinnedHere(response);
    assertThat(byName(response).get("AFFINITYROUTE").maxAge()).isBetween(295L, 300L);
    if (mode.equals("dispatch")) {
      assertThat(response.body()).contains("pinned=app-1").contains("dispatch=ASYNC");
    } else if (mode.equals("complete")) {
      assertThat(response.body()).isEqualTo("async app-1");
    }
  }

  @Test
  void sendErrorCarriesTheCookieThroughTheErrorPage() throws Exception {
    HttpResponse<String> response = server().get("/error?mode=send");
    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(response.body()).contains("error page 503");
    assertPinnedHere(response);
    assertThat(setCookies(response).stream().filter(c -> c.name().equals("AFFINITYROUTE")))
        .as("written once").hasSize(1);
  }

  @Test
  void exceptionCarriesTheCookieThroughTheErrorPage() throws Exception {
    HttpResponse<String> response = server().get("/error?mode=throw");
    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(response.body()).contains("error page 500");
    assertPinnedHere(response);
  }

  @Test
  void creatingASessionPins() throws Exception {
    HttpResponse<String> created = server().get("/session");
    assertThat(created.body()).isEqualTo("session new=true pinned=app-1");
    assertPinnedHere(created);
    assertThat(byName(created)).containsKey("JSESSIONID");

    HttpResponse<String> again = server().get("/session", "Cookie", cookieHeader(created));
    assertThat(again.body()).isEqualTo("session new=false pinned=app-1");
    assertThat(byName(again)).doesNotContainKey("AFFINITYROUTE");
  }

  @ParameterizedTest
  @ValueSource(strings = {"garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "%00%ff", "\"quoted\"", "", "-_-_-_", "x.y.z"})
  void garbledCookiesAreAbsent(String value) throws Exception {
    HttpResponse<String> response = server().get("/whoami",
        "Cookie", "AFFINITYROUTE=" + value + "; AFFINITYROUTECORS=" + value + "; AFFINITYROUTE-0=2." + value);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).startsWith("target=app-1 pinned=-");
  }

  @Test
  void forgedAndForeignCookiesAreAbsent() throws Exception {
    String genuine = routeCookieOf("app-9", TestWebapp.KEYRING);
    String value = genuine.substring(genuine.indexOf('=') + 1);
    char[] flipped = value.toCharArray();
    flipped[flipped.length / 2] = flipped[flipped.length / 2] == 'A' ? 'B' : 'A';
    List<String> forged = List.of(
        "AFFINITYROUTE=" + new String(flipped),
        routeCookieOf("app-9", TestWebapp.FOREIGN),
        "AFFINITYROUTE=" + value.substring(0, value.length() - 5),
        // A genuine value moved from another cookie name does not open.
        "AFFINITYROUTE=" + sealedAs("AFFINITY", "app-9"));
    for (String cookie : forged) {
      HttpResponse<String> response = server().get("/whoami", "Cookie", cookie);
      assertThat(response.statusCode()).as(cookie).isEqualTo(200);
      assertThat(response.body()).as(cookie).startsWith("target=app-1 pinned=-");
    }
    assertThat(server().get("/whoami", "Cookie", genuine).body()).contains("pinned=app-9");
  }

  /**
   * Sealed values are case-sensitive base64url. A forged value differing from the genuine one only in
   * the case of one letter, sent first on the same kept-alive connection, must not stand in for it (Jetty
   * does that unless its header cache is case-sensitive, see the module README).
   */
  @Test
  void aValueDifferingOnlyInCaseIsAnotherValue() throws Exception {
    String genuine = routeCookieOf("app-9", TestWebapp.KEYRING);
    char[] chars = genuine.toCharArray();
    int letter = chars.length / 2 + 8; // inside the ciphertext, where any change fails authentication
    while (!Character.isLetter(chars[letter])) {
      letter--;
    }
    chars[letter] = Character.isUpperCase(chars[letter])
        ? Character.toLowerCase(chars[letter]) : Character.toUpperCase(chars[letter]);
    String caseChanged = new String(chars);
    for (int i = 0; i < 3; i++) {
      assertThat(server().get("/whoami", "Cookie", caseChanged).body()).startsWith("target=app-1 pinned=-");
      assertThat(server().get("/whoami", "Cookie", genuine).body()).contains("pinned=app-9");
    }
  }

  private static String sealedAs(String name, String target) {
    Instant now = Instant.now();
    return OPENER.codec().seal(name, AffinityTicket.of(target, "", now, now.plusSeconds(600)));
  }

  @Test
  void failedOverClientIsRepinnedHere() throws Exception {
    String elsewhere = routeCookieOf("app-2", TestWebapp.KEYRING);
    HttpResponse<String> response = server().get("/whoami", "Cookie", elsewhere,
        "X-Affinity-Previous-Target", "app-2");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).startsWith("target=app-1 pinned=app-1 previous=app-2");
    assertPinnedHere(response);

    HttpResponse<String> noHeader = server().get("/whoami", "Cookie", elsewhere);
    assertThat(noHeader.body()).startsWith("target=app-1 pinned=app-2 previous=-");
    assertThat(setCookies(noHeader)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {" ", "app 2", "<script>", "app-2;drop", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})
  void garbagePreviousTargetIsIgnored(String header) throws Exception {
    String elsewhere = routeCookieOf("app-2", TestWebapp.KEYRING);
    HttpResponse<String> response = server().get("/whoami", "Cookie", elsewhere,
        "X-Affinity-Previous-Target", header);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).startsWith("target=app-1 pinned=app-2 previous=-");
    assertThat(setCookies(response)).isEmpty();
  }
}
