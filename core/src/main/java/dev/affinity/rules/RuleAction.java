package dev.affinity.rules;

/** What a matching rule does: forward to target groups, redirect, or answer by itself. */
public sealed interface RuleAction permits RuleAction.Forward, Redirect, FixedResponse {
  /** Forward to target groups; the forwarding configuration is the balancer's own type. */
  record Forward(Object forward) implements RuleAction {
    public Forward {
      java.util.Objects.requireNonNull(forward, "forward");
    }
  }
}
