package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/configuration.md is the user's reference: it must list exactly the keys the loader accepts,
 * and its examples must load. The accepted keys come from the section readers' {@link Schema}s, the
 * documented ones from the first column of the document's tables.
 */
class ConfigurationReferenceTest {
  private static final Path DOCUMENT = Path.of("../docs/configuration.md");
  /** A table row whose first cell is a key path in backticks (letters and digits: {@code listen.http2}): the key, and the example (fifth) cell. */
  private static final Pattern ROW = Pattern.compile("^\\| `([A-Za-z0-9.\\[\\]]+)` \\|(.*)$");

  private static Map<String, String> documentedExamples() throws IOException {
    Map<String, String> examples = new LinkedHashMap<>();
    for (String line : Files.readAllLines(DOCUMENT)) {
      Matcher row = ROW.matcher(line);
      if (row.matches()) {
        String[] cells = row.group(2).split("\\|", -1);
        assertThat(cells.length).as("cells of the row for %s (key, type, default, allowed, example, on reload)", row.group(1))
            .isEqualTo(6);
        String example = cells[3].trim();
        assertThat(example).as("example of %s", row.group(1)).startsWith("`").endsWith("`");
        assertThat(examples.put(row.group(1), example.substring(1, example.length() - 1)))
            .as("%s is listed twice", row.group(1)).isNull();
      }
    }
    return examples;
  }

  @Test
  void theDocumentListsExactlyTheKeysTheLoaderAccepts() throws IOException {
    SortedSet<String> accepted = BalancerConfigLoader.acceptedKeys();
    SortedSet<String> documented = new TreeSet<>(documentedExamples().keySet());
    SortedSet<String> undocumented = new TreeSet<>(accepted);
    undocumented.removeAll(documented);
    SortedSet<String> refused = new TreeSet<>(documented);
    refused.removeAll(accepted);
    assertThat(undocumented).as("keys the loader accepts but %s does not list", DOCUMENT).isEmpty();
    assertThat(refused).as("keys %s lists but the loader refuses", DOCUMENT).isEmpty();
    assertThat(documented).hasSizeGreaterThan(50);
  }

