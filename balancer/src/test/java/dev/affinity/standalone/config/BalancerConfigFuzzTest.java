package dev.affinity.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Seeded mutations of valid files: whatever comes in, the loader returns a config or throws a
 * one-line {@link ConfigException}; no SnakeYAML exception, NPE or stack overflow gets out.
 */
class BalancerConfigFuzzTest {
  private static final long SEED = 0xAFF1_7173L;
  private static final int DOCUMENTS = 5000;

  @Test
  void mutatedDocumentsOnlyEverGiveConfigOrConfigException() throws Exception {
    List<String> seeds = List.of(
        BalancerConfigLoaderTest.DESIGN_EXAMPLE,
        Files.readString(Path.of("balancer.example.yaml")),
        BalancerConfigLoaderTest.MINIMAL);
    Random random = new Random(SEED);
    int parsed = 0;
    int refused = 0;
    for (int i = 0; i < DOCUMENTS; i++) {
      String seed = seeds.get(i % seeds.size());
      String doc = seed;
      int mutations = 1 + random.nextInt(4);
      for (int m = 0; m < mutations; m++) {
        doc = mutate(doc, random);
      }
      try {
        BalancerConfig config = BalancerConfigLoader.parse(doc, "fuzz.yaml");
        assertThat(config.targetGroups()).isNotEmpty();
        assertThat(config.forward()).isNotEmpty();
        parsed++;
      } catch (ConfigException e) {
        refused++;
        assertThat(e.getMessage()).as("document %d", i).startsWith("fuzz.yaml").doesNotContain("\n").doesNotContain("\r");
        assertThat(e.line()).as("document %d: %s", i, e.getMessage()).isBetween(0, doc.split("\n", -1).length + 1);
      } catch (Throwable t) {
        fail("document " + i + " (seed " + SEED + ") threw " + t + " for:\n" + doc, t);
      }
    }
    assertThat(parsed + refused).isEqualTo(DOCUMENTS);
    // Both outcomes occur, so the fuzz is neither all-garbage nor all-harmless.
    assertThat(parsed).isPositive();
    assertThat(refused).isPositive();
  }

  private static String mutate(String doc, Random random) {
    List<String> lines = new ArrayList<>(Arrays.asList(doc.split("\n", -1)));
    switch (random.nextInt(10)) {
      case 0: // delete a line
        if (lines.size() > 1) {
          lines.remove(random.nextInt(lines.size()));
        }
        return String.join("\n", lines);
      case 1: // duplicate a line
        int at = random.nextInt(lines.size());
        lines.add(at, lines.get(at));
        return String.join("\n", lines);
      case 2: // swap two lines
        int a = random.nextInt(lines.size());
        int b = random.nextInt(lines.size());
        String line = lines.get(a);
        lines.set(a, lines.get(b));
        lines.set(b, line);
        return String.join("\n", lines);
      case 3: { // swap adjacent characters
        if (doc.length() < 2) {
          return doc;
        }
        int p = random.nextInt(doc.length() - 1);
        return doc.substring(0, p) + doc.charAt(p + 1) + doc.charAt(p) + doc.substring(p + 2);
      }
      case 4: { // insert a random byte as a character
        int p = random.nextInt(doc.length() + 1);
        return doc.substring(0, p) + (char) random.nextInt(256) + doc.substring(p);
      }
      case 5: { // replace a character with a YAML-significant one
        if (doc.isEmpty()) {
          return doc;
        }
        String special = ":{}[],&*!|>'\"%@`#-? \t\n0123456789";
        int p = random.nextInt(doc.length());
        return doc.substring(0, p) + special.charAt(random.nextInt(special.length())) + doc.substring(p + 1);
      }
      case 6: { // delete a run of characters
        if (doc.isEmpty()) {
          return doc;
        }
        int p = random.nextInt(doc.length());
        int n = Math.min(doc.length() - p, 1 + random.nextInt(12));
        return doc.substring(0, p) + doc.substring(p + n);
      }
      case 7: { // change the indentation of a line
        int i = random.nextInt(lines.size());
        String l = lines.get(i);
        lines.set(i, random.nextBoolean() ? " ".repeat(1 + random.nextInt(4)) + l : l.stripLeading());
        return String.join("\n", lines);
      }
      case 8: { // replace a number with an extreme one
        String[] extremes = {"0", "-1", "99999999999999999999", "1e309", "0x10", "PT-5S", "P999999999D", "~", "''", "[]", "{}"};
        int p = indexOfDigit(doc, random.nextInt(Math.max(1, doc.length())));
        if (p < 0) {
          return doc;
        }
        int end = p;
        while (end < doc.length() && Character.isDigit(doc.charAt(end))) {
          end++;
        }
        return doc.substring(0, p) + extremes[random.nextInt(extremes.length)] + doc.substring(end);
      }
      default: // truncate
        return doc.substring(0, random.nextInt(doc.length() + 1));
    }
  }

  private static int indexOfDigit(String doc, int from) {
    for (int i = from; i < doc.length(); i++) {
      if (Character.isDigit(doc.charAt(i))) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void hostileShapes() {
    List<String> docs = List.of(
        "[".repeat(200_000),
        "{".repeat(100_000),
        "- ".repeat(100_000) + "x",
        "a: &a [" + "x, ".repeat(10) + "x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            + "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
        "targetGroups: &g [ { name: a, targets: *g } ]\n",
        "targetGroups:\n  - &x { name: a, healthCheck: *x }\n",
        "\u0000",
        "%YAML 9.9\n---\na: 1\n",
        "!!binary aGVsbG8=\n",
        "targetGroups: !!set { a, b }\n",
        "? " + "x".repeat(2000) + "\n: 1\n",
        "\"" + "\\u".repeat(1000) + "\"\n");
    for (String doc : docs) {
      try {
        BalancerConfigLoader.parse(doc, "hostile.yaml");
        fail("accepted " + doc.substring(0, Math.min(80, doc.length())));
      } catch (ConfigException e) {
        assertThat(e.getMessage()).startsWith("hostile.yaml").doesNotContain("\n");
      }
    }
  }
}
