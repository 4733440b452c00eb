package dev.affinity.standalone;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.Rejection;
import dev.affinity.jetty.AdminHandler;
import dev.affinity.jetty.AffinityBalancer;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The balancer's counters in Prometheus text format, read at scrape time from the live objects
 * (nothing is double-counted in a registry). Written with Prometheus' own Java exposition library;
 * the standalone balancer hands it to the admin handler, which knows no metrics library.
 */
final class PrometheusMetrics implements AdminHandler.MetricsWriter {
  static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
  static final PrometheusMetrics INSTANCE = new PrometheusMetrics();
  private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();

  private PrometheusMetrics() {}

  @Override
  public String contentType() {
    return CONTENT_TYPE;
  }

  @Override
  public String write(AffinityBalancer balancer, CodecCounters codec) {
    Router router = balancer.router();
    Instant now = router.cookies().now();
    List<MetricSnapshot> metrics = new ArrayList<>();
    metrics.add(targetCounter(router, "affinity_target_requests", "Requests handed to the target", Target::requests));
    metrics.add(targetCounter(router, "affinity_target_sticky_hits", "Requests routed by a valid pin", Target::stickyHits));
    metrics.add(targetCounter(router, "affinity_target_new_pins", "New clients pinned to the target", Target::newPins));
    metrics.add(targetCounter(router, "affinity_target_repins", "Clients moved to the target from another one", Target::rePins));
    metrics.add(targetCounter(router, "affinity_target_failures", "Requests the target failed (refused, reset, timed out)", Target::failures));
    metrics.add(targetCounter(router, "affinity_target_ejections", "Times passive health took the target out of rotation",
        t -> t.health().ejections()));
    metrics.add(targetGauge(router, "affinity_target_ejected", "1 while passive health keeps the target out of rotation",
        t -> t.health().isEjected(now) ? 1 : 0));
    metrics.add(targetGauge(router, "affinity_target_in_flight", "Requests in flight to the target", t -> t.inFlight()));
    metrics.add(targetGauge(router, "affinity_target_healthy", "1 when the target takes new clients' requests", t -> t.isAvailable(now) ? 1 : 0));
    metrics.add(targetGauge(router, "affinity_target_draining", "1 while the target is draining", t -> t.isDraining() ? 1 : 0));
    metrics.add(targetGauge(router, "affinity_target_weight", "Configured weight", t -> t.weight()));
    metrics.add(counter("affinity_cookies_sealed", "Affinity cookies sealed", codec.sealedCount()));
    CounterSnapshot.Builder opened = CounterSnapshot.builder().name("affinity_cookies_opened").help("Affinity cookies opened");
    opened.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("cached", "false")).value(codec.openedCount(false)).build());
    opened.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("cached", "true")).value(codec.openedCount(true)).build());
    metrics.add(opened.build());
    CounterSnapshot.Builder invalid = CounterSnapshot.builder().name("affinity_cookies_invalid")
        .help("Cookies treated as absent, by reason");
    for (Rejection reason : Rejection.values()) {
      invalid.dataPoint(CounterDataPointSnapshot.builder()
          .labels(Labels.of("reason", reason.name().toLowerCase(Locale.ROOT))).value(codec.rejectedCount(reason)).build());
    }
    metrics.add(invalid.build());
    metrics.add(counter("affinity_failovers", "Requests retried on another target after a failure", balancer.failovers()));
    metrics.add(counter("affinity_no_target_responses", "503 answers: no target could serve", balancer.noTargetResponses()));
    metrics.add(counter("affinity_bad_gateway_responses", "502 answers", balancer.badGatewayResponses()));
    metrics.add(counter("affinity_gateway_timeout_responses", "504 answers", balancer.gatewayTimeoutResponses()));
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try {
      WRITER.write(out, new MetricSnapshots(metrics));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static CounterSnapshot counter(String name, String help, long value) {
    return CounterSnapshot.builder().name(name).help(help)
        .dataPoint(CounterDataPointSnapshot.builder().value(value).build()).build();
  }

  private static CounterSnapshot targetCounter(Router router, String name, String help, ToDoubleFunction<Target> value) {
    CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
    for (TargetGroup group : router.groups()) {
      for (Target t : group.targets()) {
        b.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("group", group.name(), "target", t.id()))
            .value(value.applyAsDouble(t)).build());
      }
    }
    return b.build();
  }

  private static GaugeSnapshot targetGauge(Router router, String name, String help, ToDoubleFunction<Target> value) {
    GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
    for (TargetGroup group : router.groups()) {
      for (Target t : group.targets()) {
        b.dataPoint(GaugeDataPointSnapshot.builder().labels(Labels.of("group", group.name(), "target", t.id()))
            .value(value.applyAsDouble(t)).build());
      }
    }
    return b.build();
  }
}
