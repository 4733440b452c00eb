package dev.affinity.rules;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A listener's rules, lowest priority number first, and the index that makes matching cost about the
 * same with 10 or 1000 of them.
 *
 * <p><b>Why it stays flat.</b> Most rules say a literal host ({@code api.example.com}) or a path whose
 * first segment is literal ({@code /v1/*}, exact {@code /login}). Each rule is filed under those keys:
 * by host, the rules whose host condition is only literal names go under each name, all others (a
 * wildcard host, or no host condition) in an any-host bucket; within a bucket, by the first path
 * segment every path the rule can match has ({@code v1} for {@code /v1/*}), and the rules
 * whose paths can start anywhere are added to every segment's list. A request then does two hash
 * lookups (its host, its first segment) in two buckets (its host's and any-host) and walks the two
 * short lists merged by priority, checking each candidate fully: the candidates are the rules that can
 * match, not all rules. The index only filters: a rule that can match the request is always among the
 * candidates, so the result is exactly that of checking every rule in priority order (a randomized test
 * holds it to that).
 */
public final class RuleSet {
  private static final Rule[] NO_RULES = new Rule[0];
  private static final RuleSet EMPTY = new RuleSet(List.of());

  private final List<Rule> rules;
  private final Map<String, Bucket> byHost;
  private final Bucket anyHost;
  private final boolean readsHost;

  private RuleSet(List<Rule> sorted) {
    this.rules = List.copyOf(sorted);
    Map<String, List<Rule>> hostRules = new HashMap<>();
    List<Rule> anyHostRules = new ArrayList<>();
    boolean hostConditions = false;
    for (Rule rule : rules) {
      List<HostPattern> hosts = rule.when().hosts();
      hostConditions |= !hosts.isEmpty();
      Set<String> literals = new LinkedHashSet<>();
      for (HostPattern h : hosts) {
        literals.add(h.literalOrNull());
      }
      if (hosts.isEmpty() || literals.contains(null)) {
        anyHostRules.add(rule);
      } else {
        for (String literal : literals) {
          hostRules.computeIfAbsent(literal, k -> new ArrayList<>()).add(rule);
        }
      }
    }
    this.readsHost = hostConditions;
    this.anyHost = new Bucket(anyHostRules);
    Map<String, Bucket> index = new HashMap<>();
    hostRules.forEach((host, list) -> index.put(host, new Bucket(list)));
    this.byHost = index;
  }

  /**
   * The rules, checked: priorities must differ (two rules with one priority would leave their order to
   * chance), and are kept in priority order whatever the order given. Empty is allowed.
   */
  public static RuleSet of(List<Rule> rules) {
    requireNonNull(rules, "rules");
    if (rules.isEmpty()) {
      return EMPTY;
    }
    List<Rule> sorted = new ArrayList<>(rules.size());
    for (Rule r : rules) {
      sorted.add(requireNonNull(r, "rule"));
    }
    sorted.sort(Comparator.comparingInt(Rule::priority));
    for (int i = 1; i < sorted.size(); i++) {
      if (sorted.get(i).priority() == sorted.get(i - 1).priority()) {
        throw new IllegalArgumentException("rules \"" + sorted.get(i - 1).name() + "\" and \"" + sorted.get(i).name()
            + "\" have the same priority " + sorted.get(i).priority() + "; each rule needs its own");
      }
    }
    return new RuleSet(sorted);
  }

  /** No rules: every request goes to the default action. */
  public static RuleSet empty() {
    return EMPTY;
  }

  /**
   * The matching rule with the lowest priority number, or {@code null} (the default action applies);
   * counts the hit. The path must not be refused: the adapter answers 400 for it before matching.
   */
  public Rule match(RuleRequest request, RequestPath path) {
    requireNonNull(request, "request");
    requireNonNull(path, "path");
    if (path.isRefused()) {
      throw new IllegalArgumentException("a refused path matches no rule (answer 400 first): " + path.refusal());
    }
    if (rules.isEmpty()) {
      return null;
    }
    String normalised = path.path();
    String host = readsHost ? HostPattern.hostWithoutPort(request.host()) : null;
    String segment = firstSegment(normalised);
    Bucket hostBucket = host == null ? null : byHost.get(host);
    Rule[] a = hostBucket == null ? NO_RULES : hostBucket.candidates(segment);
    Rule[] b = anyHost.candidates(segment);
    int i = 0;
    int j = 0;
    while (i < a.length || j < b.length) {
      Rule next;
      if (j >= b.length || (i < a.length && a[i].priority() < b[j].priority())) {
        next = a[i++];
      } else {
        next = b[j++];
      }
      if (next.when().matches(request, normalised, host)) {
        next.countHit();
        return next;
      }
    }
    return null;
  }

  /** The same answer as {@link #match}, found by checking every rule in order; for tests, and no hit is counted. */
  Rule matchByScan(RuleRequest request, RequestPath path) {
    String host = HostPattern.hostWithoutPort(request.host());
    for (Rule r : rules) {
      if (r.when().matches(request, path.path(), host)) {
        return r;
      }
    }
    return null;
  }

  /**
   * After a reload, lets each rule that is still there keep counting: a rule of this set with the same
   * priority and the same name ({@link Rule#name()}, so {@code priority N} for an unnamed one) as a rule
   * of {@code previous} shows that rule's hits plus its own from now on, so the status page, status.json
   * and the {@code affinity_rule_hits_total} counter do not fall back to 0 on every reload (a counter that
   * drops looks like a restart to Prometheus). A rule whose priority or name changed starts from 0: it
   * may now match other requests, and a count that mixed both would say nothing. Conditions and action
   * are not compared: editing what a named rule does keeps its name and its count.
   *
   * <p>Call it before this set serves requests: hits the previous set counts after the call are not
   * carried. Calling it again takes the previous hits anew rather than adding them twice. A rule that is
   * in both sets (the same object) is left alone.
   *
   * @return this set
   */
  public RuleSet carryHitsFrom(RuleSet previous) {
    requireNonNull(previous, "previous");
    if (previous == this || rules.isEmpty() || previous.rules.isEmpty()) {
      return this;
    }
    Map<Integer, Rule> byPriority = new HashMap<>();
    for (Rule old : previous.rules) {
      byPriority.put(old.priority(), old);
    }
    for (Rule rule : rules) {
      Rule old = byPriority.get(rule.priority());
      if (old != null && old != rule && old.name().equals(rule.name())) {
        rule.carryHits(old);
      }
    }
    return this;
  }

  /** The rules in priority order. */
  public List<Rule> rules() {
    return rules;
  }

  @Override
  public String toString() {
    return rules.size() + " rules, " + byHost.size() + " literal hosts";
  }

  private static String firstSegment(String path) {
    int slash = path.indexOf('/', 1);
    return slash < 0 ? path.substring(1) : path.substring(1, slash);
  }

  /** The rules of one host (or of any host), by the first path segment they can match. */
  private static final class Bucket {
    private final Map<String, Rule[]> bySegment = new HashMap<>();
    private final Rule[] anySegment;

    Bucket(List<Rule> sorted) {
      List<Rule> anyPath = new ArrayList<>();
      Map<String, List<Rule>> segmentRules = new HashMap<>();
      for (Rule rule : sorted) {
        Set<String> segments = segments(rule);
        if (segments == null) {
          anyPath.add(rule);
        } else {
          for (String s : segments) {
            segmentRules.computeIfAbsent(s, k -> new ArrayList<>()).add(rule);
          }
        }
      }
      this.anySegment = anyPath.toArray(NO_RULES);
      segmentRules.forEach((segment, list) -> {
        List<Rule> merged = new ArrayList<>(list);
        merged.addAll(anyPath);
        merged.sort(Comparator.comparingInt(Rule::priority));
        bySegment.put(segment, merged.toArray(NO_RULES));
      });
    }

    /** The first segments a rule's paths can start with, or {@code null} when any (no path condition, or one not literal enough). */
    private static Set<String> segments(Rule rule) {
      List<PathPattern> paths = rule.when().paths();
      if (paths.isEmpty()) {
        return null;
      }
      Set<String> segments = new LinkedHashSet<>();
      for (PathPattern p : paths) {
        String s = p.firstSegmentOrNull();
        if (s == null) {
          return null;
        }
        segments.add(s);
      }
      return segments;
    }

    Rule[] candidates(String segment) {
      Rule[] rules = bySegment.get(segment);
      return rules == null ? anySegment : rules;
    }
  }
}
