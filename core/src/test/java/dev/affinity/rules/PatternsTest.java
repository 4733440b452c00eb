package dev.affinity.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PatternsTest {
  @Test
  void hostWildcardsAsAlb() {
    HostPattern api = HostPattern.of("api.*");
    assertThat(api.matches("api.example.com")).isTrue();
    assertThat(api.matches("API.Example.COM")).isTrue();
    assertThat(api.matches("api.")).isTrue();
    assertThat(api.matches("www.api.com")).isFalse();
    assertThat(api.matches(null)).isFalse();
    assertThat(api.literalOrNull()).isNull();

    HostPattern sub = HostPattern.of("*.example.com");
    assertThat(sub.matches("a.b.example.com")).isTrue();
    assertThat(sub.matches("example.com")).as("'*.' needs a label before it").isFalse();
    assertThat(sub.matches("evilexample.com")).isFalse();

    HostPattern one = HostPattern.of("web?.example.com");
    assertThat(one.matches("web1.example.com")).isTrue();
    assertThat(one.matches("web.example.com")).isFalse();
    assertThat(one.matches("web12.example.com")).isFalse();

    HostPattern literal = HostPattern.of("Shop.Example.com");
    assertThat(literal.literalOrNull()).isEqualTo("shop.example.com");
    assertThat(literal.matches("shop.example.COM")).isTrue();
    assertThat(literal.matches("shop.example.co")).isFalse();
  }

  @Test
  void wildcardBacktracksWithoutBlowingUp() {
    Wildcard w = Wildcard.of("*a*a*a*a*a*a*b", false);
    assertThat(w.matches("a".repeat(5000))).isFalse();
    assertThat(w.matches("a".repeat(5000) + "b")).isTrue();
    assertThat(Wildcard.of("a*b?c", false).matches("axxbyc")).isTrue();
    assertThat(Wildcard.of("a*b?c", false).matches("abc")).isFalse();
    assertThat(Wildcard.of("*", false).matches("")).isTrue();
    assertThat(Wildcard.of("", false).matches("")).isTrue();
    assertThat(Wildcard.of("x*", true).matches("X")).isTrue();
  }

  @Test
  void hostWithoutPortAndTrailingDot() {
    assertThat(HostPattern.hostWithoutPort("Example.COM:8080")).isEqualTo("example.com");
    assertThat(HostPattern.hostWithoutPort("example.com.")).isEqualTo("example.com");
    assertThat(HostPattern.hostWithoutPort("example.com.:443")).isEqualTo("example.com");
    assertThat(HostPattern.hostWithoutPort("[::1]:8080")).isEqualTo("[::1]");
    assertThat(HostPattern.hostWithoutPort("[2001:DB8::1]")).isEqualTo("[2001:db8::1]");
    assertThat(HostPattern.hostWithoutPort("plain")).isSameAs("plain");
    assertThat(HostPattern.hostWithoutPort(null)).isNull();
    // ASCII case only: no Unicode folding makes the dotless i an i, or the Kelvin sign a k.
    assertThat(HostPattern.hostWithoutPort("\u0130.EXAMPLE.com")).isEqualTo("\u0130.example.com");
    assertThat(HostPattern.of("i.example.com").matches("\u0131.example.com")).isFalse();
    assertThat(HostPattern.of("k.example.com").matches("\u212A.example.com")).isFalse();
    assertThat(HostPattern.of("k.*").matches("\u212A.example.com")).isFalse();
    assertThat(HostPattern.of("*").matches(HostPattern.hostWithoutPort("[::1]:8080"))).isTrue();
    assertThat(HostPattern.of("example.com").matches(HostPattern.hostWithoutPort("[::1]:8080"))).isFalse();
  }

  @Test
  void badHostPatternsNameTheValue() {
    assertThatThrownBy(() -> HostPattern.of("api.example.com:8080"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"api.example.com:8080\"");
    assertThatThrownBy(() -> HostPattern.of("https://x")).hasMessageContaining("\"https://x\"");
    assertThatThrownBy(() -> HostPattern.of("")).hasMessage("host pattern must be 1 to 128 characters, got \"\"");
    assertThatThrownBy(() -> HostPattern.of("a".repeat(129))).hasMessageContaining("1 to 128 characters");
    assertThatThrownBy(() -> HostPattern.of("ex ample")).hasMessageContaining("A-Z a-z 0-9 - . * ?");
    assertThatThrownBy(() -> HostPattern.of(null)).isInstanceOf(NullPointerException.class).hasMessage("pattern");
  }

  @Test
  void pathShorthandAndKinds() {
    PathPattern prefix = PathPattern.parse("/v1/*");
    assertThat(prefix.kind()).isEqualTo(PathPattern.Kind.PREFIX);
    assertThat(prefix.text()).isEqualTo("/v1/");
    assertThat(prefix.matches("/v1/")).isTrue();
    assertThat(prefix.matches("/v1/users/42")).isTrue();
    assertThat(prefix.matches("/v1")).isFalse();
    assertThat(prefix.matches("/V1/x")).as("case-sensitive").isFalse();

    PathPattern exact = PathPattern.parse("/maintenance");
    assertThat(exact.kind()).isEqualTo(PathPattern.Kind.EXACT);
    assertThat(exact.matches("/maintenance")).isTrue();
    assertThat(exact.matches("/maintenance/")).isFalse();

    PathPattern glob = PathPattern.parse("/img/*.png");
    assertThat(glob.kind()).isEqualTo(PathPattern.Kind.GLOB);
    assertThat(glob.matches("/img/a/b/c.png")).as("* spans '/' as in ALB").isTrue();
    assertThat(glob.matches("/img/c.PNG")).isFalse();
    assertThat(glob.matches("/x/img/c.png")).isFalse();
    assertThat(PathPattern.parse("/v?/x").matches("/v2/x")).isTrue();
    assertThat(PathPattern.parse("/*/admin").kind()).isEqualTo(PathPattern.Kind.GLOB);
    assertThat(PathPattern.parse("/*").kind()).isEqualTo(PathPattern.Kind.PREFIX);
    assertThat(PathPattern.parse("/*").matches("/anything")).isTrue();

    assertThat(PathPattern.prefix("/v1").matches("/v10")).as("what was written").isTrue();
    assertThat(PathPattern.exact("/café").matches(RequestPath.parse("/caf%C3%A9").path())).isTrue();
  }

  @Test
  void firstSegmentIsKnownOnlyWhenEveryMatchShareIt() {
    assertThat(PathPattern.parse("/v1/*").firstSegmentOrNull()).isEqualTo("v1");
    assertThat(PathPattern.exact("/v1").firstSegmentOrNull()).isEqualTo("v1");
    assertThat(PathPattern.exact("/").firstSegmentOrNull()).isEqualTo("");
    assertThat(PathPattern.parse("/api/*/x").firstSegmentOrNull()).isEqualTo("api");
    assertThat(PathPattern.prefix("/v1").firstSegmentOrNull()).isNull();
    assertThat(PathPattern.parse("/v*").firstSegmentOrNull()).isNull();
    assertThat(PathPattern.parse("/*").firstSegmentOrNull()).isNull();
  }

  @Test
  void badPathPatternsNameTheValue() {
    assertThatThrownBy(() -> PathPattern.parse("v1/*")).hasMessage("path must start with '/', got \"v1/*\"");
    assertThatThrownBy(() -> PathPattern.exact("admin")).hasMessage("path exact must start with '/', got \"admin\"");
    assertThatThrownBy(() -> PathPattern.exact("/a*")).hasMessageContaining("may not hold * or ?").hasMessageContaining("\"/a*\"");
    assertThatThrownBy(() -> PathPattern.glob("/plain")).hasMessageContaining("\"/plain\"");
    assertThatThrownBy(() -> PathPattern.parse("/a//b")).hasMessageContaining("can never match").hasMessageContaining("\"/a//b\"");
    assertThatThrownBy(() -> PathPattern.parse("/a;b")).hasMessageContaining("can never match").hasMessageContaining("';'");
    assertThatThrownBy(() -> PathPattern.parse("/a/../b/*")).hasMessageContaining("dot segment");
    assertThatThrownBy(() -> PathPattern.parse("/a\\b")).hasMessageContaining("backslash");
    assertThatThrownBy(() -> PathPattern.parse("/" + "a".repeat(1024))).hasMessageContaining("at most 1024");
    assertThatThrownBy(() -> PathPattern.parse("/*" + "a".repeat(127))).hasMessageStartingWith("path glob must be at most 128 characters");
    assertThat(PathPattern.parse("/*" + "a".repeat(126)).kind()).isEqualTo(PathPattern.Kind.GLOB);
    assertThatThrownBy(() -> PathPattern.parse(null)).isInstanceOf(NullPointerException.class);
  }
}
