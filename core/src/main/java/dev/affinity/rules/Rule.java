package dev.affinity.rules;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.StickinessPolicy;
import java.util.concurrent.atomic.LongAdder;

/**
 * One listener rule: when its {@link Conditions} hold, its {@link RuleAction} applies, with its
 * response header changes. Priority 1 to 50000 as in ALB; the lowest number that matches wins.
 */
public final class Rule {
  public static final int MIN_PRIORITY = 1;
  public static final int MAX_PRIORITY = 50_000;

  private final int priority;
  private final String name;
  private final Conditions when;
  private final RuleAction action;
  private final ResponseHeaders responseHeaders;
  private final StickinessPolicy persistence;
  private final String pathPrefixForCookies;
  private final LongAdder hits = new LongAdder();
  /** Hits of the rule this one replaced at a reload ({@link RuleSet#carryHitsFrom}); set, not added, so carrying twice counts once. */
  private volatile long carriedHits;

  private Rule(Builder b) {
    this.priority = b.priority;
    this.name = b.name == null ? "priority " + b.priority : b.name;
    this.when = b.when;
    this.action = b.action;
    this.responseHeaders = b.responseHeaders == null ? ResponseHeaders.none() : b.responseHeaders;
    this.persistence = b.persistence;
    this.pathPrefixForCookies = cookiePath(b.when);
  }

  public static Builder builder(int priority) {
    if (priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
      throw new IllegalArgumentException("rule priority must be between " + MIN_PRIORITY + " and " + MAX_PRIORITY
          + ", got " + priority);
    }
    return new Builder(priority);
  }

  private static String cookiePath(Conditions when) {
    if (when.paths().size() != 1) {
      return "/";
    }
    PathPattern only = when.paths().get(0);
    if (only.kind() == PathPattern.Kind.GLOB) {
      return "/";
    }
    // A cookie Path may not hold ';' or controls (RFC 6265), which paths patterns refuse already; a
    // non-ASCII pattern is matched decoded, but a browser compares Path with the encoded path, so it
    // could not match: such a rule's cookie goes on "/".
    String text = only.text();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c <= 0x20 || c >= 0x7f || c == '%') {
        return "/";
      }
    }
    return text;
  }

  public int priority() {
    return priority;
  }

  /** For display (logs, admin): the configured name, else {@code priority N}. */
  public String name() {
    return name;
  }

  public Conditions when() {
    return when;
  }

  public RuleAction action() {
    return action;
  }

  public ResponseHeaders responseHeaders() {
    return responseHeaders;
  }

  /** The balancer's persistence settings for this rule, or {@code null} for its groups' own. */
  public StickinessPolicy persistence() {
    return persistence;
  }

  /** How many requests this rule has matched, those of the rule it replaced at a reload included. */
  public long hits() {
    return carriedHits + hits.sum();
  }

  /** Continues the count of {@code previous} (same priority and name, from the configuration before a reload). */
  void carryHits(Rule previous) {
    this.carriedHits = previous.hits();
  }

  public void countHit() {
    hits.increment();
  }

  /**
   * The cookie {@code Path} for persistence set on this rule: the literal text of its path condition
   * when that is exactly one exact or prefix pattern in plain ASCII, else {@code /}. The cookie then
   * comes back only on requests the rule can match.
   */
  public String pathPrefixForCookies() {
    return pathPrefixForCookies;
  }

  @Override
  public String toString() {
    return name + " (when " + when + " then " + action + ")";
  }

  /** Fail-fast: each setting is checked as it is set, and may be set once. */
  public static final class Builder {
    private final int priority;
    private String name;
    private Conditions when;
    private RuleAction action;
    private ResponseHeaders responseHeaders;
    private StickinessPolicy persistence;

    private Builder(int priority) {
      this.priority = priority;
    }

    public Builder name(String name) {
      requireNonNull(name, "name");
      if (this.name != null) {
        throw new IllegalStateException("rule name was already set to " + this.name);
      }
      if (name.isBlank() || name.chars().anyMatch(Character::isISOControl)) {
        throw new IllegalArgumentException("rule name must be non-blank text without control characters, got \"" + name + "\"");
      }
      this.name = name;
      return this;
    }

    public Builder when(Conditions when) {
      requireNonNull(when, "when");
      if (this.when != null) {
        throw new IllegalStateException("rule " + priority + " conditions were already set to " + this.when);
      }
      this.when = when;
      return this;
    }

    public Builder action(RuleAction action) {
      requireNonNull(action, "action");
      if (this.action != null) {
        throw new IllegalStateException("rule " + priority + " action was already set to " + this.action
            + " (a rule has one action: forward, redirect or fixedResponse)");
      }
      this.action = action;
      return this;
    }

    public Builder responseHeaders(ResponseHeaders responseHeaders) {
      requireNonNull(responseHeaders, "responseHeaders");
      if (this.responseHeaders != null) {
        throw new IllegalStateException("rule " + priority + " responseHeaders were already set");
      }
      this.responseHeaders = responseHeaders;
      return this;
    }

    public Builder persistence(StickinessPolicy persistence) {
      requireNonNull(persistence, "persistence");
      if (this.persistence != null) {
        throw new IllegalStateException("rule " + priority + " persistence was already set to " + this.persistence);
      }
      this.persistence = persistence;
      return this;
    }

    public Rule build() {
      if (when == null) {
        throw new IllegalStateException("rule " + priority + " has no conditions (when)");
      }
      if (action == null) {
        throw new IllegalStateException("rule " + priority + " has no action (forward, redirect or fixedResponse)");
      }
      return new Rule(this);
    }
  }
}
