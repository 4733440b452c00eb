package dev.affinity.jetty.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.http.CookieCache;
import org.eclipse.jetty.http.CookieCompliance;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.HttpConfiguration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Cookie headers as a client sends them, parsed by Jetty's own {@link CookieCache} (what
 * {@code Request.getCookies} uses, with the server's default compliance or another of Jetty's modes),
 * looked up the way the balancer's {@code JettyCookies} does (first cookie of a name wins), then routed.
 * Headers are built from real tokens (for configured targets and for a target that is not configured),
 * quoted and unquoted, RFC 2965 attributes, duplicate names, commas, junk and several Cookie fields.
 * Oracles, for every input:
 * <ul>
 *   <li>nothing throws, except Jetty refusing the header itself ({@link HttpException}, answered 400 by
 *       the server before the balancer sees the request), and Jetty's known {@code NumberFormatException}
 *       for a non-numeric {@code $Version} in RFC2965 mode only;</li>
 *   <li>the target is a configured one (identity), never absent while a target is up;</li>
 *   <li>never a misroute: a route or affinity cookie whose parsed value (plain, or shards joined) is, byte for byte, a token sealed
 *       for a configured target routes there; a {@code ROUTE_COOKIE} or {@code STICKY_HIT} outcome is only
 *       ever backed by such a token naming that very target.</li>
 * </ul>
 */
class CookieHeaderFuzzTest {
  private static final String[] TARGETS = {"a", "b", "ghost"};
  private static final String[] NAMES = {
      "AFFINITY", "AFFINITYCORS", "AFFINITYROUTE", "AFFINITYROUTECORS", "AFFINITY-0", "AFFINITY-1", "JSESSIONID", "$Version", "$Path"};
  private static final CookieCompliance[] COMPLIANCES = {
      new HttpConfiguration().getRequestCookieCompliance(), CookieCompliance.RFC6265, CookieCompliance.RFC6265_STRICT,
      CookieCompliance.RFC6265_LEGACY, CookieCompliance.RFC2965, CookieCompliance.RFC2965_LEGACY};
  private static final java.util.regex.Pattern FIRST_SHARD = java.util.regex.Pattern.compile("([0-9]{1,2})\\.(.*)", java.util.regex.Pattern.DOTALL);
  private static final String[] SEPARATORS = {"; ", ";", ", ", ",", " ", "", ";;", "\t; "};

  private static Router router;
  private static Map<String, AffinityTicket> valid;
  private static Map<String, List<String>> tokens;
  private static List<String> allTokens;

  @BeforeAll
  static void setUp() {
    AffinityCookieCodec codec = JettyFuzzFixtures.codec(JettyFuzzFixtures.counters());
    AffinityCookies cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .target("a", URI.create("http://127.0.0.1:9001"), 1)
        .target("b", URI.create("http://127.0.0.1:9002"), 1)
        .build();
    router = Router.builder(cookies).group(web).build();
    valid = new HashMap<>();
    tokens = new HashMap<>();
    allTokens = new ArrayList<>();
    for (String kind : new String[] {"AFFINITY", "AFFINITYROUTE"}) {
      List<String> list = new ArrayList<>();
      for (String target : TARGETS) {
        AffinityTicket ticket = AffinityTicket.of(target, "web", JettyFuzzFixtures.START, JettyFuzzFixtures.START.plus(Duration.ofHours(1)));
        String token = codec.seal(kind, ticket);
        valid.put(kind + '\0' + token, ticket);
        list.add(token);
      }
      tokens.put(kind, list);
      allTokens.addAll(list);
    }
  }

  @AfterAll
  static void tearDown() {
    JettyFuzzFixtures.allowAllConnectionsAgain();
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "10m")
  void cookieHeaderThroughJettyParser(FuzzedDataProvider data) {
    CookieCompliance compliance = COMPLIANCES[data.consumeInt(0, COMPLIANCES.length - 1)];
    boolean secure = data.consumeBoolean();
    HttpFields.Mutable fields = HttpFields.build();
    int headers = data.consumeInt(1, 3);
    for (int h = 0; h < headers && data.remainingBytes() > 0; h++) {
      fields.add(HttpHeader.COOKIE, header(data));
    }
    List<HttpCookie> parsed;
    try {
      parsed = new CookieCache(compliance).getCookies(fields);
    } catch (HttpException.RuntimeException refused) {
      return; // Jetty answers 400 itself; the balancer never sees this request.
    } catch (NumberFormatException e) {
      if (compliance == CookieCompliance.RFC2965) {
        // Jetty 12.1.8's parser in RFC2965 mode throws this for a non-numeric $Version (found by this
        // target; see RELIABILITY.md). The balancer runs with the default mode, which is not affected.
        return;
      }
      throw e;
    }
    check(parsed, secure, fields);
  }

