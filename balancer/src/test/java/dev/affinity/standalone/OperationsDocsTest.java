package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.jetty.BalancerTestBase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.client.HttpClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard and the alert expressions in docs/operations.md use only metrics a running
 * balancer exports, and each family it exports is documented there: a renamed metric fails here, not
 * silently on someone's dashboard.
 */
class OperationsDocsTest {
  private static final Path DOCS = Path.of("..", "docs");
  private static final Pattern METRIC = Pattern.compile("\\baffinity_[a-z0-9_]+");
  private static final Pattern FAMILY = Pattern.compile("(?m)^# TYPE (affinity_[a-z0-9_]+) (counter|gauge|histogram)$");
  /** Exported only with a TLS listener (TlsLauncherTest scrapes it). */
  private static final String TLS_ONLY = "affinity_certificate_expiry_seconds";

  @TempDir
  Path dir;

  private static Set<String> used(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(text);
    while (m.find()) {
      names.add(m.group().replaceAll("_(bucket|sum|count)$", ""));
    }
    return names;
  }

  /** The metric families a balancer's scrape shows (the text format names counters with their {@code _total}). */
  private Set<String> exported() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys: [ { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" } ]\n"
        + "targetGroups:\n  - name: web\n    healthCheck: { enabled: false }\n"
        + "    targets: [ { id: web-1, uri: \"http://127.0.0.1:9\" } ]\n"
        + "rules: [ { priority: 1, when: { path: /maintenance }, fixedResponse: { status: 503 } } ]\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (BalancerLauncher.Running running = BalancerLauncher.run(new String[] {file.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out, true, StandardCharsets.UTF_8))) {
      HttpClient http = new HttpClient();
      http.start();
      try {
        // One request to the (refusing) target and a first scrape: the second scrape shows the request families with data.
        assertThat(http.GET(running.server().uri().resolve("/")).getStatus()).isEqualTo(503);
        http.GET(running.server().adminUri() + "/metrics");
        String text = http.GET(running.server().adminUri() + "/metrics").getContentAsString();
        Set<String> families = new TreeSet<>();
        Matcher m = FAMILY.matcher(text);
        while (m.find()) {
          families.add(m.group(1));
        }
        families.add(TLS_ONLY);
        return families;
      } finally {
        http.stop();
      }
    }
  }

  @Test
  void theDashboardAndTheAlertsUseOnlyExportedMetricsAndEveryExportedOneIsDocumented() throws Exception {
    Set<String> exported = exported();
    assertThat(exported).contains("affinity_request_duration_seconds", "affinity_responses_total", "affinity_open_connections");
    Set<String> dashboard = used(Files.readString(DOCS.resolve("grafana/affinity-dashboard.json")));
    assertThat(dashboard).isNotEmpty();
    assertThat(exported).containsAll(dashboard);
    String operations = Files.readString(DOCS.resolve("operations.md"));
    assertThat(exported).containsAll(used(operations.substring(operations.indexOf("## Alerts worth having"))));
    Set<String> documented = used(operations.substring(0, operations.indexOf("## Alerts worth having")));
    assertThat(documented).containsAll(exported);
    assertThat(exported).containsAll(documented);
  }
}
