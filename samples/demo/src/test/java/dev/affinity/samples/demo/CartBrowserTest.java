package dev.affinity.samples.demo;

import dev.affinity.jetty.HeadlessChromium;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The demo in a real headless Chromium (Debian's chromium and chromium-driver, which {@code .ci/run}
 * installs): a shopper fills the cart, kills the target they are pinned to with the page's Kill
 * button, reloads, and is failed over. Screenshots go to {@code target/screenshots/}. Skipped locally
 * when the browser is missing; in CI ({@code CI} set) a missing browser fails.
 */
class CartBrowserTest {
  private static final Path SCREENSHOTS = Path.of("target", "screenshots");
  private static Demo demo;
  private static ChromeDriver driver;
  private static WebDriverWait wait;

  @BeforeAll
  static void start() throws Exception {
    HeadlessChromium.requireInstalled();
    demo = Demo.start(0, System.err);
    driver = HeadlessChromium.start(1280, 900);
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

  @AfterEach
  void restartKilledTargets() throws Exception {
    for (CartTarget target : demo.targets()) {
      target.start();
    }
  }

  @Test
  void theShopPinsOnTheFirstItemAndFailsOverWhenItsTargetIsKilled() throws Exception {
    String killed = fillTheCartKillItsTargetAndReload("shop");
    String servedBy = text("served-by");
    assertThat(servedBy).startsWith("target-").isNotEqualTo(killed);
    assertThat(text("pinned-to")).isEqualTo(servedBy);
    assertThat(driver.findElement(By.id("failover")).isDisplayed()).isTrue();
    assertThat(text("failover")).contains("Failed over from " + killed);
    assertThat(driver.findElement(By.cssSelector("#demo-targets li[data-target='" + killed + "'] button")).getText())
        .isEqualTo("Restart");
    shot("shop-3-failed-over.png");

    driver.get(demo.uri().resolve("/affinity/status").toString());
    wait.until(d -> d.findElements(By.cssSelector("tr.target")).size() == 3);
    shot("status-page.png");
  }

  @Test
  void theCartKeepsItsThreeItemsWhenItsTargetIsKilled() throws Exception {
    String killed = fillTheCartKillItsTargetAndReload("cookie");
    assertThat(text("session-mode")).isEqualTo("cookie");
    assertThat(text("served-by")).isNotEqualTo(killed);
    assertThat(text("failover")).contains("Failed over from " + killed);
    assertThat(driver.findElement(By.tagName("body")).getAttribute("data-cart-count")).isEqualTo("3");
    assertThat(driver.findElements(By.cssSelector("#cart-lines li.line"))).hasSize(3);
    shot("cookie-3-cart-kept.png");
  }

  /** A new shopper adds three products, kills the pinned target from the page, and reloads; returns that target. */
  private static String fillTheCartKillItsTargetAndReload(String shots) throws Exception {
    driver.manage().deleteAllCookies();
    driver.get(demo.uri().resolve("/").toString());
    waitUntilReady();
    wait.until(d -> d.findElement(By.id("demo")).isDisplayed());
    for (String sku : List.of("espresso", "croissant", "honey")) {
      driver.findElement(By.cssSelector("article.product[data-sku='" + sku + "'] button.add")).click();
    }
    wait.until(d -> "3".equals(d.findElement(By.tagName("body")).getAttribute("data-cart-count")));
    String pinned = text("pinned-to");
    assertThat(pinned).startsWith("target-").isEqualTo(text("served-by"));
    assertThat(driver.findElement(By.cssSelector("#demo-targets li[data-target='" + pinned + "'] .you")).getText())
        .isEqualTo("you");
    assertThat(driver.findElement(By.id("failover")).isDisplayed()).isFalse();
    shot(shots + "-1-cart.png");

    driver.findElement(By.cssSelector("#demo-targets button.kill[data-id='" + pinned + "']")).click();
    wait.until(d -> ("kill " + pinned).equals(d.findElement(By.tagName("body")).getAttribute("data-last-action")));
    assertThat(demo.targets().stream().filter(t -> t.id().equals(pinned)).findFirst().orElseThrow().running()).isFalse();
    shot(shots + "-2-killed.png");

    driver.navigate().refresh();
    waitUntilReady();
    return pinned;
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
