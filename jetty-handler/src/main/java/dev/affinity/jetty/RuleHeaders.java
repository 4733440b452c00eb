package dev.affinity.jetty;

import dev.affinity.balancer.Attempt;
import dev.affinity.rules.ResponseHeaders;
import dev.affinity.rules.Rule;
import java.util.Map;
import org.eclipse.jetty.server.Response;

/** A listener rule's response header changes, on whatever the client is answered (the target's answer or the rule's own). */
final class RuleHeaders {
  private RuleHeaders() {}

  static void apply(Attempt attempt, Response response) {
    apply(attempt, response.getHeaders());
  }

  static void apply(Attempt attempt, org.eclipse.jetty.http.HttpFields.Mutable headers) {
    Rule rule = attempt.rule();
    if (rule == null) {
      return;
    }
    ResponseHeaders changes = rule.responseHeaders();
    if (changes.isEmpty()) {
      return;
    }
    for (String name : changes.remove()) {
      headers.remove(name);
    }
    for (Map.Entry<String, String> add : changes.add().entrySet()) {
      // Replaces the target's own value: the rule is the operator's word on this header.
      headers.put(add.getKey(), add.getValue());
    }
  }
}
