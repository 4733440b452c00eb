package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import java.time.Duration;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpHeader;

/** No cookie setting the loader accepts can make a request answer 5xx, on either path. */
class CookieSettingsTest extends BalancerTestBase {

  @OverBothPaths
  void sameSiteNoneUnderSecureAutoAnswersAPlainRequestWithALaxCookie(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)))),
        CookiePolicy.builder().sameSite(SameSite.NONE).secure(SecureMode.AUTO).cors(true).build(), "a");
    ContentResponse r = browser().get("/");
    // It answered 500 with an IllegalArgumentException page before.
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getHeaders().getValuesList(HttpHeader.SET_COOKIE))
        .anySatisfy(c -> assertThat(c).startsWith("AFFINITY=").contains("SameSite=Lax").doesNotContain("Secure"))
        // The CORS companion is SameSite=None; Secure by definition: a browser keeps it only over HTTPS.
        .anySatisfy(c -> assertThat(c).startsWith("AFFINITYCORS=").contains("SameSite=None").contains("Secure"));
    path.assertTaken(balancer.balancer());
  }

  /**
   * Sealed values are case-sensitive. A forged cookie differing from a genuine one only in the case of one
   * letter, sent just before it on the same kept-alive connection, must not stand in for it. (A Jetty
   * webapp with the default header cache fails this: see jakarta-filter's FilterContractTest. The balancer
   * runs without that cache.)
   */
  @OverBothPaths
  void aCookieDifferingOnlyInCaseFromTheOneBeforeItIsReadAsSent(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    String genuine = pinCookie("b");
    char[] chars = genuine.toCharArray();
    int letter = chars.length / 2 + 8; // inside the ciphertext, where any change fails authentication
    while (!Character.isLetter(chars[letter])) {
      letter--;
    }
    chars[letter] = Character.isUpperCase(chars[letter])
        ? Character.toLowerCase(chars[letter]) : Character.toUpperCase(chars[letter]);
    String caseChanged = new String(chars);
    try (Http1Connection connection = new Http1Connection(balancer.port())) {
      for (int i = 0; i < 4; i++) {
        connection.send("/", "Cookie: " + caseChanged + "\r\n");
        Http1Connection.Answer forged = connection.read();
        assertThat(forged.status()).isEqualTo(200);
        assertThat(forged.headers().get("set-cookie")).as("a forged pin is replaced").startsWith("AFFINITY=");
        connection.send("/", "Cookie: " + genuine + "\r\n");
        assertThat(connection.read().headers().get("x-backend")).isEqualTo("b");
      }
    }
    assertThat(counters.rejections()).containsKey(dev.affinity.cookie.Rejection.TAMPERED);
  }
}
