package dev.affinity.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestMetricsTest {
  private static ExchangeRecord exchange(String group, String target, int status, long totalNanos) {
    return new ExchangeRecord(Instant.EPOCH, "127.0.0.1:1", "127.0.0.1:8080", "GET", "/", "HTTP/1.1", "h", null, null, group, target,
        target == null ? null : "sticky_hit", null, null, target == null ? 0 : 1, status, -1, 0, 0, totalNanos, -1, -1, null, null, null, null);
  }

  @Test
  void durationsFallInTheirBucketsPerGroupAndTarget() {
    RequestMetrics metrics = new RequestMetrics();
    metrics.exchangeCompleted(exchange("web", "a", 200, 3_000_000));      // 3 ms -> le 0.005
    metrics.exchangeCompleted(exchange("web", "a", 200, 5_000_000));      // exactly 5 ms -> le 0.005
    metrics.exchangeCompleted(exchange("web", "a", 502, 300_000_000));    // 300 ms -> le 0.5
    metrics.exchangeCompleted(exchange("web", "a", 200, 60_000_000_000L)); // a minute -> +Inf only
    metrics.exchangeCompleted(exchange("web", "b", 200, 1_000_000));
    List<RequestMetrics.Histogram> histograms = metrics.durations();
    RequestMetrics.Histogram a = histograms.stream().filter(h -> h.target().equals("a")).findFirst().orElseThrow();
    assertThat(a.group()).isEqualTo("web");
    assertThat(a.count()).isEqualTo(4);
    assertThat(a.cumulativeCounts()).containsExactly(2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3);
    assertThat(a.sumSeconds()).isEqualTo(60.308, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(histograms).extracting(RequestMetrics.Histogram::target).containsExactlyInAnyOrder("a", "b");
  }

  @Test
  void responsesByStatusClassIncludeTheBalancersOwnAndListenersAreCounted() {
    RequestMetrics metrics = new RequestMetrics();
    metrics.exchangeCompleted(exchange("web", "a", 200, 1));
    metrics.exchangeCompleted(exchange("web", "a", 503, 1));
    metrics.exchangeCompleted(exchange(null, null, 413, 1));
    assertThat(metrics.responses()).contains(new RequestMetrics.StatusCount("web", "2xx", 1),
        new RequestMetrics.StatusCount("web", "5xx", 1), new RequestMetrics.StatusCount("web", "4xx", 0),
        new RequestMetrics.StatusCount(RequestMetrics.NO_GROUP, "4xx", 1));
    // Requests no target took have no duration histogram (their durations say nothing about targets).
    assertThat(metrics.durations()).hasSize(1);
    assertThat(metrics.listeners()).containsEntry("127.0.0.1:8080", 3L);
  }
}
