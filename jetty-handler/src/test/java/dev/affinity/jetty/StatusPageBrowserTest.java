package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The status page in a real headless Chromium (Debian's chromium and chromium-driver, which
 * {@code .ci/run} installs): the targets appear, a Drain button drains, a target that answered 503
 * five times in a row shows as ejected (until when, and why), and a screenshot is kept under
 * {@code target/screenshots/}.
 */
class StatusPageBrowserTest extends BalancerTestBase {

  @Test
  void statusPageShowsTargetsDrainsFromTheButtonAndShowsAnEjectedTarget() throws Exception {
    HeadlessChromium.requireInstalled();
    startDuration("blue-1", "blue-2", "blue-3");
    for (int i = 0; i < 5; i++) {
      browser().get("/");
    }
    ChromeDriver driver = HeadlessChromium.start(1280, 800);
    try {
      driver.get(balancer.uri().resolve("/affinity/status").toString());
      // The page re-renders itself every 2 s, so elements found a moment ago can go stale: look again.
      WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(15));
      wait.ignoring(StaleElementReferenceException.class);
      List<String> ids = wait.until(d -> {
        List<String> found = d.findElements(By.cssSelector("tr.target")).stream().map(r -> r.getAttribute("data-target")).toList();
        return found.size() == 3 ? found : null;
      });
      assertThat(ids).containsExactly("blue-1", "blue-2", "blue-3");
      // until() fails the test with a TimeoutException if the condition never holds.
      wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-1']")).getText().contains("healthy"));
      wait.until(d -> d.findElement(By.id("cards")).getText().contains("cookies sealed"));

      wait.until(d -> {
        d.findElement(By.cssSelector("button[data-id='blue-2'][data-action='drain']")).click();
        return true;
      });
      wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-2']")).getText().contains("draining"));
      assertThat(balancer.balancer().router().target("blue-2").isDraining()).isTrue();

      // blue-1 answers 503 five times in a row: passive health ejects it, and the page says so.
      UserAgent pinned = null;
      for (int i = 0; i < 20 && pinned == null; i++) {
        UserAgent agent = browser();
        if ("blue-1".equals(agent.get("/").getHeaders().get("X-Backend"))) {
          pinned = agent;
        }
      }
      assertThat(pinned).as("a client pinned to blue-1").isNotNull();
      backends.answerStatus("blue-1", 503);
      for (int i = 0; i < 5; i++) {
        assertThat(pinned.get("/").getStatus()).isEqualTo(503);
      }
      assertThat(balancer.balancer().router().target("blue-1").health().isEjected(clock.instant())).isTrue();
      wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-1']")).getText().contains("ejected"));
      String row = wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-1']")).getText());
      assertThat(row).contains("until " + clock.instant().plusSeconds(30).toString().substring(11));
      String title = wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-1'] .pill")).getAttribute("title"));
      assertThat(title).contains("5 failed answers in a row (last: answered 503)");

      Path screenshots = Path.of("target", "screenshots");
      Files.createDirectories(screenshots);
      Path shot = driver.getScreenshotAs(OutputType.FILE).toPath();
      Files.copy(shot, screenshots.resolve("status-page.png"), StandardCopyOption.REPLACE_EXISTING);
      assertThat(Files.size(screenshots.resolve("status-page.png"))).isGreaterThan(10_000);
    } finally {
      driver.quit();
    }
  }

  @Test
  void statusPageShowsTheRulesAndAHitCountThatGrowsWithRequests() throws Exception {
    HeadlessChromium.requireInstalled();
    routing = TestRules.shop();
    startDuration("blue-1", "blue-2");
    for (int i = 0; i < 2; i++) {
      assertThat(browser().get("/shop/cart").getStatus()).isEqualTo(200);
    }
    assertThat(browser().get("/old/page").getStatus()).isEqualTo(301);
    ChromeDriver driver = HeadlessChromium.start(1280, 800);
    try {
      driver.get(balancer.uri().resolve("/affinity/status").toString());
      WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(15));
      wait.ignoring(StaleElementReferenceException.class);
      List<String> rules = wait.until(d -> {
        List<String> found = d.findElements(By.cssSelector("tr.rule"))
            .stream().map(r -> r.getAttribute("data-listener") + " / " + r.getAttribute("data-rule")).toList();
        return found.size() == 4 ? found : null;
      });
      assertThat(rules).containsExactly("every listener / shop", "every listener / priority 20", "every listener / maintenance",
          TestRules.OTHER_LISTENER + " / internal");
      String shop = wait.until(d -> d.findElement(By.cssSelector("tr.rule[data-rule='shop']")).getText());
      assertThat(shop).contains("path [prefix /shop/]").contains("forward to web");
      String hits = wait.until(d -> d.findElement(By.cssSelector("tr.rule[data-rule='shop'] td.hits")).getText());
      assertThat(hits).isEqualTo("2");
      String redirect = wait.until(d -> d.findElement(By.cssSelector("tr.rule[data-rule='priority 20']")).getText());
      assertThat(redirect).contains("redirect 301 to HTTPS://#{host}:443/new/#{path}?#{query}");
      assertThat(driver.findElement(By.id("rules")).getText()).contains("when none matches: the top-level forward");

      // Three more requests through the shop rule: the page, refreshing itself, shows the count grow.
      for (int i = 0; i < 3; i++) {
        assertThat(browser().get("/shop/item").getStatus()).isEqualTo(200);
      }
      wait.until(d -> d.findElement(By.cssSelector("tr.rule[data-rule='shop'] td.hits")).getText().equals("5"));
      wait.until(d -> d.findElement(By.id("cards")).getText().contains("1\nrule answers"));
      assertThat(driver.findElement(By.cssSelector("tr.rule[data-rule='maintenance'] td.hits")).getText()).isEqualTo("0");

      Path screenshots = Path.of("target", "screenshots");
      Files.createDirectories(screenshots);
      Path shot = driver.getScreenshotAs(OutputType.FILE).toPath();
      Files.copy(shot, screenshots.resolve("status-page-rules.png"), StandardCopyOption.REPLACE_EXISTING);
      assertThat(Files.size(screenshots.resolve("status-page-rules.png"))).isGreaterThan(10_000);
    } finally {
      driver.quit();
    }
  }
}
