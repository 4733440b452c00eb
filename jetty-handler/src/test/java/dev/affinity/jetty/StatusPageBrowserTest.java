package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
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

  private static final Duration SLOW_START = Duration.ofMinutes(5);
  private static final Duration DEREGISTRATION_DELAY = Duration.ofMinutes(2);

  private TargetGroup.Builder web() {
    return TargetGroup.builder("web")
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .slowStart(SLOW_START)
        .deregistrationDelay(DEREGISTRATION_DELAY)
        .healthCheck(new HealthCheckSettings(true, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
  }

  /** A reload of group "web" to {@code ids}, which the balancer swaps in as the launcher's Topology does. */
  private void reload(Map<String, URI> ids) {
    TargetGroup before = balancer.balancer().router().group("web");
    TargetGroup.Builder g = web().reloading(before, clock.instant());
    ids.forEach((id, uri) -> g.target(id, uri, 1));
    balancer.balancer().router(Router.builder(cookies).group(g.build()).build());
  }

  /** One sample interval: each client sends {@code perClient} requests, then the clock and the sampler move 5 s. */
  private void interval(List<UserAgent> clients, int perClient) throws Exception {
    for (UserAgent client : clients) {
      for (int i = 0; i < perClient; i++) {
        assertThat(client.get("/").getStatus()).isEqualTo(200);
      }
    }
    clock.advance(Duration.ofSeconds(5));
    historyScheduler.advance(Duration.ofSeconds(5));
  }

  @Test
  void statusPageChartsEachTargetAndShowsTargetsJoiningDrainingAndLeaving() throws Exception {
    HeadlessChromium.requireInstalled();
    historyScheduler = new ManualScheduler();
    start(g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .slowStart(SLOW_START).deregistrationDelay(DEREGISTRATION_DELAY), CookiePolicy.defaults(), "blue-1", "blue-2", "blue-3");
    try (Backends late = Backends.start("blue-4")) {
      List<UserAgent> clients = new ArrayList<>();
      for (int i = 0; i < 9; i++) {
        clients.add(browser());
      }
      for (int i = 0; i < 6; i++) {
        interval(clients, 1 + i % 3);
      }
      // blue-3 is taken out of the configuration (it drains for its delay, then leaves); blue-4 joins and ramps.
      reload(Map.of("blue-1", backends.uri("blue-1"), "blue-2", backends.uri("blue-2"), "blue-4", late.uri("blue-4")));
      for (int i = 0; i < 4; i++) {
        clients.add(browser());
      }
      for (int i = 0; i < 24; i++) {
        interval(clients, 1 + i % 2);
      }
      // Past blue-3's delay: the next rebuild drops it, and the page lists it as left. An operator drains blue-2.
      reload(Map.of("blue-1", backends.uri("blue-1"), "blue-2", backends.uri("blue-2"), "blue-4", late.uri("blue-4")));
      assertThat(balancer.balancer().router().target("blue-3")).isNull();
      balancer.balancer().router().target("blue-2").drain(clock.instant());
      // New clients: blue-4 takes its ramping share of them (blue-2 takes none).
      for (int i = 0; i < 10; i++) {
        clients.add(browser());
      }
      for (int i = 0; i < 3; i++) {
        interval(clients, 2);
      }

      ChromeDriver driver = HeadlessChromium.start(1280, 1100);
      try {
        driver.get(balancer.uri().resolve("/affinity/status").toString());
        WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(15));
        wait.ignoring(StaleElementReferenceException.class);
        // A uPlot canvas per target, the one that left included.
        List<String> charted = wait.until(d -> {
          List<String> found = d.findElements(By.cssSelector("div.chart")).stream()
              .filter(c -> !c.findElements(By.cssSelector(".uplot canvas")).isEmpty())
              .map(c -> c.getAttribute("data-target")).toList();
          return found.size() == 4 ? found : null;
        });
        assertThat(charted).containsExactlyInAnyOrder("blue-1", "blue-2", "blue-4", "blue-3");
        assertThat(charted.get(3)).as("targets that left come after the members").isEqualTo("blue-3");
        String blue1 = wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-1']")).getText());
        assertThat(blue1).contains("healthy");
        // Drained 15 s ago with a 2-minute delay.
        assertThat(driver.findElement(By.cssSelector("tr[data-target='blue-2']")).getText()).contains("draining · 1m 45s left");
        long ramp = (long) Math.floor(100.0 * (6 * 5 + 24 * 5 + 3 * 5 - 30) / SLOW_START.toSeconds());
        assertThat(driver.findElement(By.cssSelector("tr[data-target='blue-4']")).getText()).contains("ramping · " + ramp + "%").contains("new");
        assertThat(driver.findElement(By.cssSelector("tr.left[data-target='blue-3']")).getText()).contains("left");
        assertThat(driver.findElement(By.cssSelector("div.chart[data-target='blue-3']")).getAttribute("class")).contains("gone");
        assertThat(driver.findElement(By.cssSelector("div.chart[data-target='blue-4'] .title")).getText()).contains("ramping");
        assertThat(balancer.balancer().router().target("blue-4").requests()).as("blue-4 took some new clients while ramping").isPositive();
        assertThat(driver.findElement(By.cssSelector(".charts-note")).getText())
            .contains("a sample every 5s").contains("sticky hits, new pins and re-pins");

        // The library is the balancer's own: the script's source and every resource the page loaded.
        String origin = balancer.uri().resolve("/").toString();
        WebElement script = driver.findElement(By.cssSelector("script[src]"));
        assertThat(script.getAttribute("src")).isEqualTo(balancer.uri().resolve("/affinity/assets/uplot.iife.min.js").toString());
        @SuppressWarnings("unchecked")
        List<String> loaded = (List<String>) driver.executeScript(
            "return performance.getEntriesByType('resource').map(e => e.name);");
        assertThat(loaded).contains(origin + "affinity/assets/uplot.iife.min.js", origin + "affinity/assets/uplot.min.css")
            .allSatisfy(url -> assertThat(url).startsWith(origin));

        // Samples go into the same charts at the next refresh, without reloading the page.
        Object marker = driver.executeScript("window.notReloaded = true; return plots.get('web\u0000blue-1').plot.data[0].length;");
        assertThat(((Number) marker).intValue()).isEqualTo(6 + 24 + 3);
        interval(clients, 2);
        wait.until(d -> ((Number) driver.executeScript("return plots.get('web\u0000blue-1').plot.data[0].length;")).intValue() == 34);
        assertThat(driver.executeScript("return window.notReloaded === true;")).isEqualTo(true);
        Object rps = driver.executeScript("const d = plots.get('web\u0000blue-1').plot.data; return d[1][d[1].length - 1];");
        assertThat(((Number) rps).doubleValue()).as("blue-1's requests/s in the last interval").isPositive();

        Path screenshots = Path.of("target", "screenshots");
        Files.createDirectories(screenshots);
        Path shot = driver.getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, screenshots.resolve("status-page-charts.png"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.size(screenshots.resolve("status-page-charts.png"))).isGreaterThan(20_000);
      } finally {
        driver.quit();
      }
    }
  }
}