  /**
   * Keys that exclude each other (listen or listeners; PEM certificates or a key store; TLS or a
   * redirect; HTTP's health check path and matcher or a GRPC group's service name) cannot all be in one
   * file: each variant leaves out the keys under these prefixes. The variant without the HTTP health
   * check keys makes its group a GRPC one ({@link #GRPC_VARIANT}).
   */
  private static final List<String> GATEWAY_TIMEOUTS = List.of("targetGroups[].stickiness.idleTimeout",
      "targetGroups[].stickiness.absoluteTimeout", "targetGroups[].stickiness.lifetime");
  /** A rule (and the default action) takes one action; the default action replaces forward and groupStickiness. */
  private static final List<String> ONE_RULE_ACTION = List.of("rules[].redirect", "rules[].fixedResponse", "defaultAction");
  private static final List<String> PLAIN = List.of("listeners", "listen.tls.keystore", "listen.tls.password");
  private static final String GRPC_SERVICE = "targetGroups[].healthCheck.grpcService";
  /** TLS to targets needs https:// targets (and discovery of https ones): only {@link #TLS_VARIANT} has it. */
  private static final String TARGET_TLS = "targetGroups[].tls";
  /** HTTP's health check path and matcher or a GRPC group's service name: this variant makes its group a GRPC one. */
  private static final List<String> GRPC_VARIANT = with(GATEWAY_TIMEOUTS, ONE_RULE_ACTION, "listeners", "listen.tls.keystore",
      "listen.tls.password", "targetGroups[].healthCheck.path", "targetGroups[].healthCheck.matcher", TARGET_TLS);
  /** With {@code targetGroups[].tls}: its target is made https:// and discovery (of http targets in its example) left out. */
  private static final List<String> TLS_VARIANT = with(with(PLAIN, GATEWAY_TIMEOUTS, GRPC_SERVICE, "targetGroups[].discovery"),
      ONE_RULE_ACTION);
  private static final List<List<String>> VARIANTS = withGrpcVariant(
      with(GATEWAY_TIMEOUTS, ONE_RULE_ACTION, "listeners", "listen.tls.keystore", "listen.tls.password"),
      with(GATEWAY_TIMEOUTS, ONE_RULE_ACTION, "listeners", "listen.tls.certificates"),
      with(GATEWAY_TIMEOUTS, ONE_RULE_ACTION, "listen.", "listeners[].tls.keystore", "listeners[].tls.password", "listeners[].redirectToHttps"),
      with(GATEWAY_TIMEOUTS, ONE_RULE_ACTION, "listen.", "listeners[].tls.certificates", "listeners[].redirectToHttps"),
      // Gateway API's timeouts replace the classic duration keys: they are refused together.
      with(PLAIN, ONE_RULE_ACTION, "targetGroups[].stickiness.duration", "targetGroups[].stickiness.sliding",
          "targetGroups[].stickiness.browserSession"),
      // Each rule action, and each default action (which replaces the top-level forward).
      with(PLAIN, GATEWAY_TIMEOUTS, "rules[].forward", "rules[].fixedResponse", "rules[].persistence",
          "defaultAction.redirect", "defaultAction.fixedResponse", "forward", "groupStickiness"),
      with(PLAIN, GATEWAY_TIMEOUTS, "rules[].forward", "rules[].redirect", "rules[].persistence",
          "defaultAction.forward", "defaultAction.fixedResponse", "forward", "groupStickiness"),
      with(PLAIN, GATEWAY_TIMEOUTS, "rules[].redirect", "rules[].fixedResponse",
          "defaultAction.forward", "defaultAction.redirect", "forward", "groupStickiness"));

  /** Every variant without grpcService (its groups are HTTP ones), then {@link #GRPC_VARIANT}. */
  @SafeVarargs
  private static List<List<String>> withGrpcVariant(List<String>... http) {
    List<List<String>> all = new ArrayList<>();
    for (List<String> variant : http) {
      all.add(with(variant, GRPC_SERVICE, TARGET_TLS));
    }
    all.add(GRPC_VARIANT);
    all.add(TLS_VARIANT);
    return List.copyOf(all);
  }

  private static List<String> with(List<String> more, String... keys) {
    List<String> all = new ArrayList<>(List.of(keys));
    all.addAll(more);
    return List.copyOf(all);
  }

  private static List<String> with(List<String> more, List<String> evenMore, String... keys) {
    List<String> all = new ArrayList<>(with(more, keys));
    all.addAll(evenMore);
    return List.copyOf(all);
  }

