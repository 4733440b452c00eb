package dev.affinity.standalone;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.Rejection;
import dev.affinity.jetty.AdminHandler;
import dev.affinity.jetty.AffinityBalancer;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.observe.RequestMetrics;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleSet;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
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
  private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();
  private static final double[] UPPER_BOUNDS;

  static {
    UPPER_BOUNDS = java.util.Arrays.copyOf(RequestMetrics.BUCKETS, RequestMetrics.BUCKETS.length + 1);
    UPPER_BOUNDS[RequestMetrics.BUCKETS.length] = Double.POSITIVE_INFINITY;
  }

  private final RequestMetrics requests;
  private final java.time.Clock clock;
  private volatile AffinityServer server;

  /** @param requests the request metrics the server's exchanges feed ({@link AffinityServer.Builder#observe}) */
  PrometheusMetrics(RequestMetrics requests, java.time.Clock clock) {
    this.requests = java.util.Objects.requireNonNull(requests, "requests");
    this.clock = java.util.Objects.requireNonNull(clock, "clock");
  }

  /** The server whose connections and certificates are reported; set once it is built. */
  void server(AffinityServer server) {
    this.server = server;
  }

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
    metrics.add(counter("affinity_too_large_responses", "413 answers: request body past limits.maxRequestBodyBytes",
        balancer.tooLargeResponses()));
    metrics.add(counter("affinity_rule_answers", "Requests a listener rule answered by itself (redirect, fixed response)",
        balancer.ruleAnswers()));
    metrics.add(counter("affinity_refused_paths", "400 answers: a path a target could read as another one than the rules matched",
        balancer.refusedPaths()));
    metrics.add(ruleHits(router));
    metrics.add(durations());
    CounterSnapshot.Builder responses = CounterSnapshot.builder().name("affinity_responses")
        .help("Responses to clients by target group (empty: none took the request) and status class, the balancer's own included");
    for (RequestMetrics.StatusCount count : requests.responses()) {
      responses.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("group", count.group(), "code", count.statusClass()))
          .value(count.count()).build());
    }
    metrics.add(responses.build());
    CounterSnapshot.Builder listeners = CounterSnapshot.builder().name("affinity_listener_requests")
        .help("Requests by the listener (local address:port) they came in on");
    requests.listeners().forEach((listener, count) ->
        listeners.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("listener", listener)).value(count).build()));
    metrics.add(listeners.build());
    AffinityServer current = server;
    if (current != null) {
      metrics.add(GaugeSnapshot.builder().name("affinity_open_connections").help("Client connections open now")
          .dataPoint(GaugeDataPointSnapshot.builder().value(current.openConnections()).build()).build());
      metrics.add(counter("affinity_request_head_timeouts", "Connections closed with 408: a request head took longer than "
          + "limits.requestHeaderTimeout", current.requestHeadTimeouts()));
      GaugeSnapshot.Builder expiry = GaugeSnapshot.builder().name("affinity_certificate_expiry_seconds")
          .help("Seconds until the first certificate in service on the TLS listener expires (negative: expired)");
      Instant at = clock.instant();
      current.certificateExpiries().forEach((listener, notAfter) -> expiry.dataPoint(GaugeDataPointSnapshot.builder()
          .labels(Labels.of("listener", listener.toString())).value(java.time.Duration.between(at, notAfter).toSeconds()).build()));
      metrics.add(expiry.build());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try {
      WRITER.write(out, new MetricSnapshots(metrics));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /**
   * Hits per listener rule: {@code listener="*"} for the global rules, else the listener's name. The
   * priority is a label too: names need not be unique, and a rule keeps its series across a reload
   * exactly when it keeps its count ({@link RuleSet#carryHitsFrom}: same priority and name).
   */
  private static CounterSnapshot ruleHits(Router router) {
    CounterSnapshot.Builder b = CounterSnapshot.builder().name("affinity_rule_hits")
        .help("Requests each listener rule matched, by listener (* for the global rules), rule name and priority");
    ruleHits(b, "*", router.rules(null));
    router.listenerRules().forEach((listener, set) -> ruleHits(b, listener, set));
    return b.build();
  }

  private static void ruleHits(CounterSnapshot.Builder b, String listener, RuleSet set) {
    for (Rule rule : set.rules()) {
      b.dataPoint(CounterDataPointSnapshot.builder()
          .labels(Labels.of("listener", listener, "rule", rule.name(), "priority", Integer.toString(rule.priority())))
          .value(rule.hits()).build());
    }
  }

  /** Request durations (first byte in to last byte out) per group and target, in the fixed buckets of {@link RequestMetrics#BUCKETS}. */
  private HistogramSnapshot durations() {
    HistogramSnapshot.Builder b = HistogramSnapshot.builder().name("affinity_request_duration_seconds")
        .help("Time from a request's first byte to its answer's last byte, by target group and target");
    for (RequestMetrics.Histogram h : requests.durations()) {
      long[] perBucket = new long[UPPER_BOUNDS.length];
      long previous = 0;
      for (int i = 0; i < h.cumulativeCounts().length; i++) {
        perBucket[i] = h.cumulativeCounts()[i] - previous;
        previous = h.cumulativeCounts()[i];
      }
      perBucket[UPPER_BOUNDS.length - 1] = h.count() - previous;
      b.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(Labels.of("group", h.group(), "target", h.target()))
          .classicHistogramBuckets(ClassicHistogramBuckets.of(UPPER_BOUNDS, perBucket)).sum(h.sumSeconds()).build());
    }
    return b.build();
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
