package dev.affinity.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestPathTest {
  /** A /admin/* rule that denies, a catch-all behind it: a bypass is a request that reaches the catch-all. */
  private static final Rule ADMIN = Rule.builder(10)
      .when(Conditions.builder().paths(List.of(PathPattern.parse("/admin/*"))).build())
      .action(new FixedResponse(403, null, "no"))
      .build();
  private static final Rule EVERYTHING = Rule.builder(20)
      .when(Conditions.builder().paths(List.of(PathPattern.parse("/*"))).build())
      .action(new RuleAction.Forward(dev.affinity.balancer.Forward.to("app")))
      .build();
  private static final RuleSet RULES = RuleSet.of(List.of(ADMIN, EVERYTHING));

  @ParameterizedTest
  @ValueSource(strings = {
      "/admin/x",
      "/admin/",
      "//admin/x",
      "///admin//x",
      "/./admin/x",
      "/x/../admin/x",
      "/admin/x/../../admin/x",
      "/%61dmin/x",
      "/%61%64%6D%69%6E/x",
      "/admin%2Fx",
      "/admin%2fx",
      "/admin;x/y",
      "/admin;/x",
      "/admin;jsessionid=ABC/x",
      "/;x/admin/x",
      "/..;/admin/x",
      "/admin/..;/x",
      "/.;/admin/x",
      "/%2e%2e/admin",
      "/%2E/admin/x",
      "/admin/.%2e/",
      "/admin/%2e%2E/x",
      "/x/.%2e/admin/x",
      "/admin\\x",
      "/admin%5cx",
      "/admin%5C..%5Cx",
      "\\admin\\x",
      "/admin%00/x",
      "/admin/x%00",
      "/adm%00in/x",
      "/admin\u0000/x",
      "/admin%0d%0a/x",
      "/admin%09/x",
      "/%C0%AFadmin/x",
      "/admin%C0%AFx",
      "/%E0%80%AFadmin/x",
      "/admin%C1%9C/x",
      "/%ad/admin/x",
      "/admin%",
      "/admin%2",
      "/admin%zz/x",
      "/admin%3Bx/y",
      "/admin%3bx/y",
      "admin/x",
      "",
      "/admin%u002fx",
      "/%ef%bc%8fadmin/x", // fullwidth solidus: no Java target reads it as '/'
  })
  void everyWayAroundAnAdminRuleIsEitherTheRuleOrRefused(String raw) {
    RequestPath path = RequestPath.parse(raw);
    if (path.isRefused()) {
      assertThat(path.refusal()).isNotBlank();
      assertThat(path.path()).isNull();
      return;
    }
    Rule matched = RULES.match(TestRequest.get(raw), path);
    if (matched != ADMIN) {
      // Only a path no Java target would serve as /admin/... may go elsewhere.
      assertThat(path.path()).as(raw + " was read as " + path.path()).doesNotStartWith("/admin/");
      assertThat(path.path()).as(raw).isIn("/\uff0fadmin/x");
    }
  }

  @Test
  void whatIsRefusedAndWhy() {
    assertThat(RequestPath.parse("/admin%2Fx").refusal()).isEqualTo("encoded slash (%2F) in the path");
    assertThat(RequestPath.parse("/x/../admin").refusal()).isEqualTo("dot segment (. or ..) in the path");
    assertThat(RequestPath.parse("/..;/admin").refusal()).isEqualTo("dot segment (. or ..) in the path");
    assertThat(RequestPath.parse("/admin/.%2e/").refusal()).isEqualTo("dot segment (. or ..) in the path");
    assertThat(RequestPath.parse("/admin\\x").refusal()).isEqualTo("backslash in the path");
    assertThat(RequestPath.parse("/admin%5Cx").refusal()).isEqualTo("backslash in the path");
    assertThat(RequestPath.parse("/admin%00").refusal()).isEqualTo("control character in the path");
    assertThat(RequestPath.parse("/a;b\u0001/c").refusal()).isEqualTo("control character in the path");
    assertThat(RequestPath.parse("/%C0%AF").refusal()).isEqualTo("malformed percent-escape or invalid UTF-8 in the path");
    assertThat(RequestPath.parse("/a%4").refusal()).isEqualTo("malformed percent-escape or invalid UTF-8 in the path");
    assertThat(RequestPath.parse("/a%\uff11\uff11").refusal()).isEqualTo("malformed percent-escape or invalid UTF-8 in the path");
    assertThat(RequestPath.parse("/a%3Bb").refusal()).isEqualTo("encoded semicolon (%3B) in the path");
    assertThat(RequestPath.parse("*").refusal()).isEqualTo("the path does not start with '/'");
    assertThat(RequestPath.parse(null).isRefused()).isTrue();
  }

  @Test
  void normalisedAsJavaTargetsReadIt() {
    assertThat(RequestPath.parse("/admin;x/secret").path()).isEqualTo("/admin/secret");
    assertThat(RequestPath.parse("/cart;jsessionid=ABC123").path()).isEqualTo("/cart");
    assertThat(RequestPath.parse("/admin/;x").path()).isEqualTo("/admin/");
    assertThat(RequestPath.parse("//a///b//").path()).isEqualTo("/a/b/");
    assertThat(RequestPath.parse("//").path()).isEqualTo("/");
    assertThat(RequestPath.parse("/;x").path()).isEqualTo("/");
    assertThat(RequestPath.parse("/%61dmin").path()).isEqualTo("/admin");
    assertThat(RequestPath.parse("/caf%C3%A9/x").path()).isEqualTo("/café/x");
    assertThat(RequestPath.parse("/a%20b").path()).isEqualTo("/a b");
    assertThat(RequestPath.parse("/a+b").path()).as("'+' is a space only in queries").isEqualTo("/a+b");
    assertThat(RequestPath.parse("/emoji%F0%9F%98%80").path()).isEqualTo("/emoji\uD83D\uDE00");
    // A server may hand non-ASCII through decoded; mixed with escapes it is read as UTF-8 all the same.
    assertThat(RequestPath.parse("/é%41bcdef").path()).isEqualTo("/éAbcdef");
    assertThat(RequestPath.parse("/\uD83D\uDE00%41xyz").path()).isEqualTo("/\uD83D\uDE00Axyz");
    // Dots that are not a whole segment are ordinary characters.
    assertThat(RequestPath.parse("/v1.2/...").path()).isEqualTo("/v1.2/...");
    assertThat(RequestPath.parse("/.well-known/x").path()).isEqualTo("/.well-known/x");
    assertThat(RequestPath.parse("/.hidden%2e").path()).isEqualTo("/.hidden.");
  }

  @Test
  void differentPathsThatAreNotBypasses() {
    // Paths are case-sensitive to Java targets (and ALB): /ADMIN/x is not served as /admin/x.
    assertThat(RULES.match(TestRequest.get("/ADMIN/x"), RequestPath.parse("/ADMIN/x"))).isSameAs(EVERYTHING);
    // Double encoding decodes once, here as at the target: both see /%61dmin/x, which is not /admin/x.
    RequestPath doubled = RequestPath.parse("/%2561dmin/x");
    assertThat(doubled.path()).isEqualTo("/%61dmin/x");
    assertThat(RULES.match(TestRequest.get("/%2561dmin/x"), doubled)).isSameAs(EVERYTHING);
    // A trailing dot is part of the name to a Java target (only Windows file APIs drop it).
    assertThat(RequestPath.parse("/admin./x").path()).isEqualTo("/admin./x");
    assertThat(RULES.match(TestRequest.get("/admin./x"), RequestPath.parse("/admin./x"))).isSameAs(EVERYTHING);
    // /admin is not under /admin/: the rule said /admin/*.
    assertThat(RULES.match(TestRequest.get("/admin"), RequestPath.parse("/admin"))).isSameAs(EVERYTHING);
  }

  @Test
  void aPlainPathIsItsOwnNormalForm() {
    String raw = "/api/v1/users/42";
    RequestPath path = RequestPath.parse(raw);
    assertThat(path.path()).isSameAs(raw);
    assertThat(path.isRefused()).isFalse();
    assertThat(path.refusal()).isNull();
  }

  /**
   * Client input never throws, and whatever is not refused is in normal form: starts with '/', no
   * empty, dot or parameter segment, no backslash or control character; and reading it again (with the
   * '%' it may hold escaped) gives it back unchanged.
   */
  @Test
  void anyInputIsEitherRefusedOrNormal() {
    String[] pieces = {"/", "/", "//", ".", "..", ";", ";x=1", "%", "%2", "%2e", "%2E", "%2f", "%5c", "%3b", "%25", "%00",
        "%C3%A9", "%C0%AF", "%FF", "%e2%82%ac", "a", "admin", "\\", "é", "\u0000", "+", " ", "%20", "~", "x.", "%zz"};
    java.util.Random random = new java.util.Random(7);
    int kept = 0;
    for (int n = 0; n < 50_000; n++) {
      StringBuilder raw = new StringBuilder(n % 10 == 0 ? "" : "/");
      int count = random.nextInt(8);
      for (int i = 0; i < count; i++) {
        raw.append(pieces[random.nextInt(pieces.length)]);
      }
      RequestPath path = RequestPath.parse(raw.toString());
      if (path.isRefused()) {
        assertThat(path.refusal()).isNotBlank();
        continue;
      }
      kept++;
      String p = path.path();
      assertThat(p).as(raw.toString()).startsWith("/").doesNotContain("//", ";", "\\").doesNotContain("/./").doesNotContain("/../");
      assertThat(p).as(raw.toString()).doesNotEndWith("/.").doesNotEndWith("/..");
      assertThat(p.chars().noneMatch(Character::isISOControl)).as(raw.toString()).isTrue();
      assertThat(RequestPath.parse(p.replace("%", "%25")).path()).as(raw.toString()).isEqualTo(p);
    }
    assertThat(kept).isGreaterThan(5_000);
  }

  @Test
  void aLongPathOfManySegments() {
    // 8,000 segments with an escape and a parameter at the end (the decoder once scanned to the end of
    // the path for every segment: quadratic, about 45 ms a request at this size; not timed here).
    String raw = "/a".repeat(8_000) + "%41/x;p";
    assertThat(RequestPath.parse(raw).path()).hasSize(16_003).endsWith("/a/aA/x");
  }
}
