package dev.affinity.fuzz;

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
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link Router#route} on arbitrary cookie maps: valid tokens for configured targets, for targets and
 * groups that are not configured ({@code ghost}, {@code 127.0.0.1:22}), moved between cookie names,
 * mixed with junk, on a router with two groups (duration and application stickiness), weighted
 * forwarding and group stickiness, with any subset of targets draining. Oracles, for every input:
 * <ul>
 *   <li>{@code route} never throws and the codec's safety net is never hit;</li>
 *   <li>the decision's target is one of the configured {@link Target} objects (identity), and it is
 *       absent only when every target of the chosen group is draining;</li>
 *   <li>a route cookie that is, byte for byte, a token sealed for a configured target always wins and
 *       routes there; a {@code ROUTE_COOKIE} or {@code STICKY_HIT} outcome is only ever backed by such a
 *       token naming that very target;</li>
 *   <li>every affinity cookie the decision sets opens, and names the decision's target (or group).</li>
 * </ul>
 */
class RouterFuzzTest {
  private static final String[] CONFIGURED = {"a", "b", "c", "g1", "g2"};
  private static final String[] KINDS = {"AFFINITY", "AFFINITYROUTE", "AFFINITYTG", "AFFINITYAPP"};
  private static final String[] COOKIE_NAMES = {
      "AFFINITY", "AFFINITYCORS", "AFFINITYROUTE", "AFFINITYROUTECORS", "AFFINITYTG", "AFFINITYTGCORS", "AFFINITYAPP",
      "AFFINITYAPPCORS", "JSESSIONID", "AFFINITY-0", "AFFINITY-1", "AFFINITYROUTE-0", "AFFINITYROUTE-1"};

  private static final java.util.regex.Pattern FIRST_SHARD = java.util.regex.Pattern.compile("([0-9]{1,2})\\.(.*)", java.util.regex.Pattern.DOTALL);
  private static AffinityCookieCodec codec;
  private static Router router;
  private static Map<String, AffinityTicket> valid;
  /** Tokens by kind (the name they were sealed for). */
  private static Map<String, List<String>> tokens;
  private static List<String> allTokens;

