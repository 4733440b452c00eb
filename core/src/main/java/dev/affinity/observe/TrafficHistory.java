package dev.affinity.observe;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the status page draws: for each target of each group, a fixed ring of samples taken every
 * {@link #interval()} over the last {@link #span()} — requests per second, and the target's share of
 * the group's pinned requests — plus which targets joined and which left the group lately.
 *
 * <p>The pinned share is a share of <em>requests</em>, not of clients: in each interval, the requests
 * that came pinned to the target (sticky hits) or were pinned to it there (new pins and re-pins),
 * over the same count for the whole group. The balancer keeps no list of clients (the pins live in
 * their cookies), so a busy client weighs more than a quiet one; the page says so. An interval in
 * which the group pinned nothing has no share ({@code NaN}), not 0 %.
 *
 * <p>Counters are read from the live {@link Target}s, whose counts only grow: a sample is the
 * difference from the previous one. A target that was not there at the previous sample started
 * counting from zero when it was made, so all its requests belong to the interval it joined in.
 * Sampling and reading are rare (every few seconds, a page refresh), so one lock is enough.
 */
public final class TrafficHistory {
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);
  public static final Duration DEFAULT_SPAN = Duration.ofMinutes(10);
  /** How long a target that left stays listed (with its history) as having left. */
  public static final Duration DEFAULT_KEEP_LEFT = Duration.ofMinutes(5);

  private final Duration interval;
  private final Duration span;
  private final Duration keepLeft;
  private final int capacity;
  /** By group, then target id. */
  private final Map<String, Map<String, Ring>> rings = new LinkedHashMap<>();
  private final Map<String, Map<String, Departure>> departed = new LinkedHashMap<>();
  private final Map<String, Map<String, Instant>> joined = new HashMap<>();
  private Instant lastSample;

  private TrafficHistory(Duration interval, Duration span, Duration keepLeft) {
    this.interval = interval;
    this.span = span;
    this.keepLeft = keepLeft;
    this.capacity = (int) (span.toMillis() / interval.toMillis());
  }

  /** Every 5 s over the last 10 minutes; targets that left listed for 5 minutes. */
  public static TrafficHistory create() {
    return create(DEFAULT_INTERVAL, DEFAULT_SPAN, DEFAULT_KEEP_LEFT);
  }

  /**
   * @param interval how often {@link #sample} is meant to be called (1 s to 1 minute)
   * @param span how far back samples are kept (at least one interval, at most 1 000 of them)
   * @param keepLeft how long a target that left stays listed (0 to 1 hour)
   */
  public static TrafficHistory create(Duration interval, Duration span, Duration keepLeft) {
    requireNonNull(interval, "interval");
    requireNonNull(span, "span");
    requireNonNull(keepLeft, "keepLeft");
    if (interval.compareTo(Duration.ofSeconds(1)) < 0 || interval.compareTo(Duration.ofMinutes(1)) > 0) {
      throw new IllegalArgumentException("history interval must be between 1 s and 1 minute, got " + interval);
    }
    long samples = span.toMillis() / interval.toMillis();
    if (samples < 1 || samples > 1000) {
      throw new IllegalArgumentException("history span must hold 1 to 1000 intervals of " + interval + ", got " + span);
    }
    if (keepLeft.isNegative() || keepLeft.compareTo(Duration.ofHours(1)) > 0) {
      throw new IllegalArgumentException("keepLeft must be between 0 and 1 hour, got " + keepLeft);
    }
    return new TrafficHistory(interval, span, keepLeft);
  }

  public Duration interval() {
    return interval;
  }

  public Duration span() {
    return span;
  }

  /**
   * Takes one sample of every target of {@code router} at {@code now}. The first call only sets the
   * baseline (there is no interval yet); a call at or before the previous one is ignored.
   */
  public synchronized void sample(Router router, Instant now) {
    requireNonNull(router, "router");
    requireNonNull(now, "now");
    Instant previous = lastSample;
    if (previous != null && !now.isAfter(previous)) {
      return;
    }
    lastSample = now;
    double seconds = previous == null ? 0 : Duration.between(previous, now).toMillis() / 1000.0;
    for (TargetGroup group : router.groups()) {
      Map<String, Ring> groupRings = rings.computeIfAbsent(group.name(), g -> new LinkedHashMap<>());
      long groupPinned = 0;
      long[] requests = new long[group.targets().size()];
      long[] pinned = new long[requests.length];
      Ring[] ofTarget = new Ring[requests.length];
      int i = 0;
      for (Target t : group.targets()) {
        Ring ring = groupRings.get(t.id());
        if (ring == null || ring.target != t) {
          // A new target, or a new one at an old id (another address): its counters began at zero.
          ring = ring == null ? new Ring(capacity) : ring;
          ring.target = t;
          ring.requests = 0;
          ring.pinned = 0;
          groupRings.put(t.id(), ring);
        }
        long nowRequests = t.requests();
        long nowPinned = t.stickyHits() + t.newPins() + t.rePins();
        requests[i] = nowRequests - ring.requests;
        pinned[i] = nowPinned - ring.pinned;
        ring.requests = nowRequests;
        ring.pinned = nowPinned;
        groupPinned += pinned[i];
        ofTarget[i++] = ring;
      }
      if (previous == null) {
        continue;
      }
      for (int k = 0; k < i; k++) {
        double share = groupPinned == 0 ? Double.NaN : (double) pinned[k] / groupPinned;
        ofTarget[k].add(now.getEpochSecond(), requests[k] / seconds, share);
      }
    }
    forgetDepartures(now);
  }

  /**
   * The router {@code before} was replaced by {@code after} at {@code now} (a reload, a registration, a
   * DNS answer): targets a group no longer has have left it, targets it did not have joined it. A target
   * that comes back is no longer listed as having left.
   */
  public synchronized void routerChanged(Router before, Router after, Instant now) {
    requireNonNull(before, "before");
    requireNonNull(after, "after");
    requireNonNull(now, "now");
    Map<String, Set<String>> afterIds = new HashMap<>();
    for (TargetGroup group : after.groups()) {
      Set<String> ids = new HashSet<>();
      for (Target t : group.targets()) {
        ids.add(t.id());
      }
      afterIds.put(group.name(), ids);
    }
    Map<String, Set<String>> beforeIds = new HashMap<>();
    for (TargetGroup group : before.groups()) {
      Set<String> ids = new HashSet<>();
      Set<String> staying = afterIds.getOrDefault(group.name(), Set.of());
      for (Target t : group.targets()) {
        ids.add(t.id());
        if (!staying.contains(t.id())) {
          departed.computeIfAbsent(group.name(), g -> new LinkedHashMap<>())
              .put(t.id(), new Departure(group.name(), t.id(), t.uri().toString(), now));
          Map<String, Instant> j = joined.get(group.name());
          if (j != null) {
            j.remove(t.id());
          }
        }
      }
      beforeIds.put(group.name(), ids);
    }
    for (TargetGroup group : after.groups()) {
      Set<String> had = beforeIds.getOrDefault(group.name(), Set.of());
      for (Target t : group.targets()) {
        if (!had.contains(t.id())) {
          joined.computeIfAbsent(group.name(), g -> new HashMap<>()).put(t.id(), now);
          Map<String, Departure> d = departed.get(group.name());
          if (d != null) {
            d.remove(t.id());
          }
        }
      }
    }
    forgetDepartures(now);
  }

  /** When {@code targetId} joined {@code group} while this history was kept, or {@code null} (there from the start). */
  public synchronized Instant joinedAt(String group, String targetId) {
    Map<String, Instant> j = joined.get(group);
    return j == null ? null : j.get(targetId);
  }

  /** The targets that left {@code group} less than the keep-left time before {@code now}, oldest first. */
  public synchronized List<Departure> departed(String group, Instant now) {
    requireNonNull(now, "now");
    forgetDepartures(now);
    Map<String, Departure> d = departed.get(group);
    return d == null ? List.of() : List.copyOf(d.values());
  }

  /** The samples of {@code targetId} in {@code group}, oldest first (empty when there are none yet). */
  public synchronized Samples samples(String group, String targetId) {
    Map<String, Ring> g = rings.get(group);
    Ring ring = g == null ? null : g.get(targetId);
    return ring == null ? new Samples(new long[0], new double[0], new double[0]) : ring.snapshot();
  }

  private void forgetDepartures(Instant now) {
    Instant cutoff = now.minus(keepLeft);
    departed.forEach((group, byId) -> {
      Iterator<Departure> it = byId.values().iterator();
      while (it.hasNext()) {
        Departure d = it.next();
        if (!d.leftAt().isAfter(cutoff)) {
          it.remove();
          Map<String, Ring> g = rings.get(group);
          // Its samples go with it, unless it is back (then it is no longer listed as departed).
          if (g != null) {
            g.remove(d.targetId());
          }
        }
      }
    });
  }

  /** A target that left {@code group} at {@code leftAt}. */
  public record Departure(String group, String targetId, String uri, Instant leftAt) {
    public Departure {
      requireNonNull(group, "group");
      requireNonNull(targetId, "targetId");
      requireNonNull(uri, "uri");
      requireNonNull(leftAt, "leftAt");
    }
  }

  /**
   * One target's samples, oldest first: when each interval ended (epoch seconds), its requests per second
   * and its share (0..1) of the group's pinned requests, {@code NaN} when the group pinned none.
   */
  public record Samples(long[] epochSeconds, double[] requestsPerSecond, double[] pinnedShare) {
    public int size() {
      return epochSeconds.length;
    }
  }

  private static final class Ring {
    final long[] times;
    final double[] rates;
    final double[] shares;
    int next;
    int size;
    Target target;
    long requests;
    long pinned;

    Ring(int capacity) {
      times = new long[capacity];
      rates = new double[capacity];
      shares = new double[capacity];
    }

    void add(long epochSecond, double rate, double share) {
      times[next] = epochSecond;
      rates[next] = rate;
      shares[next] = share;
      next = (next + 1) % times.length;
      size = Math.min(size + 1, times.length);
    }

    Samples snapshot() {
      long[] t = new long[size];
      double[] r = new double[size];
      double[] s = new double[size];
      int start = (next - size + times.length) % times.length;
      for (int i = 0; i < size; i++) {
        int at = (start + i) % times.length;
        t[i] = times[at];
        r[i] = rates[at];
        s[i] = shares[at];
      }
      return new Samples(t, r, s);
    }
  }

  @Override
  public String toString() {
    return "TrafficHistory{every " + interval + " over " + span + ", left kept " + keepLeft + "}";
  }
}
