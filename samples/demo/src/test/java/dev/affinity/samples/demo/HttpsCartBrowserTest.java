package dev.affinity.samples.demo;

import dev.affinity.jetty.HeadlessChromium;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.tls.ServerCertificates;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The demo with {@code --https} in a real headless Chromium (Debian's chromium and chromium-driver):
 * the browser follows the plain port's redirect, shops over h2, holds the filter's affinity cookies
 * with {@code Secure}, {@code HttpOnly} and {@code SameSite=Lax}, stays on its target over reloads, and
 * keeps its cart when that target is killed. Chromium trusts the demo's certificate through
 * {@code --ignore-certificate-errors-spki-list}, which accepts exactly the demo server's key: a
 * server with any other key still gets the certificate error (the last test). Screenshots go to
 * {@code target/screenshots/https-*}. Skipped locally without the browser; in CI ({@code CI} set) a
 * missing browser fails.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HttpsCartBrowserTest {
  private static final Path SCREENSHOTS = Path.of("target", "screenshots");
  private static final List<String> AFFINITY_COOKIES = List.of("AFFINITYROUTE", "AFFINITYSESSION");
  private static Demo demo;
  private static ChromeDriver driver;
  private static WebDriverWait wait;
  /** The https URL as a user types it: the certificate names localhost. */
  private static String shop;

  @BeforeAll
  static void start() throws Exception {
    HeadlessChromium.requireInstalled();
    demo = Demo.startHttps(0, 0, System.err);
    shop = "https://localhost:" + demo.uri().getPort() + "/";
    // No --ignore-certificate-errors: only the demo server's key is let through. The SPKI list is
    // honoured only with a --user-data-dir.
    driver = HeadlessChromium.start(1280, 900, "--ignore-certificate-errors-spki-list=" + demo.certificates().serverKeyPin());
    wait = new WebDriverWait(driver, Duration.ofSeconds(15));
    Files.createDirectories(SCREENSHOTS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (driver != null) {
      driver.quit();
    }
    if (demo != null) {
      demo.close();
    }
  }

  @Test
  @Order(1)
  void theCartWorksOverH2WithSecureCookiesAndSurvivesReloadsAndTheLossOfItsTarget() throws Exception {
    // Typed as http://: the plain port sends the browser to HTTPS.
    driver.get("http://localhost:" + demo.redirectUri().getPort() + "/");
    waitUntilReady();
    assertThat(driver.getCurrentUrl()).isEqualTo(shop);
    assertThat(navigationProtocol()).isEqualTo("h2");

    for (String sku : List.of("espresso", "croissant", "honey")) {
      driver.findElement(By.cssSelector("article.product[data-sku='" + sku + "'] button.add")).click();
    }
    wait.until(d -> "3".equals(d.findElement(By.tagName("body")).getAttribute("data-cart-count")));
    String pinned = text("pinned-to");
    assertThat(pinned).startsWith("target-").isEqualTo(text("served-by"));
    assertThat(apiProtocols()).as("the page's fetches to /api/cart").isNotEmpty().containsOnly("h2");
    assertSecureAffinityCookies(pinned);
    shot("https-1-cart.png");

    for (int i = 0; i < 3; i++) {
      driver.navigate().refresh();
      waitUntilReady();
      assertThat(text("served-by")).as("reload %d", i + 1).isEqualTo(pinned);
      assertThat(driver.findElement(By.tagName("body")).getAttribute("data-cart-count")).isEqualTo("3");
      assertThat(navigationProtocol()).isEqualTo("h2");
    }

    driver.findElement(By.cssSelector("#demo-targets button.kill[data-id='" + pinned + "']")).click();
    wait.until(d -> ("kill " + pinned).equals(d.findElement(By.tagName("body")).getAttribute("data-last-action")));
    assertThat(demo.targets().stream().filter(t -> t.id().equals(pinned)).findFirst().orElseThrow().running()).isFalse();
    driver.navigate().refresh();
    waitUntilReady();
    String servedBy = text("served-by");
    assertThat(servedBy).startsWith("target-").isNotEqualTo(pinned);
    assertThat(text("pinned-to")).isEqualTo(servedBy);
    assertThat(text("failover")).contains("Failed over from " + pinned);
    assertThat(driver.findElement(By.tagName("body")).getAttribute("data-cart-count")).isEqualTo("3");
    assertThat(driver.findElements(By.cssSelector("#cart-lines li.line"))).hasSize(3);
    assertThat(navigationProtocol()).isEqualTo("h2");
    // The new target pinned the browser again, with a cookie just as secure.
    assertSecureAffinityCookies(servedBy);
    shot("https-2-failed-over.png");
  }

  @Test
  @Order(2)
  void aServerWithAnyOtherKeyIsStillRefused() throws Exception {
    // Same names, same kind of throwaway CA, another key: only the pinned key is let through.
    Path dir = Files.createTempDirectory("affinity-other-tls");
    DemoCertificates other = DemoCertificates.create(dir, Instant.now());
    ServerCertificates certificates = ServerCertificates.pem(List.of(other.server()));
    KeyStore store = certificates.load();
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(store, certificates.keyPassword().toCharArray());
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(keys.getKeyManagers(), null, null);
    HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls));
    server.createContext("/", exchange -> {
      byte[] body = "<html><body id=served>served</body></html>".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
    try {
      driver.get("https://localhost:" + server.getAddress().getPort() + "/");
      wait.until(d -> !d.findElements(By.tagName("body")).isEmpty());
      shot("https-3-other-key-refused.png");
      assertThat(driver.findElements(By.id("served"))).as("the page of a server with another key").isEmpty();
      assertThat(driver.getPageSource()).contains("ERR_CERT_AUTHORITY_INVALID");
    } finally {
      server.stop(0);
    }
  }

  private static void assertSecureAffinityCookies(String target) {
    Map<String, Cookie> cookies = driver.manage().getCookies().stream()
        .filter(c -> c.getName().startsWith("AFFINITY")).collect(Collectors.toMap(Cookie::getName, c -> c));
    assertThat(cookies).containsOnlyKeys(AFFINITY_COOKIES);
    for (Cookie cookie : cookies.values()) {
      assertThat(cookie.isSecure()).as("%s Secure", cookie).isTrue();
      assertThat(cookie.isHttpOnly()).as("%s HttpOnly", cookie).isTrue();
      assertThat(cookie.getSameSite()).as("%s SameSite", cookie).isEqualTo("Lax");
      assertThat(cookie.getPath()).isEqualTo("/");
      assertThat(cookie.getDomain()).as("host-only").isEqualTo("localhost");
    }
    assertThat((String) driver.executeScript("return document.cookie")).as("HttpOnly: no script sees them")
        .doesNotContain("AFFINITY");
    AffinityCookies codec = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.parse(demo.keys())).build(), CookiePolicy.defaults());
    Map<String, String> jar = cookies.values().stream().collect(Collectors.toMap(Cookie::getName, Cookie::getValue));
    assertThat(codec.read(CookieSource.of(jar), codec.names().route()).orElseThrow().targetId())
        .as("the route cookie the browser holds pins it to %s", target).isEqualTo(target);
  }

  private static String navigationProtocol() {
    return (String) driver.executeScript("return performance.getEntriesByType('navigation')[0].nextHopProtocol");
  }

  @SuppressWarnings("unchecked")
  private static List<String> apiProtocols() {
    return (List<String>) driver.executeScript("return performance.getEntriesByType('resource')"
        + ".filter(e => e.name.includes('/api/cart')).map(e => e.nextHopProtocol)");
  }

  private static void waitUntilReady() {
    wait.until(d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-ready")));
    assertThat(driver.findElement(By.id("error")).isDisplayed()).as("page error: %s", text("error")).isFalse();
  }

  private static String text(String id) {
    return driver.findElement(By.id(id)).getText().trim();
  }

  private static void shot(String name) throws Exception {
    Path file = driver.getScreenshotAs(OutputType.FILE).toPath();
    Files.copy(file, SCREENSHOTS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    assertThat(Files.size(SCREENSHOTS.resolve(name))).isGreaterThan(10_000);
  }
}
