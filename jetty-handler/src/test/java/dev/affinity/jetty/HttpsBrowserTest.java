package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.tls.ServerCertificates;
import dev.affinity.tls.TestPki;
import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyForm;
import dev.affinity.tls.TestPki.KeyKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * A real headless Chromium over HTTPS to a TLS listener whose PEM certificate a CA made by the test
 * signed: Chromium trusts exactly that server key ({@code --ignore-certificate-errors-spki-list},
 * no certificate check switched off), speaks h2 chosen by ALPN, and keeps the balancer's own
 * {@code AFFINITY} cookie with {@code Secure}, which holds it on one target.
 */
class HttpsBrowserTest extends BalancerTestBase {

  @TempDir
  Path dir;

  @Test
  void chromiumKeepsASecureAffinityCookieOverH2AndStaysOnItsTarget() throws Exception {
    HeadlessChromium.requireInstalled();
    Issued site = TestPki.newCa("Affinity Browser Test CA").issueServer("localhost", KeyKind.EC, Duration.ofDays(30),
        "localhost", "127.0.0.1");
    ServerCertificates certificates = ServerCertificates.pem(List.of(new dev.affinity.tls.PemPair(
        site.writeChain(dir.resolve("site.crt")), site.writeKey(dir.resolve("site.key"), KeyForm.SEC1_WITH_PARAMETERS))));
    backends = Backends.start("a", "b", "c");
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(),
        CookiePolicy.defaults());
    TargetGroup.Builder web = TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399,
            Duration.ofSeconds(10)));
    for (String id : List.of("a", "b", "c")) {
      web.target(id, backends.uri(id), 1);
    }
    balancer = AffinityServer.builder(Router.builder(cookies).group(web.build()).build(), counters).clock(clock)
        .listener(ListenerSpec.builder().host("127.0.0.1").port(0).tls(ListenerSpec.Tls.builder(certificates).build()).build())
        .build().start();
    String pin = Base64.getEncoder().encodeToString(
        MessageDigest.getInstance("SHA-256").digest(site.certificate().getPublicKey().getEncoded()));

    ChromeDriver driver = HeadlessChromium.start(1280, 800, "--ignore-certificate-errors-spki-list=" + pin);
    try {
      String url = "https://localhost:" + balancer.port() + "/";
      driver.get(url);
      String first = driver.findElement(By.tagName("body")).getText().trim();
      assertThat(first).isIn("a", "b", "c");
      assertThat(driver.executeScript("return performance.getEntriesByType('navigation')[0].nextHopProtocol")).isEqualTo("h2");
      Cookie affinity = driver.manage().getCookieNamed("AFFINITY");
      assertThat(affinity).as("the browser keeps the AFFINITY cookie").isNotNull();
      assertThat(affinity.isSecure()).isTrue();
      assertThat(affinity.isHttpOnly()).isTrue();
      assertThat(affinity.getSameSite()).isEqualTo("Lax");
      assertThat((String) driver.executeScript("return document.cookie")).doesNotContain("AFFINITY");
      for (int i = 0; i < 5; i++) {
        driver.navigate().refresh();
        assertThat(driver.findElement(By.tagName("body")).getText().trim()).as("reload %d", i).isEqualTo(first);
      }
      // Every request went to the pinned target (pages and the favicon the browser asks for beside them).
      assertThat(backends.get(first).requests.get()).isGreaterThanOrEqualTo(6);
      for (String other : List.of("a", "b", "c")) {
        if (!other.equals(first)) {
          assertThat(backends.get(other).requests.get()).as("requests to %s", other).isZero();
        }
      }
      assertThat(backends.get(first).lastHeaders).containsEntry("x-forwarded-proto", "https");
    } finally {
      driver.quit();
    }
  }
}
