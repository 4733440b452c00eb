package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The status page in a real headless Chromium (Debian's chromium and chromium-driver, which
 * {@code .ci/run} installs): the targets appear, a Drain button drains, and a screenshot is kept
 * under {@code target/screenshots/}.
 */
class StatusPageBrowserTest extends BalancerTestBase {
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  @Test
  void statusPageShowsTargetsAndDrainsFromTheButton() throws Exception {
    boolean installed = Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM);
    if (System.getenv("CI") == null) {
      Assumptions.assumeTrue(installed, "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)");
    } else {
      assertThat(installed).as("CI must install chromium and chromium-driver").isTrue();
    }
    startDuration("blue-1", "blue-2", "blue-3");
    for (int i = 0; i < 5; i++) {
      browser().get("/");
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-quic", "--window-size=1280,800", "--user-data-dir=" + Files.createTempDirectory("affinity-chromium"));
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build();
    ChromeDriver driver = new ChromeDriver(service, options);
    try {
      driver.get(balancer.uri().resolve("/affinity/status").toString());
      WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(15));
      wait.until(d -> d.findElements(By.cssSelector("tr.target")).size() == 3);
      List<WebElement> rows = driver.findElements(By.cssSelector("tr.target"));
      assertThat(rows).extracting(r -> r.getAttribute("data-target")).containsExactly("blue-1", "blue-2", "blue-3");
      assertThat(rows.get(0).getText()).contains("healthy");
      assertThat(driver.findElement(By.id("cards")).getText()).contains("cookies sealed");

      driver.findElement(By.cssSelector("button[data-id='blue-2'][data-action='drain']")).click();
      wait.until(d -> d.findElement(By.cssSelector("tr[data-target='blue-2']")).getText().contains("draining"));
      assertThat(balancer.balancer().router().target("blue-2").isDraining()).isTrue();

      Path screenshots = Path.of("target", "screenshots");
      Files.createDirectories(screenshots);
      Path shot = driver.getScreenshotAs(OutputType.FILE).toPath();
      Files.copy(shot, screenshots.resolve("status-page.png"), StandardCopyOption.REPLACE_EXISTING);
      assertThat(Files.size(screenshots.resolve("status-page.png"))).isGreaterThan(10_000);
    } finally {
      driver.quit();
    }
  }
}
