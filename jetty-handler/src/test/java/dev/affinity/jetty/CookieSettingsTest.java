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
}