  private static String header(FuzzedDataProvider data) {
    if (data.consumeInt(0, 7) == 0) {
      return data.consumeString(200);
    }
    StringBuilder sb = new StringBuilder();
    int parts = data.consumeInt(1, 8);
    for (int p = 0; p < parts && data.remainingBytes() > 0; p++) {
      if (p > 0) {
        sb.append(SEPARATORS[data.consumeInt(0, SEPARATORS.length - 1)]);
      }
      String name = data.consumeInt(0, 5) == 0 ? data.consumeString(12) : NAMES[data.consumeInt(0, NAMES.length - 1)];
      String value;
      switch (data.consumeInt(0, 4)) {
        case 0: {
          String kind = name.startsWith("AFFINITYROUTE") ? "AFFINITYROUTE" : "AFFINITY";
          value = tokens.get(kind).get(data.consumeInt(0, TARGETS.length - 1));
          break;
        }
        case 1:
          value = allTokens.get(data.consumeInt(0, allTokens.size() - 1));
          break;
        case 2:
          value = "\"" + allTokens.get(data.consumeInt(0, allTokens.size() - 1)) + "\"";
          break;
        case 3:
          value = "";
          break;
        default:
          value = data.consumeString(40);
      }
      sb.append(name).append(data.consumeInt(0, 9) == 0 ? " = " : "=").append(value);
    }
    return sb.toString();
  }

  private static void check(List<HttpCookie> parsed, boolean secure, HttpFields fields) {
    // As dev.affinity.jetty.JettyCookies: the first cookie of a name wins.
    CookieSource request = name -> {
      for (HttpCookie c : parsed) {
        if (c.getName().equals(name)) {
          return c.getValue();
        }
      }
      return null;
    };
    RouteDecision decision = router.route(request, secure);
    Target target = decision.target();
    if (target == null || router.target(target.id()) != target) {
      throw new AssertionError("routed to " + target + " (" + decision + ") for " + fields);
    }
    AffinityTicket route = model(request, "AFFINITYROUTE");
    boolean routeToConfigured = route != null && router.target(route.targetId()) != null;
    if (routeToConfigured && (decision.outcome() != RouteDecision.Outcome.ROUTE_COOKIE || !route.targetId().equals(target.id()))) {
      throw new AssertionError("a valid route cookie for " + route.targetId() + " lost to " + decision + " for " + fields);
    }
    if (decision.outcome() == RouteDecision.Outcome.ROUTE_COOKIE && !routeToConfigured) {
      throw new AssertionError("ROUTE_COOKIE to " + target.id() + " without a valid route cookie for it: " + fields);
    }
    AffinityTicket held = model(request, "AFFINITY");
    boolean heldConfigured = held != null && router.target(held.targetId()) != null;
    if (!routeToConfigured && heldConfigured
        && (decision.outcome() != RouteDecision.Outcome.STICKY_HIT || !held.targetId().equals(target.id()))) {
      throw new AssertionError("a valid affinity cookie for " + held.targetId() + " lost to " + decision + " for " + fields);
    }
    if (decision.outcome() == RouteDecision.Outcome.STICKY_HIT && !heldConfigured) {
      throw new AssertionError("STICKY_HIT on " + target.id() + " without a valid affinity cookie for it: " + fields);
    }
  }

  /**
   * The ticket the request carries under {@code name}: the plain cookie, else its shards joined (the
   * first holding {@code n.}, 2 <= n <= 64, no empty or extra shard), then the same for the CORS
   * companion; it counts only if it is byte for byte a token sealed for {@code name}.
   */
  private static AffinityTicket model(CookieSource request, String name) {
    for (String n : new String[] {name, name + "CORS"}) {
      String v = whole(request, n);
      if (v != null) {
        AffinityTicket t = valid.get(name + '\0' + v);
        if (t != null) {
          return t;
        }
      }
    }
    return null;
  }

  private static String whole(CookieSource request, String n) {
    String plain = request.value(n);
    if (plain != null) {
      return plain;
    }
    String first = request.value(n + "-0");
    java.util.regex.Matcher m = first == null ? null : FIRST_SHARD.matcher(first);
    if (m == null || !m.matches()) {
      return null;
    }
    int count = Integer.parseInt(m.group(1));
    if (count < 2 || count > 64) {
      return null;
    }
    StringBuilder sb = new StringBuilder(m.group(2));
    for (int i = 1; i < count; i++) {
      String s = request.value(n + "-" + i);
      if (s == null || s.isEmpty()) {
        return null;
      }
      sb.append(s);
    }
    return request.value(n + "-" + count) != null ? null : sb.toString();
  }
}
