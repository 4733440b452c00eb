package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CookiePolicyTest {

  @Test
  void defaultsAreTheSafeOnes() {
    CookiePolicy policy = CookiePolicy.defaults();
    assertThat(policy.names().duration()).isEqualTo("AFFINITY");
    assertThat(policy.cors()).isFalse();
    assertThat(policy.sameSite()).isEqualTo(SameSite.LAX);
    assertThat(policy.secureMode()).isEqualTo(SecureMode.AUTO);
    assertThat(policy.path()).isEqualTo("/");
    assertThat(policy.domain()).isNull();
    assertThat(policy.maxShardBytes()).isEqualTo(4096);
    assertThat(policy.maxTotalBytes()).isEqualTo(16 * 1024);
  }

  @Test
  void prefixRenamesEveryCookie() {
    CookieNames names = CookiePolicy.builder().prefix("LB_1").build().names();
    assertThat(names.duration()).isEqualTo("LB_1");
    assertThat(names.application()).isEqualTo("LB_1APP");
    assertThat(names.group()).isEqualTo("LB_1TG");
    assertThat(names.route()).isEqualTo("LB_1ROUTE");
    assertThat(names.session()).isEqualTo("LB_1SESSION");
    assertThat(CookieNames.corsCompanion(names.route())).isEqualTo("LB_1ROUTECORS");
  }

  @Test
  void builderNamesTheBadValue() {
    assertThatThrownBy(() -> CookiePolicy.builder().prefix("bad-prefix"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cookie prefix must be 1-64 characters of A-Z a-z 0-9 _, got \"bad-prefix\"");
    assertThatThrownBy(() -> CookiePolicy.builder().prefix("")).hasMessageEndingWith("got \"\"");
    assertThatThrownBy(() -> CookiePolicy.builder().prefix("P".repeat(65))).hasMessageContaining("P".repeat(65));
    assertThatThrownBy(() -> new CookieNames("A B")).hasMessageContaining("got \"A B\"");
    assertThatThrownBy(() -> CookiePolicy.builder().path("app"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cookie path must start with / and hold no ; or control characters, got \"app\"");
    assertThatThrownBy(() -> CookiePolicy.builder().path("/a;b")).hasMessageEndingWith("got \"/a;b\"");
    assertThatThrownBy(() -> CookiePolicy.builder().path("/a b")).hasMessageEndingWith("got \"/a b\"");
    assertThatThrownBy(() -> CookiePolicy.builder().domain("exa_mple.com"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cookie domain is not a valid host name: \"exa_mple.com\"");
    assertThatThrownBy(() -> CookiePolicy.builder().domain("-a.com")).hasMessageContaining("\"-a.com\"");
    assertThatThrownBy(() -> CookiePolicy.builder().maxShardBytes(511))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxShardBytes must be between 512 and 4096 (RFC 6265bis per-cookie limit), got 511");
    assertThatThrownBy(() -> CookiePolicy.builder().maxShardBytes(4097)).hasMessageEndingWith("got 4097");
    assertThatThrownBy(() -> CookiePolicy.builder().maxTotalBytes(255))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("maxTotalBytes must be between 256 and 65536, got 255");
    assertThatThrownBy(() -> CookiePolicy.builder().maxTotalBytes(65537)).hasMessageEndingWith("got 65537");
    assertThatThrownBy(() -> CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.NEVER).build())
        .isInstanceOf(IllegalStateException.class).hasMessage("sameSite None requires Secure; secure is set to never");
    assertThatThrownBy(() -> CookiePolicy.builder().sameSite(null)).hasMessage("sameSite");
    assertThatThrownBy(() -> CookiePolicy.builder().secure(null)).hasMessage("secure");
    assertThatThrownBy(() -> CookiePolicy.builder().path(null)).hasMessage("path");
  }

  @Test
  void builderAcceptsTheLimitsAndGoodAttributes() {
    CookiePolicy policy = CookiePolicy.builder().prefix("P".repeat(64)).path("/shop/cart").domain(".example.com")
        .maxShardBytes(512).maxTotalBytes(65536).sameSite(SameSite.STRICT).secure(SecureMode.ALWAYS).cors(true).build();
    assertThat(policy.path()).isEqualTo("/shop/cart");
    assertThat(policy.domain()).isEqualTo(".example.com");
    assertThat(policy.maxShardBytes()).isEqualTo(512);
    assertThat(policy.maxTotalBytes()).isEqualTo(65536);
    assertThat(policy.cors()).isTrue();
    assertThat(CookiePolicy.builder().domain("example.com").domain(null).build().domain()).isNull();
  }

  @Test
  void sameSiteAndSecureModeParse() {
    assertThat(SameSite.parse(" none ")).isEqualTo(SameSite.NONE);
    assertThat(SameSite.parse("STRICT")).isEqualTo(SameSite.STRICT);
    assertThat(SameSite.LAX.attributeValue()).isEqualTo("Lax");
    assertThatThrownBy(() -> SameSite.parse("loose"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("sameSite must be one of Strict, Lax, None; got \"loose\"");
    assertThat(SecureMode.parse("true")).isEqualTo(SecureMode.ALWAYS);
    assertThat(SecureMode.parse("Never")).isEqualTo(SecureMode.NEVER);
    assertThatThrownBy(() -> SecureMode.parse("sometimes"))
        .hasMessage("secure must be one of auto, always, never; got \"sometimes\"");
    assertThat(SecureMode.AUTO.secure(true)).isTrue();
    assertThat(SecureMode.AUTO.secure(false)).isFalse();
    assertThat(SecureMode.ALWAYS.secure(false)).isTrue();
    assertThat(SecureMode.NEVER.secure(true)).isFalse();
  }

  @Test
  void setCookieRendersAndRefusesSameSiteNoneWithoutSecure() {
    Instant expires = Instant.parse("2026-11-23T11:00:00Z");
    SetCookie cookie = new SetCookie("AFFINITY", "abc", "/", "example.com", Duration.ofHours(1), expires, true, true,
        SameSite.LAX);
    assertThat(cookie.toHeaderValue()).isEqualTo("AFFINITY=abc; Path=/; Domain=example.com; Max-Age=3600; "
        + "Expires=Mon, 23 Nov 2026 11:00:00 GMT; Secure; HttpOnly; SameSite=Lax");
    assertThat(cookie.maxAgeSeconds()).isEqualTo(3600);
    assertThat(cookie.isRemoval()).isFalse();
    assertThatThrownBy(() -> new SetCookie("AFFINITYCORS", "abc", "/", null, null, null, false, true, SameSite.NONE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("AFFINITYCORS: SameSite=None requires Secure");
    assertThatThrownBy(() -> new SetCookie("A", "abc", "/", null, Duration.ZERO, null, false, true, SameSite.LAX))
        .hasMessage("cookie A: maxAge and expires go together");
  }
}
