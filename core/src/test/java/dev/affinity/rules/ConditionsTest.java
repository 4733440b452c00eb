package dev.affinity.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionsTest {
  private static boolean matches(Conditions c, TestRequest r) {
    return c.matches(r, r.path());
  }

  @Test
  void everyConditionMustHoldAndAnyValueOfOneWillDo() {
    Conditions c = Conditions.builder()
        .host(List.of("api.*", "shop.example.com"))
        .paths(List.of(PathPattern.parse("/v1/*"), PathPattern.exact("/health")))
        .methods(List.of("GET", "POST"))
        .header("X-Canary", List.of("1", "yes"))
        .query("beta", List.of("on"))
        .sourceIp(List.of("10.0.0.0/8", "2001:db8::/32"))
        .build();
    TestRequest ok = TestRequest.get("/v1/users").host("API.example.com:8443").method("POST")
        .header("x-canary", "YES").query("a=1&beta=on").source("10.1.2.3");
    assertThat(matches(c, ok)).isTrue();
    assertThat(matches(c, ok.host("shop.example.com"))).isTrue();
    assertThat(matches(c, TestRequest.get("/health").host("shop.example.com").method("GET").header("X-Canary", "1")
        .query("beta=on").source("2001:db8::7"))).isTrue();

    // Each condition alone can fail the whole.
    assertThat(matches(c, copy(ok).host("www.example.com"))).isFalse();
    assertThat(matches(c, copy(ok).host(null))).isFalse();
    assertThat(matches(c, copy(ok).method("DELETE"))).isFalse();
    assertThat(matches(c, copy(ok).method("post"))).as("methods are case-sensitive").isFalse();
    assertThat(matches(c, copy(ok).query("beta=off"))).isFalse();
    assertThat(matches(c, copy(ok).query(null))).isFalse();
    assertThat(matches(c, copy(ok).source("192.0.2.1"))).isFalse();
    assertThat(matches(c, copy(ok).source("::ffff:10.1.2.3"))).as("an IPv4-mapped address is IPv4 to the JDK").isTrue();
    TestRequest noHeader = copy(ok);
    noHeader.headers.clear();
    assertThat(matches(c, noHeader)).isFalse();
    TestRequest noSource = copy(ok);
    noSource.source = null;
    assertThat(matches(c, noSource)).isFalse();
    TestRequest otherPath = copy(ok);
    otherPath.rawPath = "/v2/users";
    assertThat(matches(c, otherPath)).isFalse();
  }

  private static TestRequest copy(TestRequest r) {
    TestRequest c = TestRequest.get(r.rawPath).host(r.host).method(r.method).query(r.rawQuery);
    c.source = r.source;
    r.headers.forEach((k, v) -> v.forEach(value -> c.header(k, value)));
    return c;
  }

  @Test
  void headersMatchAnyValueWithCaseInsensitiveWildcards() {
    Conditions c = Conditions.builder().header("User-Agent", List.of("*Mobile*")).header("Accept-Language", List.of("fr*")).build();
    TestRequest r = TestRequest.get("/").header("user-agent", "Mozilla/5.0 (iPhone) mobile Safari")
        .header("Accept-Language", "en").header("Accept-Language", "FR-fr");
    assertThat(matches(c, r)).isTrue();
    TestRequest onlyOne = TestRequest.get("/").header("User-Agent", "Mobile");
    assertThat(matches(c, onlyOne)).as("both headers must match").isFalse();
  }

  @Test
  void queryIsDecodedAndAnyOccurrenceWillDo() {
    Conditions c = Conditions.builder().query("Beta", List.of("o?", "yes*")).build();
    assertThat(matches(c, TestRequest.get("/").query("beta=off&beta=On"))).isTrue();
    assertThat(matches(c, TestRequest.get("/").query("b%65ta=%6Fn"))).as("key and value decoded").isTrue();
    assertThat(matches(c, TestRequest.get("/").query("beta=yes+please"))).as("'+' is a space").isTrue();
    assertThat(matches(c, TestRequest.get("/").query("beta=yes%20please"))).isTrue();
    assertThat(matches(c, TestRequest.get("/").query("beta=off"))).isFalse();
    assertThat(matches(c, TestRequest.get("/").query("beta"))).as("no value is the empty value").isFalse();
    assertThat(matches(c, TestRequest.get("/").query("betas=on"))).isFalse();
    assertThat(matches(c, TestRequest.get("/").query("beta=o%"))).as("a malformed occurrence matches nothing").isFalse();
    assertThat(matches(c, TestRequest.get("/").query("beta=o%&beta=on"))).isTrue();
    assertThat(matches(c, TestRequest.get("/").query("&&beta=on&"))).isTrue();
    assertThat(Conditions.decodeQueryPart("%C0%AF")).isNull();
    assertThat(Conditions.decodeQueryPart("caf%C3%A9")).isEqualTo("café");

    Conditions empty = Conditions.builder().query("flag", List.of("")).build();
    assertThat(matches(empty, TestRequest.get("/").query("flag"))).isTrue();
    assertThat(matches(empty, TestRequest.get("/").query("flag="))).isTrue();
  }

  @Test
  void aRefusedPathIsNotMatchedAtAll() {
    Conditions c = Conditions.builder().methods(List.of("GET")).build();
    assertThatThrownBy(() -> c.matches(TestRequest.get("/a%2Fb"), RequestPath.parse("/a%2Fb")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("encoded slash");
  }

  @Test
  void badConditionsNameTheValue() {
    assertThatThrownBy(() -> Conditions.builder().build()).isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("a rule needs at least one condition");
    assertThatThrownBy(() -> Conditions.builder().methods(List.of("get")))
        .hasMessage("method must be upper-case letters, - or _ (methods are case-sensitive), got \"get\"");
    assertThatThrownBy(() -> Conditions.builder().methods(List.of("GET", "GET"))).hasMessage("method \"GET\" is listed twice");
    assertThatThrownBy(() -> Conditions.builder().methods(List.of())).hasMessage("method condition needs at least one value");
    assertThatThrownBy(() -> Conditions.builder().host(List.of("a.com")).host(List.of("b.com")))
        .isInstanceOf(IllegalStateException.class).hasMessage("host condition was already set");
    assertThatThrownBy(() -> Conditions.builder().host(List.of("a.com:80"))).hasMessageContaining("\"a.com:80\"");
    assertThatThrownBy(() -> Conditions.builder().sourceIp(List.of("10.0.0.1/8")))
        .hasMessage("sourceIp \"10.0.0.1/8\" has host bits set below its /8 prefix; write the block as 10.0.0.0/8 or the one"
            + " address as 10.0.0.1");
    assertThatThrownBy(() -> Conditions.builder().sourceIp(List.of("office")))
        .hasMessageStartingWith("sourceIp must be an IPv4 or IPv6 address").hasMessageEndingWith("got \"office\"");
    assertThatThrownBy(() -> Conditions.builder().header("X Bad", List.of("1")))
        .hasMessage("header condition name must be an HTTP token, got \"X Bad\"");
    assertThatThrownBy(() -> Conditions.builder().header("X-A", List.of("1")).header("x-a", List.of("2")))
        .hasMessage("header x-a condition was already set");
    assertThatThrownBy(() -> Conditions.builder().header("X-A", List.of("a\nb"))).hasMessageContaining("control characters");
    assertThatThrownBy(() -> Conditions.builder().query("beta", List.of("1")).query("BETA", List.of("2")))
        .hasMessage("query condition \"BETA\" is set twice (keys are case-insensitive)");
    assertThatThrownBy(() -> Conditions.builder().query("", List.of("1"))).hasMessageContaining("got \"\"");
    assertThatThrownBy(() -> Conditions.builder().header("X-A", List.of("x".repeat(129)))).hasMessageContaining("at most 128");
  }
}
