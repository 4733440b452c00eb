package dev.affinity.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestTraceTest {
  private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  @Test
  void aWellFormedTraceparentIsKeptAndTheRequestIdIsItsTraceId() {
    RequestTrace trace = RequestTrace.of(PARENT, "from-anyone", false);
    assertThat(trace.traceparent()).isEqualTo(PARENT);
    assertThat(trace.requestId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736").isEqualTo(trace.traceId());
  }

  @Test
  void aRequestIdIsBelievedOnlyFromATrustedProxy() {
    assertThat(RequestTrace.of(null, "lb-1234", true).requestId()).isEqualTo("lb-1234");
    assertThat(RequestTrace.of(null, "lb-1234", false).requestId()).hasSize(32).matches("[0-9a-f]{32}");
    // Even a trusted proxy's id must be safe to write in a log line.
    assertThat(RequestTrace.of(null, "a b", true).requestId()).hasSize(32);
    assertThat(RequestTrace.of(null, "x\"y", true).requestId()).hasSize(32);
    assertThat(RequestTrace.of(null, "x".repeat(129), true).requestId()).hasSize(32);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", // too short
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // version 00 has exactly four fields
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"})
  void aMalformedTraceparentStartsANewTrace(String bad) {
    RequestTrace trace = RequestTrace.of(bad, null, false);
    assertThat(trace.traceparent()).isNotEqualTo(bad).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
    assertThat(RequestTrace.isValidTraceparent(trace.traceparent())).isTrue();
  }

  @Test
  void aLaterVersionIsReadAsVersion00WhenItsFieldsAre() {
    String v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
    assertThat(RequestTrace.of(v1, null, false).traceparent()).isEqualTo(v1);
  }

  @Test
  void newTracesDiffer() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      assertThat(seen.add(RequestTrace.of(null, null, false).traceparent())).isTrue();
    }
  }
}
