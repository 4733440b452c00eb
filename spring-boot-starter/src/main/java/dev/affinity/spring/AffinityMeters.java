package dev.affinity.spring;

import dev.affinity.cookie.Rejection;
import dev.affinity.filter.AffinityListener;
import dev.affinity.session.SessionMode;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

/**
 * The filter's events as Micrometer meters: counters {@code affinity.pins}, {@code affinity.moves},
 * {@code affinity.releases}, {@code affinity.route.rejected{reason}} and the distribution summary
 * {@code affinity.session.bytes{mode}} (Prometheus: {@code affinity_pins_total} ...).
 *
 * <p>Counts are kept here and read by function counters, so that the filter's calls cost an add and
 * the binder can be bound to any number of registries.
 */
public final class AffinityMeters implements AffinityListener, MeterBinder {
  private final LongAdder pins = new LongAdder();
  private final LongAdder moves = new LongAdder();
  private final LongAdder releases = new LongAdder();
  private final Map<Rejection, LongAdder> rejected = new EnumMap<>(Rejection.class);
  private final Map<SessionMode, List<DistributionSummary>> sessionBytes = new EnumMap<>(SessionMode.class);

  AffinityMeters() {
    for (Rejection reason : Rejection.values()) {
      rejected.put(reason, new LongAdder());
    }
    sessionBytes.put(SessionMode.COOKIE, new CopyOnWriteArrayList<>());
    sessionBytes.put(SessionMode.REDIS, new CopyOnWriteArrayList<>());
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    FunctionCounter.builder("affinity.pins", pins, LongAdder::sum)
        .description("Route cookies sent that pin the client to this target")
        .register(registry);
    FunctionCounter.builder("affinity.moves", moves, LongAdder::sum)
        .description("Route cookies sent that pin the client to another target (moveTo)")
        .register(registry);
    FunctionCounter.builder("affinity.releases", releases, LongAdder::sum)
        .description("Route cookies expired (release)")
        .register(registry);
    for (Map.Entry<Rejection, LongAdder> e : rejected.entrySet()) {
      FunctionCounter.builder("affinity.route.rejected", e.getValue(), LongAdder::sum)
          .description("Route cookies sent by clients and treated as absent, by reason")
          .tag("reason", e.getKey().name().toLowerCase(Locale.ROOT))
          .register(registry);
    }
    for (Map.Entry<SessionMode, List<DistributionSummary>> e : sessionBytes.entrySet()) {
      e.getValue().add(DistributionSummary.builder("affinity.session.bytes")
          .description("Bytes of each session write: the sealed cookie (cookie mode) or the changed attributes (redis mode)")
          .baseUnit("bytes")
          .tag("mode", e.getKey().value())
          .register(registry));
    }
  }

  @Override
  public void pinned() {
    pins.increment();
  }

  @Override
  public void moved(String targetId) {
    moves.increment();
  }

  @Override
  public void released() {
    releases.increment();
  }

  @Override
  public void routeCookieRejected(Rejection reason) {
    rejected.get(reason).increment();
  }

  @Override
  public void sessionWritten(SessionMode mode, int bytes) {
    List<DistributionSummary> summaries = sessionBytes.get(mode);
    if (summaries != null) {
      for (DistributionSummary summary : summaries) {
        summary.record(bytes);
      }
    }
  }

  @Override
  public String toString() {
    return "AffinityMeters";
  }
}