  @Test
  @SuppressWarnings("unchecked")
  void aFileMadeOfTheDocumentsExamplesLoads(@TempDir Path files) throws IOException {
    TlsFiles.writeTo(files);
    Map<String, String> examples = documentedExamples();
    // Leaves only: a section's own example shows it alone, its keys' examples build it whole.
    List<String> leaves = new ArrayList<>();
    for (String key : examples.keySet()) {
      if (examples.keySet().stream().noneMatch(k -> k.startsWith(key + ".") || k.startsWith(key + "[]."))) {
        leaves.add(key);
      }
    }
    SortedSet<String> loaded = new TreeSet<>();
    for (List<String> leftOut : VARIANTS) {
      Map<String, Object> root = new LinkedHashMap<>();
      for (String key : leaves) {
        if (leftOut.stream().noneMatch(key::startsWith)) {
          put(root, key.split("\\."), 0, examples.get(key));
          loaded.add(key);
        }
      }
      if (leftOut == TLS_VARIANT) {
        Map<String, Object> group = (Map<String, Object>) ((List<Object>) root.get("targetGroups")).get(0);
        Map<String, Object> target = (Map<String, Object>) ((List<Object>) group.get("targets")).get(0);
        target.put("uri", target.get("uri").toString().replace("http://", "https://"));
      }
      if (leftOut == GRPC_VARIANT) {
        ((Map<String, Object>) ((List<Object>) root.get("targetGroups")).get(0)).put("protocolVersion", "GRPC");
      }
      boolean listenersVariant = root.containsKey("listeners");
      if (listenersVariant && leftOut.contains("listeners[].redirectToHttps") && leftOut.contains("listeners[].tls.keystore")) {
        // The redirect example needs a TLS listener to point at: the first entry is one.
        ((List<Object>) root.get("listeners")).add(new LinkedHashMap<>(Map.of("port", "8080",
            "redirectToHttps", examples.get("listeners[].redirectToHttps"))));
        loaded.add("listeners[].redirectToHttps");
      }
      String yaml = flow(root);
      BalancerConfig config = BalancerConfigLoader.parse(yaml, "examples of " + DOCUMENT + " without " + leftOut, files);
      // Every leaf example reached the loader: spot-check one per kind of section.
      assertThat(config.targetGroups().get(0).stickiness().appCookie()).isEqualTo("JSESSIONID");
      assertThat(config.targetGroups().get(0).targets().get(0).id()).isEqualTo("blue-1");
      assertThat(config.forward().get(0).group()).isEqualTo("blue");
      assertThat(config.listen().tls()).isNotNull();
      assertThat(config.admin().port()).isEqualTo(9090);
      if (listenersVariant && config.listeners().size() == 2) {
        assertThat(config.listeners().get(1).redirectToHttps()).isEqualTo(config.listen().port());
      }
    }
    assertThat(loaded).as("every example loaded in some variant").containsAll(leaves);
  }

  @Test
  void theCompleteFileAtTheTopLoadsAndUsesEveryKey(@TempDir Path files) throws IOException {
    TlsFiles.writeTo(files);
    String text = Files.readString(DOCUMENT);
    int start = text.indexOf("```yaml\n");
    String yaml = text.substring(start + "```yaml\n".length(), text.indexOf("```", start + 8));
    BalancerConfig config = BalancerConfigLoader.parse(yaml, DOCUMENT + " (complete file)", files);
    assertThat(config.targetGroups()).hasSize(3);
    for (String key : BalancerConfigLoader.acceptedKeys()) {
      String last = key.substring(key.lastIndexOf('.') + 1).replace("[]", "");
      assertThat(yaml).as("the complete file shows %s", key).contains(last + ":");
    }
  }

  @SuppressWarnings("unchecked")
  private static void put(Map<String, Object> map, String[] path, int at, String value) {
    String segment = path[at];
    if (at == path.length - 1) {
      map.put(segment, value);
      return;
    }
    Map<String, Object> child;
    if (segment.endsWith("[]")) {
      List<Object> list = (List<Object>) map.computeIfAbsent(segment.substring(0, segment.length() - 2), k -> new ArrayList<>());
      if (list.isEmpty()) {
        list.add(new LinkedHashMap<String, Object>());
      }
      child = (Map<String, Object>) list.get(0);
    } else {
      child = (Map<String, Object>) map.computeIfAbsent(segment, k -> new LinkedHashMap<String, Object>());
    }
    put(child, path, at + 1, value);
  }

  /** YAML flow style: the examples are YAML scalars already, written as they stand. */
  private static String flow(Object value) {
    if (value instanceof Map<?, ?> map) {
      List<String> entries = new ArrayList<>();
      map.forEach((k, v) -> entries.add(k + ": " + flow(v)));
      return "{ " + String.join(", ", entries) + " }";
    }
    if (value instanceof List<?> list) {
      List<String> items = new ArrayList<>();
      list.forEach(v -> items.add(flow(v)));
      return "[ " + String.join(", ", items) + " ]";
    }
    return value.toString();
  }
}
