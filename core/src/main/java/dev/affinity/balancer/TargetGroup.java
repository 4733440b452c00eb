package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.TargetTls;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Targets that serve the same application, with one algorithm, one stickiness policy, one health
 * check and one deregistration delay. A pinned client finds its target by id (a map lookup), so a
 * sticky hit costs the same with 3 targets or 1000.
 */
public final class TargetGroup {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Logger LOG = LoggerFactory.getLogger(TargetGroup.class);

  private final String name;
  private final BalancingAlgorithm algorithm;
  private final StickinessPolicy stickiness;
  private final HealthCheckSettings healthCheck;
  private final Duration slowStart;
  private final Duration deregistrationDelay;
  private final boolean sharedSessions;
  private final double boundedLoadFactor;
  private final TargetProtocol protocol;
  private final PassiveHealth passiveHealth;
  private final Duration upstreamTimeout;
  private final Duration connectTimeout;
  private final TargetTls tls;
  private final Target[] all;
  private volatile EligibleTargets eligibleTargets;
  private final List<Target> targets;
  private final Map<String, Target> byId;

  private TargetGroup(Builder b) {
    this.name = b.name;
    this.algorithm = b.algorithm;
    this.stickiness = b.stickiness;
    this.healthCheck = b.healthCheck;
    this.slowStart = b.slowStart;
    this.deregistrationDelay = b.deregistrationDelay;
    this.sharedSessions = b.sharedSessions;
    this.boundedLoadFactor = b.boundedLoadFactor;
    this.protocol = b.protocol;
    this.passiveHealth = b.passiveHealth;
    this.upstreamTimeout = b.upstreamTimeout;
    this.connectTimeout = b.connectTimeout;
    this.tls = b.tls;
    this.all = b.targets.toArray(new Target[0]);
    this.targets = Collections.unmodifiableList(new ArrayList<>(b.targets));
    Map<String, Target> map = new HashMap<>();
    for (Target t : all) {
      map.put(t.id(), t);
    }
    this.byId = map;
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  public String name() {
    return name;
  }

  public BalancingAlgorithm algorithm() {
    return algorithm;
  }

  public StickinessPolicy stickiness() {
    return stickiness;
  }

  public HealthCheckSettings healthCheck() {
    return healthCheck;
  }

  public Duration slowStart() {
    return slowStart;
  }

  public Duration deregistrationDelay() {
    return deregistrationDelay;
  }

  /** 0 when bounded load is off. */
  public double boundedLoadFactor() {
    return boundedLoadFactor;
  }

  /** The protocol the balancer speaks to this group's targets, health checks included. */
  public TargetProtocol protocol() {
    return protocol;
  }

  /** When a target's answers take it out of rotation for a while. */
  public PassiveHealth passiveHealth() {
    return passiveHealth;
  }

  /**
   * How long this group's targets may stay silent on a request before the client gets 504;
   * {@code null} when the balancer's own setting applies.
   */
  public Duration upstreamTimeout() {
    return upstreamTimeout;
  }

  /** How long connecting to this group's targets may take; {@code null} when the balancer's own setting applies. */
  public Duration connectTimeout() {
    return connectTimeout;
  }

  /**
   * How the balancer speaks TLS to this group's {@code https://} targets; {@code null} for the defaults
   * (the JDK's trust store, each target URI's host as the name, no client certificate). Plain
   * {@code http://} targets are not affected.
   */
  public TargetTls tls() {
    return tls;
  }

  public List<Target> targets() {
    return targets;
  }

  /** The target answered {@code status}: counted against it when it is a failing 5xx, else its counts start again. */
  void observeAnswer(Target target, int status, Instant now) {
    if (!passiveHealth.enabled()) {
      return;
    }
    if (PassiveHealth.countsAgainst(status)) {
      observeFailure(target, false, now, "answered " + status);
    } else {
      target.health().answeredWell();
    }
  }

  /**
   * The target failed an attempt in a way the client sees as the balancer's 502 or 504 (an unusable
   * answer, a connection closed before the answer, or silence when {@code timedOut}).
   */
  void observeFailure(Target target, boolean timedOut, Instant now, String what) {
    PassiveHealth settings = passiveHealth;
    if (!settings.enabled()) {
      return;
    }
    TargetHealth health = target.health();
    int failed = health.answeredBadly(timedOut);
    int threshold5xx = settings.consecutive5xx();
    int thresholdTimeouts = settings.consecutiveTimeouts();
    if (timedOut && thresholdTimeouts > 0 && health.consecutiveTimeouts() >= thresholdTimeouts) {
      eject(target, now, health.consecutiveTimeouts() + " timeouts in a row (last: " + what + ")");
    } else if (threshold5xx > 0 && failed >= threshold5xx) {
      eject(target, now, failed + " failed answers in a row (last: " + what + ")");
    }
  }

  /** Ejects {@code target} unless it is out already, or the group's share of targets out would pass the cap. */
  private synchronized void eject(Target target, Instant now, String reason) {
    if (!target.isAvailable(now) || target.isDraining()) {
      return;
    }
    int taking = 0;
    int out = 0;
    for (Target t : all) {
      if (!t.isDraining() && t.weight() > 0) {
        taking++;
        if (!t.isAvailable(now)) {
          out++;
        }
      }
    }
    if ((out + 1) * 100L > (long) passiveHealth.maxEjectedPercent() * taking) {
      if (LOG.isDebugEnabled()) {
        LOG.debug("target {} of group {} not ejected ({}): {} of {} targets are out already, at most {}% may be",
            target.id(), name, reason, out, taking, passiveHealth.maxEjectedPercent());
      }
      return;
    }
    Instant until = target.health().ejectPassively(now, passiveHealth, reason);
    LOG.warn("target {} ({}) of group {} taken out of rotation until {}: {}", target.id(), target.uri(), name, until, reason);
  }

  /** The target with this id in this group, or {@code null}. */
  public Target target(String id) {
    return byId.get(id);
  }

  /**
   * Whether a client pinned to {@code target} may stay there: the target is healthy (or every
   * target of the group is down, and the group fails open), and if draining, its deregistration
   * delay has not yet run out. A weight of 0 takes no new clients but keeps the pinned ones:
   * persistence beats weights.
   */
  public boolean canKeep(Target target, Instant now) {
    Instant drainingSince = target.drainingSince();
    if (drainingSince != null && !now.isBefore(drainingSince.plus(deregistrationDelay))) {
      return false;
    }
    return target.health().isHealthy(now) || (target.weight() > 0 && noneAvailable(now));
  }

  /** Whether the group's targets share their sessions (see {@link Builder#sharedSessions}). */
  public boolean sharedSessions() {
    return sharedSessions;
  }

  /**
   * Whether a pin made at {@code pinnedAt} to {@code target} was made with an instance that is gone: the
   * target reported another instance id since, and the group's sessions are not shared.
   */
  public boolean outlivedInstance(Target target, java.time.Instant pinnedAt) {
    if (sharedSessions) {
      return false;
    }
    java.time.Instant changed = target.instanceChangedAt();
    return changed != null && pinnedAt.isBefore(changed);
  }

  /**
   * Whether a client under strict persistence may stay on {@code target}: as {@link #canKeep}, but the
   * group never fails open onto a target that is down — a strict client is told its target is gone.
   */
  public boolean canKeepStrictly(Target target, Instant now) {
    Instant drainingSince = target.drainingSince();
    if (drainingSince != null && !now.isBefore(drainingSince.plus(deregistrationDelay))) {
      return false;
    }
    return target.health().isHealthy(now);
  }

  /**
   * A target for a client that is not pinned (or whose pin broke), other than {@code exclude};
   * {@code null} when the group has none. Healthy, non-draining targets first; when none is healthy
   * the group fails open to all its non-draining targets, as ALB does.
   */
  public Target choose(Instant now, Target exclude) {
    Target[] candidates = exclude == null ? healthyEligible(now) : eligible(now, exclude, true);
    if (candidates.length == 0) {
      candidates = eligible(now, exclude, false);
    }
    if (candidates.length == 0) {
      return null;
    }
    if (boundedLoadFactor > 0 && candidates.length > 1) {
      candidates = underLoadBound(candidates);
    }
    Target chosen = algorithm.select(candidates);
    if (!slowStart.isZero() && candidates.length > 1) {
      double fraction = rampFraction(chosen, now);
      if (fraction < 1.0 && !chosen.admitDuringRamp(fraction)) {
        Target[] settled = settled(candidates, now);
        if (settled.length > 0) {
          // Not through the algorithm: a second round-robin step here would skew whose turn is next.
          chosen = settled[java.util.concurrent.ThreadLocalRandom.current().nextInt(settled.length)];
        }
      }
    }
    return chosen;
  }

  /**
   * The share of its turns at new clients {@code target} takes under slow start: 1.0 once it has been up
   * (healthy, or added) for the slow-start period, and always without slow start; ramps linearly from 0 before.
   */
  public double rampFraction(Target target, Instant now) {
    if (slowStart.isZero()) {
      return 1.0;
    }
    long since = now.toEpochMilli() - target.rampStart().toEpochMilli();
    return since >= slowStart.toMillis() ? 1.0 : Math.max(0.0, (double) since / slowStart.toMillis());
  }

  private Target[] settled(Target[] candidates, Instant now) {
    int n = 0;
    Target[] out = new Target[candidates.length];
    for (Target t : candidates) {
      if (rampFraction(t, now) >= 1.0) {
        out[n++] = t;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  /**
   * Bounded load: targets whose in-flight requests would exceed {@code factor} times the group's
   * mean take no new clients (pinned clients stay). Never filters every target out.
   */
  private Target[] underLoadBound(Target[] candidates) {
    long total = 0;
    for (Target t : candidates) {
      total += t.inFlight();
    }
    // Capacity as in consistent hashing with bounded loads: counting the request being placed.
    double bound = Math.ceil(boundedLoadFactor * (total + 1) / candidates.length);
    int n = 0;
    Target[] out = new Target[candidates.length];
    for (Target t : candidates) {
      if (t.inFlight() + 1 <= bound) {
        out[n++] = t;
      }
    }
    return n == 0 || n == candidates.length ? candidates : java.util.Arrays.copyOf(out, n);
  }

  /** True when some target could take a new client (healthy, not draining, weight above zero). */
  public boolean isLive(Instant now) {
    for (Target t : all) {
      if (!t.isDraining() && t.isAvailable(now)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The healthy eligible targets, kept until a topology change: new clients are then placed in
   * constant time whatever the group's size. Not kept while a target's availability depends on the
   * clock (a passive ejection that simply runs out).
   */
  private Target[] healthyEligible(Instant now) {
    long version = TopologyChanges.current();
    EligibleTargets kept = eligibleTargets;
    if (kept != null && kept.version == version && (kept.until == null || now.isBefore(kept.until))) {
      return kept.targets;
    }
    Target[] computed = eligible(now, null, true);
    // Kept until the first target whose ejection runs out by itself comes back.
    Instant until = null;
    for (Target t : all) {
      Instant back = t.health().availableAgainAt(now);
      if (back != null && (until == null || back.isBefore(until))) {
        until = back;
      }
    }
    // Stored under the count read before computing: a change meanwhile makes the next call recompute.
    eligibleTargets = new EligibleTargets(version, computed, until);
    return computed;
  }

  private static final class EligibleTargets {
    final long version;
    final Target[] targets;
    /** When a target comes back by itself (an ejection ends), or {@code null}. */
    final Instant until;

    EligibleTargets(long version, Target[] targets, Instant until) {
      this.version = version;
      this.targets = targets;
      this.until = until;
    }
  }

  private Target[] eligible(Instant now, Target exclude, boolean healthyOnly) {
    int count = 0;
    for (Target t : all) {
      if (accepts(t, now, exclude, healthyOnly)) {
        count++;
      }
    }
    if (count == all.length) {
      return all;
    }
    Target[] out = new Target[count];
    int i = 0;
    for (Target t : all) {
      if (accepts(t, now, exclude, healthyOnly)) {
        out[i++] = t;
      }
    }
    return out;
  }

  private static boolean accepts(Target t, Instant now, Target exclude, boolean healthyOnly) {
    return t != exclude && !t.isDraining() && t.weight() > 0 && (!healthyOnly || t.isAvailable(now));
  }

  private boolean noneAvailable(Instant now) {
    for (Target t : all) {
      if (!t.isDraining() && t.isAvailable(now)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return "TargetGroup{" + name + ", " + algorithm + ", " + stickiness + ", targets=" + targets + "}";
  }

  /** Configures a group; each setter checks its value. */
  public static final class Builder {
    private final String name;
    private BalancingAlgorithm algorithm = BalancingAlgorithm.roundRobin();
    private StickinessPolicy stickiness = StickinessPolicy.none();
    private HealthCheckSettings healthCheck = HealthCheckSettings.defaults();
    private Duration slowStart = Duration.ZERO;
    private Duration deregistrationDelay = Duration.ofSeconds(300);
    private boolean sharedSessions;
    private double boundedLoadFactor;
    private TargetProtocol protocol = TargetProtocol.HTTP1;
    private PassiveHealth passiveHealth = PassiveHealth.defaults();
    private Duration upstreamTimeout;
    private Duration connectTimeout;
    private TargetTls tls;
    private final List<Target> targets = new ArrayList<>();
    private final List<Object[]> specs = new ArrayList<>();
    private TargetGroup previous;
    private Instant reloadedAt;

    private Builder(String name) {
      requireNonNull(name, "name");
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("target group name must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"" + name + "\"");
      }
      this.name = name;
    }

    public Builder algorithm(BalancingAlgorithm algorithm) {
      this.algorithm = requireNonNull(algorithm, "algorithm");
      return this;
    }

    public Builder stickiness(StickinessPolicy stickiness) {
      this.stickiness = requireNonNull(stickiness, "stickiness");
      return this;
    }

    public Builder healthCheck(HealthCheckSettings healthCheck) {
      this.healthCheck = requireNonNull(healthCheck, "healthCheck");
      return this;
    }

    public Builder slowStart(Duration slowStart) {
      requireNonNull(slowStart, "slowStart");
      if (slowStart.isNegative() || slowStart.compareTo(Duration.ofMinutes(15)) > 0) {
        throw new IllegalArgumentException("slowStart must be between 0 and 15 minutes, got " + slowStart);
      }
      this.slowStart = slowStart;
      return this;
    }

    /**
     * Whether the group's targets share their sessions (a Redis-backed store, say): a target that comes
     * back as another instance then keeps its pinned clients. Off by default: a new instance at a reused
     * address has none of the old one's sessions, so its old pins move once.
     */
    public Builder sharedSessions(boolean shared) {
      this.sharedSessions = shared;
      return this;
    }

    public Builder deregistrationDelay(Duration delay) {
      requireNonNull(delay, "delay");
      if (delay.isNegative() || delay.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("deregistrationDelay must be between 0 and 1 hour, got " + delay);
      }
      this.deregistrationDelay = delay;
      return this;
    }

    public Builder boundedLoad(double factor) {
      if (!(factor > 1.0) || factor > 100) {
        throw new IllegalArgumentException("boundedLoad factor must be above 1.0 (and at most 100), got " + factor);
      }
      this.boundedLoadFactor = factor;
      return this;
    }

    /** The protocol to speak to the targets, health checks included; default {@link TargetProtocol#HTTP1}. */
    public Builder protocol(TargetProtocol protocol) {
      this.protocol = requireNonNull(protocol, "protocol");
      return this;
    }

    /** When targets' answers eject them; default {@link PassiveHealth#defaults()}, {@link PassiveHealth#off()} to turn off. */
    public Builder passiveHealth(PassiveHealth passiveHealth) {
      this.passiveHealth = requireNonNull(passiveHealth, "passiveHealth");
      return this;
    }

    /**
     * This group's own upstream timeouts, overriding the balancer's: how long a target may stay silent
     * on a request ({@code timeout}) and how long connecting may take ({@code connectTimeout}); either
     * may be {@code null} to keep the balancer's.
     */
    public Builder timeouts(Duration timeout, Duration connectTimeout) {
      this.upstreamTimeout = positiveOrNull(timeout, "timeout");
      this.connectTimeout = positiveOrNull(connectTimeout, "connectTimeout");
      return this;
    }

    /** TLS to the group's {@code https://} targets: trusted CAs, server name, client certificate (see {@link TargetTls}). */
    public Builder tls(TargetTls tls) {
      this.tls = requireNonNull(tls, "tls");
      return this;
    }

    private Duration positiveOrNull(Duration d, String option) {
      if (d != null && (d.isNegative() || d.isZero())) {
        throw new IllegalArgumentException(option + " of target group " + name + " must be positive, got " + d);
      }
      return d;
    }

    /** Adds a target; its health follows this group's health check settings as built. */
    public Builder target(String id, java.net.URI uri, int weight) {
      Target.checkId(id);
      checkUnique(id);
      specs.add(new Object[] {id, uri, weight});
      targets.add(null);
      return this;
    }

    /** Adds a target that already has live state, as a configuration reload does for targets that stay. */
    public Builder target(Target target) {
      requireNonNull(target, "target");
      checkUnique(target.id());
      targets.add(target);
      return this;
    }

    private void checkUnique(String id) {
      for (Object[] spec : specs) {
        if (spec[0].equals(id)) {
          throw new IllegalArgumentException("target id \"" + id + "\" appears twice in group " + name);
        }
      }
      for (Target t : targets) {
        if (t != null && t.id().equals(id)) {
          throw new IllegalArgumentException("target id \"" + id + "\" appears twice in group " + name);
        }
      }
    }

    /**
     * For a configuration reload: targets of {@code previous} with the same id and URI are carried
     * over with their health, counters and pins (reweighted if need be); targets it does not have
     * are new and ramp under slow start from {@code now}; targets of the previous group that the new
     * configuration dropped stay as draining members, so their pinned clients are served until the
     * deregistration delay ends.
     */
    public Builder reloading(TargetGroup previous, Instant now) {
      this.previous = requireNonNull(previous, "previous");
      this.reloadedAt = requireNonNull(now, "now");
      return this;
    }

    public TargetGroup build() {
      int spec = 0;
      java.util.Set<String> ids = new java.util.HashSet<>();
      for (int i = 0; i < targets.size(); i++) {
        if (targets.get(i) == null) {
          Object[] s = specs.get(spec++);
          String id = (String) s[0];
          java.net.URI uri = (java.net.URI) s[1];
          int weight = (Integer) s[2];
          Target old = previous == null ? null : previous.target(id);
          Target t;
          if (old != null && old.uri().equals(uri)) {
            old.reconfigure(weight, healthCheck);
            if (old.drainedByReload()) {
              // Removed by an earlier reload and now configured again.
              old.undrain();
            }
            t = old;
          } else {
            t = new Target(id, uri, weight, healthCheck);
            if (previous != null) {
              t.registeredAt(reloadedAt);
            }
          }
          targets.set(i, t);
        }
        ids.add(targets.get(i).id());
      }
      specs.clear();
      if (previous != null) {
        for (Target old : previous.targets()) {
          if (!ids.contains(old.id())) {
            old.drainForRemoval(reloadedAt);
            // Once its delay is over nobody can still be pinned to it: the next reload forgets it.
            if (reloadedAt.isBefore(old.drainingSince().plus(deregistrationDelay))) {
              targets.add(old);
            }
          }
        }
      }
      return new TargetGroup(this);
    }
  }
}
