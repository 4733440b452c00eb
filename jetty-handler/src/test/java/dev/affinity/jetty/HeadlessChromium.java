package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * A real headless Chromium for browser tests (Debian's chromium and chromium-driver, which
 * {@code .ci/run} installs): one place for the flags every test needs, so that the tests say only
 * what differs (a window size, the one server key to trust).
 */
public final class HeadlessChromium {
  public static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  public static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  private HeadlessChromium() {}

  /** Skips the test on a developer machine without Chromium; in CI (where it must be installed) fails it. */
  public static void requireInstalled() {
    boolean installed = Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM);
    if (System.getenv("CI") == null) {
      Assumptions.assumeTrue(installed, "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)");
    } else {
      assertThat(installed).as("CI must install chromium and chromium-driver").isTrue();
    }
  }

  /**
   * Starts Chromium headless with a fresh profile (needed for {@code --ignore-certificate-errors-spki-list}
   * to be honoured), no background traffic and no QUIC, at {@code width}x{@code height}.
   *
   * @param moreArguments extra command-line switches, e.g. the SPKI pin of the one server key to trust
   */
  public static ChromeDriver start(int width, int height, String... moreArguments) throws IOException {
    requireInstalled();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    List<String> arguments = new ArrayList<>(List.of("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-quic", "--window-size=" + width + "," + height,
        "--user-data-dir=" + Files.createTempDirectory("affinity-chromium")));
    arguments.addAll(List.of(moreArguments));
    options.addArguments(arguments);
    return new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build(), options);
  }
}
