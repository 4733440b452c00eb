package dev.affinity.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class AccessLogFormatTest {
  private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  private static ExchangeRecord sticky() {
    return new ExchangeRecord(Instant.parse("2026-12-02T10:15:30.123Z"), "203.0.113.7:51000", "0.0.0.0:8443", "GET",
        "/cart?id=1", "HTTP/2.0", "shop.example", "Mozilla/5.0 \"quoted\"", null, "web", "web-2", "repin", "web-1", null, 2, 200, 200,
        0, 1234, 120_000, 2_345_678, 10_000, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "4bf92f3577b34da6a3ce929d0e0e4736", PARENT);
  }

  @Test
  void jsonHasEveryFieldUnderItsName() {
    assertThat(AccessLogFormat.json().format(sticky())).isEqualTo("{\"time\":\"2026-12-02T10:15:30.123Z\","
        + "\"client\":\"203.0.113.7:51000\",\"listener\":\"0.0.0.0:8443\",\"method\":\"GET\",\"uri\":\"/cart?id=1\","
        + "\"protocol\":\"HTTP/2.0\",\"host\":\"shop.example\",\"userAgent\":\"Mozilla/5.0 \\\"quoted\\\"\",\"referer\":null,"
        + "\"rule\":null,\"group\":\"web\",\"target\":\"web-2\",\"routing\":\"repin\",\"previousTarget\":\"web-1\",\"invalidCookie\":null,\"attempts\":2,"
        + "\"status\":200,\"targetStatus\":200,\"bytesIn\":0,\"bytesOut\":1234,\"requestMs\":0.120,\"targetMs\":2.345,"
        + "\"responseMs\":0.010,\"totalMs\":2.475,\"tlsProtocol\":\"TLSv1.3\",\"tlsCipher\":\"TLS_AES_128_GCM_SHA256\","
        + "\"requestId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"traceparent\":\"" + PARENT + "\"}");
  }

  @Test
  void combinedIsApachesWithTheBalancersFieldsAfter() {
    assertThat(AccessLogFormat.combined().format(sticky())).isEqualTo("203.0.113.7 - - [02/Dec/2026:10:15:30 +0000] "
        + "\"GET /cart?id=1 HTTP/2.0\" 200 1234 \"-\" \"Mozilla/5.0 \\x22quoted\\x22\" web web-2 repin web-1 - 2 200 2.475 "
        + "4bf92f3577b34da6a3ce929d0e0e4736 \"-\"");
  }

  /** The sticky exchange, matched by a listener rule whose name has a space and quotes. */
  private static ExchangeRecord byRule() {
    ExchangeRecord e = sticky();
    return new ExchangeRecord(e.time(), e.client(), e.listener(), e.method(), e.uri(), e.protocol(), e.host(), e.userAgent(),
        e.referer(), e.group(), e.target(), e.routing(), e.previousTarget(), e.invalidCookie(), e.attempts(), e.status(),
        e.targetStatus(), e.bytesIn(), e.bytesOut(), e.requestNanos(), e.targetNanos(), e.responseNanos(), e.tlsProtocol(),
        e.tlsCipher(), e.requestId(), e.traceparent(), "shop \"eu\" carts");
  }

  @Test
  void theMatchedRuleIsAFieldOfBothFormats() {
    assertThat(sticky().rule()).isNull();
    assertThat(AccessLogFormat.json().format(byRule()))
        .contains(",\"referer\":null,\"rule\":\"shop \\\"eu\\\" carts\",\"group\":\"web\",");
    // Last and quoted: the combined fields before it keep their places, and the name's spaces stay inside the quotes.
    assertThat(AccessLogFormat.combined().format(byRule())).isEqualTo("203.0.113.7 - - [02/Dec/2026:10:15:30 +0000] "
        + "\"GET /cart?id=1 HTTP/2.0\" 200 1234 \"-\" \"Mozilla/5.0 \\x22quoted\\x22\" web web-2 repin web-1 - 2 200 2.475 "
        + "4bf92f3577b34da6a3ce929d0e0e4736 \"shop \\x22eu\\x22 carts\"");
  }

  @Test
  void whatAClientSentCannotBreakALine() {
    ExchangeRecord hostile = new ExchangeRecord(Instant.EPOCH, "[2001:db8::1]:443", "l", "GET", "/a\nb\"c\\", "HTTP/1.1",
        "h\r\nX: y", "ua\u0000\u2028", "ref\t", null, null, null, null, "tampered", 0, 503, -1, 0, 0, 5, -1, -1, null, null, null, null);
    String json = AccessLogFormat.json().format(hostile);
    assertThat(json).doesNotContain("\n").doesNotContain("\r").contains("\"uri\":\"/a\\nb\\\"c\\\\\"")
        .contains("\"userAgent\":\"ua\\u0000\u2028\"").contains("\"targetStatus\":null").contains("\"targetMs\":-1")
        .contains("\"group\":null");
    String combined = AccessLogFormat.combined().format(hostile);
    assertThat(combined).doesNotContain("\n").doesNotContain("\r").startsWith("2001:db8::1 - - [01/Jan/1970:00:00:00 +0000] "
        + "\"GET /a\\x0ab\\x22c\\x5c HTTP/1.1\" 503 - \"ref\\x09\" \"ua\\x00\u2028\" - - - - tampered 0 - 0.000 - \"-\"");
  }

  @Test
  void formatsByName() {
    assertThat(AccessLogFormat.named("JSON").format(sticky())).startsWith("{");
    assertThat(AccessLogFormat.named("combined").format(sticky())).startsWith("203.0.113.7 ");
    assertThatThrownBy(() -> AccessLogFormat.named("clf")).hasMessageContaining("\"clf\"");
  }
}
