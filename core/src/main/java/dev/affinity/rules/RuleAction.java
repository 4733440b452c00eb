package dev.affinity.rules;

/** What a matching rule does: forward to target groups, redirect, or answer by itself. */
public sealed interface RuleAction permits RuleAction.Forward, Redirect, FixedResponse {
  /** Forward to target groups, by weight, with optional group stickiness (ALB's forward action). */
  record Forward(dev.affinity.balancer.Forward forward) implements RuleAction {
    public Forward {
      java.util.Objects.requireNonNull(forward, "forward");
    }
  }
}