  @BeforeAll
  static void setUp() {
    FuzzFixtures.watchCodecNet();
    codec = FuzzFixtures.codec(FuzzFixtures.counters(), 10_000, FuzzFixtures.CLOCK);
    AffinityCookies cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    HealthCheckSettings health =
        new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10));
    Expiry hour = Expiry.sliding(Duration.ofHours(1));
    TargetGroup blue = TargetGroup.builder("blue").healthCheck(health).stickiness(StickinessPolicy.duration(hour))
        .target("a", URI.create("http://127.0.0.1:9001"), 1)
        .target("b", URI.create("http://127.0.0.1:9002"), 1)
        .target("c", URI.create("http://127.0.0.1:9003"), 2)
        .build();
    TargetGroup green = TargetGroup.builder("green").healthCheck(health).stickiness(StickinessPolicy.application("JSESSIONID", hour))
        .target("g1", URI.create("http://127.0.0.1:9101"), 1)
        .target("g2", URI.create("http://127.0.0.1:9102"), 1)
        .build();
    router = Router.builder(cookies).group(blue).group(green).forward("blue", 50).forward("green", 50)
        .groupStickiness(Expiry.sliding(Duration.ofHours(2))).build();
    valid = new HashMap<>(FuzzFixtures.fixedValid());
    tokens = new HashMap<>();
    allTokens = new ArrayList<>();
    String[] targets = {"a", "b", "c", "g1", "g2", "ghost", "127.0.0.1:22", "../../etc"};
    String[] groups = {"blue", "green", "nowhere"};
    for (String kind : KINDS) {
      List<String> list = new ArrayList<>();
      for (String target : targets) {
        for (String group : groups) {
          AffinityTicket ticket = AffinityTicket.of(target, group, FuzzFixtures.START, FuzzFixtures.START.plus(Duration.ofMinutes(30)));
          String token = codec.seal(kind, ticket);
          valid.put(FuzzFixtures.key(kind, token), ticket);
          list.add(token);
        }
      }
      for (FuzzFixtures.FixedToken t : FuzzFixtures.fixedTokens()) {
        if (t.name().equals(kind)) {
          list.add(t.token());
        }
      }
      tokens.put(kind, list);
      allTokens.addAll(list);
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "10m")
  void routeArbitraryCookieMap(FuzzedDataProvider data) {
    boolean[] draining = data.consumeBooleans(CONFIGURED.length);
    for (int i = 0; i < CONFIGURED.length; i++) {
      if (i < draining.length && draining[i]) {
        router.target(CONFIGURED[i]).drain(FuzzFixtures.START);
      }
    }
    try {
      Map<String, String> jar = new HashMap<>();
      int entries = data.consumeInt(0, 10);
      for (int e = 0; e < entries && data.remainingBytes() > 0; e++) {
        String name = data.consumeInt(0, 4) == 0 ? data.consumeString(16) : COOKIE_NAMES[data.consumeInt(0, COOKIE_NAMES.length - 1)];
        jar.put(name, value(name, data));
      }
      check(jar, data.consumeBoolean());
    } finally {
      for (String id : CONFIGURED) {
        router.target(id).undrain();
      }
    }
  }

  private static String value(String name, FuzzedDataProvider data) {
    switch (data.consumeInt(0, 3)) {
      case 0: { // a token of the kind this name carries (the CORS companion carries its plain name's)
        String kind = name.endsWith("CORS") ? name.substring(0, name.length() - 4) : name;
        List<String> list = tokens.get(kind);
        return list == null ? data.consumeString(8) : list.get(data.consumeInt(0, list.size() - 1));
      }
      case 1: // any token, perhaps under the wrong name
        return allTokens.get(data.consumeInt(0, allTokens.size() - 1));
      case 2:
        return "";
      default:
        return data.consumeString(100);
    }
  }

  private static void check(Map<String, String> jar, boolean secure) {
    CookieSource request = CookieSource.of(jar);
    RouteDecision decision = router.route(request, secure);
    FuzzFixtures.assertNetNotHit();
    if (decision == null) {
      throw new AssertionError("route returned null for " + jar);
    }
    Target target = decision.target();
    if (target == null) {
      if (decision.outcome() != RouteDecision.Outcome.NO_TARGET) {
        throw new AssertionError("no target but outcome " + decision.outcome());
      }
      if (decision.group().targets().stream().anyMatch(t -> !t.isDraining())) {
        throw new AssertionError("no target although group " + decision.group().name() + " has targets that are not draining");
      }
      return;
    }
    if (router.target(target.id()) != target || !Set.of(CONFIGURED).contains(target.id())) {
      throw new AssertionError("routed to a target that is not configured: " + target.id() + " for " + jar);
    }
    if (router.groupOf(target) != decision.group()) {
      throw new AssertionError("target " + target.id() + " is not in the decision's group " + decision.group().name());
    }
    AffinityTicket route = model(jar, "AFFINITYROUTE");
    boolean routeToConfigured = route != null && router.target(route.targetId()) != null;
    if (routeToConfigured && (decision.outcome() != RouteDecision.Outcome.ROUTE_COOKIE || !target.id().equals(route.targetId()))) {
      throw new AssertionError("a valid route cookie for " + route.targetId() + " lost to " + decision + " for " + jar);
    }
    if (decision.outcome() == RouteDecision.Outcome.ROUTE_COOKIE && !routeToConfigured) {
      throw new AssertionError("ROUTE_COOKIE without a valid route cookie naming " + target.id() + " in " + jar);
    }
    if (decision.outcome() == RouteDecision.Outcome.STICKY_HIT) {
      String kind = decision.group().name().equals("blue") ? "AFFINITY" : "AFFINITYAPP";
      AffinityTicket held = model(jar, kind);
      if (held == null || !held.targetId().equals(target.id())) {
        throw new AssertionError("STICKY_HIT on " + target.id() + " backed by " + held + " in " + jar);
      }
      if (kind.equals("AFFINITYAPP") && jar.get("JSESSIONID") == null) {
        throw new AssertionError("application stickiness hit without the application's cookie in " + jar);
      }
    }
    for (SetCookie c : decision.setCookies()) {
      if (c.isRemoval()) {
        continue;
      }
      String kind = c.name().endsWith("CORS") ? c.name().substring(0, c.name().length() - 4) : c.name();
      Optional<AffinityTicket> opened = codec.open(kind, c.value());
      if (opened.isEmpty()) {
        throw new AssertionError("the decision sets " + c.name() + " to a value that does not open: " + decision);
      }
      String expected = kind.equals("AFFINITYTG") ? decision.group().name() : target.id();
      String got = kind.equals("AFFINITYTG") ? opened.get().targetGroup() : opened.get().targetId();
      if (!expected.equals(got)) {
        throw new AssertionError("the decision routes to " + target.id() + " but sets " + c.name() + " naming " + got);
      }
    }
  }

  /**
   * The ticket the jar carries under {@code name} (plain, else shards joined; then the same for the CORS
   * companion), if it is a token sealed for it.
   */
  private static AffinityTicket model(Map<String, String> jar, String name) {
    for (String n : new String[] {name, name + "CORS"}) {
      String v = whole(jar, n);
      if (v != null) {
        AffinityTicket t = valid.get(FuzzFixtures.key(name, v));
        if (t != null) {
          return t;
        }
      }
    }
    return null;
  }

  private static String whole(Map<String, String> jar, String n) {
    String plain = jar.get(n);
    if (plain != null) {
      return plain;
    }
    String first = jar.get(n + "-0");
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
      String s = jar.get(n + "-" + i);
      if (s == null || s.isEmpty()) {
        return null;
      }
      sb.append(s);
    }
    return jar.get(n + "-" + count) != null ? null : sb.toString();
  }
}
