package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every cookie Affinity emits obeys RFC 6265bis: {@code Secure} whenever {@code SameSite=None},
 * name + value + attributes within 4096 bytes, and {@code Max-Age} at most 400 days — across
 * policies (CORS on/off, SameSite, Secure modes, domains, paths), expiry modes and value sizes.
 */
class Rfc6265bisAttributesTest {
  private static final long MAX_AGE_LIMIT_SECONDS = Duration.ofDays(400).getSeconds();
  private final MutableClock clock = new MutableClock();

  @Test
  void everyEmittedCookieObeysTheRfcLimits() {
    Random random = new Random(6265);
    List<CookiePolicy> policies = List.of(
        CookiePolicy.defaults(),
        CookiePolicy.builder().cors(true).build(),
        CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.ALWAYS).build(),
        CookiePolicy.builder().sameSite(SameSite.STRICT).secure(SecureMode.NEVER).cors(true).build(),
        CookiePolicy.builder().domain("shop.example.com").path("/a/rather/long/application/path").cors(true).build(),
        CookiePolicy.builder().prefix("X").maxShardBytes(1024).maxTotalBytes(16384).cors(true).build());
    List<Expiry> expiries = List.of(Expiry.sliding(Duration.ofDays(7)), Expiry.fixed(Duration.ofSeconds(1)),
        Expiry.browserSession(Duration.ofHours(1)), Expiry.sliding(Duration.ofMinutes(30)));
    int emitted = 0;
    for (CookiePolicy policy : policies) {
      AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder()
          .keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(), policy);
      for (Expiry expiry : expiries) {
        for (int extraBytes : new int[] {0, 100, 2900, 3000, 6000, 9000}) {
          byte[] extra = new byte[extraBytes];
          random.nextBytes(extra);
          AffinityTicket ticket = expiry.newTicket("target-" + extraBytes, "group", extra, clock.instant());
          for (boolean secureRequest : new boolean[] {false, true}) {
            for (SetCookie c : cookies.issue("AFFINITY", ticket, expiry, secureRequest, CookieSource.empty())) {
              emitted++;
              String header = c.toHeaderValue();
              assertThat(header.getBytes(StandardCharsets.UTF_8).length).as(header.substring(0, 40)).isLessThanOrEqualTo(4096);
              if (c.sameSite() == SameSite.NONE) {
                assertThat(c.secure()).as("SameSite=None needs Secure: %s", c.name()).isTrue();
                assertThat(header).contains("; Secure");
              }
              if (c.maxAge() != null) {
                assertThat(c.maxAgeSeconds()).isBetween(1L, MAX_AGE_LIMIT_SECONDS);
              }
            }
          }
        }
      }
    }
    assertThat(emitted).isGreaterThan(500);
  }

  @Test
  void configurationsThatWouldBreakTheRulesAreRefused() {
    assertThatThrownBy(() -> CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.NEVER).build())
        .hasMessageContaining("None requires Secure");
    assertThatThrownBy(() -> Expiry.sliding(Duration.ofDays(8))).hasMessageContaining("7 days");
    assertThatThrownBy(() -> CookiePolicy.builder().maxShardBytes(4097)).hasMessageContaining("4097");
  }
}
