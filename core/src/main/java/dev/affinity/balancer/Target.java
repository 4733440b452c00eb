package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * One backend a target group forwards to, with its live state: health, draining, requests in
 * flight and counters. Identity is the id, which is what affinity cookies carry.
 */
public final class Target {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  public static final int MAX_WEIGHT = 999;

  private final String id;
  private final URI uri;
  private volatile int weight;
  private final TargetHealth health;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final LongAdder requests = new LongAdder();
  private final LongAdder stickyHits = new LongAdder();
  private final LongAdder newPins = new LongAdder();
  private final LongAdder rePins = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final AtomicInteger openWebSockets = new AtomicInteger();
  private volatile Instant drainingSince;
  private volatile Instant registeredAt;
  private volatile boolean drainedByReload;
  /** The instance id the target last reported, and since when: see {@link #instanceSeen}. */
  private volatile String instanceId;
  private volatile Instant instanceSince;
  /** Slow-start admission credit, in millionths of a new client. */
  private final java.util.concurrent.atomic.AtomicLong rampCredit = new java.util.concurrent.atomic.AtomicLong();

  public Target(String id, URI uri, int weight, HealthCheckSettings healthSettings) {
    this.id = checkId(id);
    this.uri = checkUri(id, uri);
    if (weight < 0 || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException("weight of target " + id + " must be between 0 and " + MAX_WEIGHT + ", got " + weight);
    }
    this.weight = weight;
    this.health = new TargetHealth(requireNonNull(healthSettings, "healthSettings"));
  }

  public Target(String id, URI uri) {
    this(id, uri, 1, HealthCheckSettings.defaults());
  }

  static String checkId(String id) {
    requireNonNull(id, "id");
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException("target id must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"" + id + "\"");
    }
    return id;
  }

  private static URI checkUri(String id, URI uri) {
    requireNonNull(uri, "uri");
    String scheme = uri.getScheme();
    if (!("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme)) || uri.getHost() == null) {
      throw new IllegalArgumentException("uri of target " + id + " must be http(s)://host[:port], got " + uri);
    }
    if ((uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !"/".equals(uri.getRawPath()))
        || uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException("uri of target " + id + " must have no path, query, fragment or user info, got " + uri);
    }
    return uri;
  }

  public String id() {
    return id;
  }

  public URI uri() {
    return uri;
  }

  public int weight() {
    return weight;
  }

  /** A reload that keeps this target but changes its weight or its group's health check. */
  void reconfigure(int newWeight, HealthCheckSettings healthSettings) {
    if (newWeight < 0 || newWeight > MAX_WEIGHT) {
      throw new IllegalArgumentException("weight of target " + id + " must be between 0 and " + MAX_WEIGHT + ", got " + newWeight);
    }
    this.weight = newWeight;
    health.settings(healthSettings);
    TopologyChanges.changed();
  }

  public TargetHealth health() {
    return health;
  }

  /** Whether the target may take requests now: healthy (or passively ejected time over) and weight above zero. */
  public boolean isAvailable(Instant now) {
    return weight > 0 && health.isHealthy(now);
  }

  public boolean isDraining() {
    return drainingSince != null;
  }

  /** When draining began, or {@code null}. */
  public Instant drainingSince() {
    return drainingSince;
  }

  /** Stop giving this target new clients; clients pinned to it stay until the deregistration delay ends. */
  public void drain(Instant now) {
    if (drainingSince == null) {
      drainingSince = requireNonNull(now, "now");
      TopologyChanges.changed();
    }
  }

  public void undrain() {
    drainingSince = null;
    drainedByReload = false;
    TopologyChanges.changed();
  }

  /** Drains a target that a configuration reload removed. */
  void drainForRemoval(Instant now) {
    drain(now);
    drainedByReload = true;
  }

  boolean drainedByReload() {
    return drainedByReload;
  }

  /**
   * Marks the target as registered now (a target added to a running balancer), so that it ramps up
   * under slow start like a target that just became healthy. Targets present at start-up do not ramp.
   */
  public void registeredAt(Instant now) {
    this.registeredAt = requireNonNull(now, "now");
  }

  /** When the target's current ramp began: it became healthy, or it was added, whichever is later. */
  Instant rampStart() {
    Instant healthy = health.state() == TargetHealth.State.HEALTHY ? health.changedAt() : Instant.EPOCH;
    Instant registered = registeredAt;
    return registered != null && registered.isAfter(healthy) ? registered : healthy;
  }

  /**
   * Slow start: the share {@code fraction} (0..1) of the new clients the algorithm gives this target
   * that it actually takes, spread evenly rather than randomly so that the ramp is exact.
   */
  boolean admitDuringRamp(double fraction) {
    long step = (long) (fraction * 1_000_000);
    while (true) {
      long credit = rampCredit.get();
      long next = credit + step;
      boolean admit = next >= 1_000_000;
      if (rampCredit.compareAndSet(credit, admit ? next - 1_000_000 : next)) {
        return admit;
      }
    }
  }

  public int inFlight() {
    return inFlight.get();
  }

  /** Counts a request handed to this target; pair with {@link #finished()}. */
  public void started() {
    inFlight.incrementAndGet();
    requests.increment();
  }

  public void finished() {
    inFlight.decrementAndGet();
  }

  public void failed() {
    failures.increment();
  }

  void countStickyHit() {
    stickyHits.increment();
  }

  void countNewPin() {
    newPins.increment();
  }

  void countRePin() {
    rePins.increment();
  }

  public long requests() {
    return requests.sum();
  }

  public long stickyHits() {
    return stickyHits.sum();
  }

  public long newPins() {
    return newPins.sum();
  }

  public long rePins() {
    return rePins.sum();
  }

  public long failures() {
    return failures.sum();
  }

  /** Counts a WebSocket connection proxied to this target; pair with {@link #webSocketClosed()}. */
  public void webSocketOpened() {
    openWebSockets.incrementAndGet();
  }

  public void webSocketClosed() {
    openWebSockets.decrementAndGet();
  }

  /** WebSocket connections open to this target now (a gauge). */
  public int openWebSockets() {
    return openWebSockets.get();
  }

  @Override
  public String toString() {
    return "Target{" + id + " " + uri + " weight=" + weight + " " + health.state() + (isDraining() ? " draining" : "") + "}";
  }

  /**
   * The target reported its instance id (a health check's {@code X-Affinity-Instance} answer header).
   * Addresses are reused: when the same address answers with another instance id than before, a new
   * process is there, and the sessions it held are gone with the old one. Returns true when the id
   * changed (not for the first one seen).
   */
  public boolean instanceSeen(String id, Instant now) {
    requireNonNull(now, "now");
    if (id == null || id.isEmpty() || id.equals(instanceId)) {
      return false;
    }
    boolean changed = instanceId != null;
    instanceSince = changed ? now : null;
    instanceId = id;
    return changed;
  }

  /** The instance id last reported, or {@code null}. */
  public String instanceId() {
    return instanceId;
  }

  /**
   * When the target last came back as another instance, or {@code null}: pins made before it were made
   * with a process that is gone.
   */
  public Instant instanceChangedAt() {
    return instanceSince;
  }
}
