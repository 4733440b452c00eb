package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.rules.Conditions;
import dev.affinity.rules.ResponseHeaders;
import dev.affinity.rules.RuleAction;

/**
 * One listener rule as read from YAML: its parts are core's immutable values, already validated; the
 * factory turns it into a counting {@link dev.affinity.rules.Rule} for each router it builds.
 *
 * @param name for display, or {@code null} ({@code priority N})
 * @param persistence the rule's persistence override, or {@code null} (its groups' own)
 * @param line where the rule starts in the file
 */
public record RuleConfig(int priority, String name, Conditions when, RuleAction action, StickinessConfig persistence,
    ResponseHeaders responseHeaders, int line) {
  public RuleConfig {
    requireNonNull(when, "when");
    requireNonNull(action, "action");
    requireNonNull(responseHeaders, "responseHeaders");
  }
}
