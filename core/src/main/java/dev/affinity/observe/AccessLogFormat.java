package dev.affinity.observe;

import static java.util.Objects.requireNonNull;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** How an {@link ExchangeRecord} reads as one access log line (without the line break). */
@FunctionalInterface
public interface AccessLogFormat {
  String format(ExchangeRecord exchange);

  /**
   * One JSON object per line, every field of the record under its own name (times in milliseconds
   * with microseconds, -1 where that part did not happen; {@code null} where a field does not apply): what log shippers and
   * {@code jq} read without a parsing rule.
   */
  static AccessLogFormat json() {
    return AccessLogFormats::json;
  }

  /**
   * Apache/NGINX "combined" ({@code %h - - [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"}), which
   * every log tool reads, followed by the balancer's own fields in a fixed order: target group,
   * target, routing, previous target, invalid cookie reason, attempts, target status, total milliseconds, request id
   * ({@code -} when absent), and last the matched listener rule's name in quotes ({@code "-"} when none).
   */
  static AccessLogFormat combined() {
    return AccessLogFormats::combined;
  }

  /** {@code json} or {@code combined}, any case. */
  static AccessLogFormat named(String name) {
    requireNonNull(name, "name");
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "json" -> json();
      case "combined" -> combined();
      default -> throw new IllegalArgumentException("access log format must be json or combined, got \"" + name + "\"");
    };
  }
}

/** The formats' code; package-private so that the interface stays a list of factories. */
final class AccessLogFormats {
  private static final DateTimeFormatter CLF_TIME =
      DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

  private AccessLogFormats() {}

  static String json(ExchangeRecord e) {
    StringBuilder out = new StringBuilder(512).append('{');
    field(out, "time", e.time().toString()).append(',');
    field(out, "client", e.client()).append(',');
    field(out, "listener", e.listener()).append(',');
    field(out, "method", e.method()).append(',');
    field(out, "uri", e.uri()).append(',');
    field(out, "protocol", e.protocol()).append(',');
    field(out, "host", e.host()).append(',');
    field(out, "userAgent", e.userAgent()).append(',');
    field(out, "referer", e.referer()).append(',');
    field(out, "rule", e.rule()).append(',');
    field(out, "group", e.group()).append(',');
    field(out, "target", e.target()).append(',');
    field(out, "routing", e.routing()).append(',');
    field(out, "previousTarget", e.previousTarget()).append(',');
    field(out, "invalidCookie", e.invalidCookie()).append(',');
    out.append("\"attempts\":").append(e.attempts()).append(',');
    out.append("\"status\":").append(e.status()).append(',');
    out.append("\"targetStatus\":");
    if (e.targetStatus() < 0) {
      out.append("null");
    } else {
      out.append(e.targetStatus());
    }
    out.append(",\"bytesIn\":").append(e.bytesIn());
    out.append(",\"bytesOut\":").append(e.bytesOut());
    millis(out.append(",\"requestMs\":"), e.requestNanos());
    millis(out.append(",\"targetMs\":"), e.targetNanos());
    millis(out.append(",\"responseMs\":"), e.responseNanos());
    millis(out.append(",\"totalMs\":"), e.totalNanos());
    out.append(',');
    field(out, "tlsProtocol", e.tlsProtocol()).append(',');
    field(out, "tlsCipher", e.tlsCipher()).append(',');
    field(out, "requestId", e.requestId()).append(',');
    field(out, "traceparent", e.traceparent());
    return out.append('}').toString();
  }

  static String combined(ExchangeRecord e) {
    StringBuilder out = new StringBuilder(256);
    String client = e.client();
    out.append(client == null ? "-" : hostOf(client)).append(" - - [").append(CLF_TIME.format(e.time())).append("] \"");
    clean(out, e.method()).append(' ');
    clean(out, e.uri()).append(' ');
    clean(out, e.protocol()).append("\" ").append(e.status()).append(' ');
    if (e.bytesOut() > 0) {
      out.append(e.bytesOut());
    } else {
      out.append('-');
    }
    out.append(" \"");
    clean(out, e.referer() == null ? "-" : e.referer()).append("\" \"");
    clean(out, e.userAgent() == null ? "-" : e.userAgent()).append('"');
    for (String value : new String[] {e.group(), e.target(), e.routing(), e.previousTarget(), e.invalidCookie()}) {
      clean(out.append(' '), value == null ? "-" : value);
    }
    out.append(' ').append(e.attempts()).append(' ');
    if (e.targetStatus() < 0) {
      out.append('-');
    } else {
      out.append(e.targetStatus());
    }
    millis(out.append(' '), e.totalNanos());
    clean(out.append(' '), e.requestId() == null ? "-" : e.requestId());
    // Last and quoted: a rule name may hold spaces ("priority 10"), and the fields before keep their places.
    clean(out.append(" \""), e.rule() == null ? "-" : e.rule()).append('"');
    return out.toString();
  }

  /** The address part of {@code host:port} or {@code [v6]:port}. */
  private static String hostOf(String client) {
    if (client.startsWith("[")) {
      int end = client.indexOf(']');
      return end > 0 ? client.substring(1, end) : client;
    }
    int colon = client.lastIndexOf(':');
    return colon > 0 && client.indexOf(':') == colon ? client.substring(0, colon) : client;
  }

  private static StringBuilder field(StringBuilder out, String name, String value) {
    out.append('"').append(name).append("\":");
    if (value == null) {
      return out.append("null");
    }
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7f || (c >= 0x80 && Character.isISOControl(c)) || Character.isSurrogate(c)) {
            // Controls, and surrogates alone or in pairs, as escapes: a log line stays one valid line of ASCII-safe JSON.
            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"');
  }

  /** A value between quotes or spaces of a combined line: quotes, backslashes and controls escaped (as NGINX does, \xHH). */
  private static StringBuilder clean(StringBuilder out, String value) {
    if (value == null) {
      return out.append('-');
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
        out.append("\\x").append(Character.forDigit((c >> 4) & 0xf, 16)).append(Character.forDigit(c & 0xf, 16));
      } else {
        out.append(c);
      }
    }
    return out;
  }

  /** Milliseconds with three decimals (microseconds); {@code null}/{@code -} never: -1 stays -1. */
  private static void millis(StringBuilder out, long nanos) {
    if (nanos < 0) {
      out.append("-1");
      return;
    }
    long micros = nanos / 1000;
    out.append(micros / 1000).append('.');
    long fraction = micros % 1000;
    if (fraction < 100) {
      out.append('0');
    }
    if (fraction < 10) {
      out.append('0');
    }
    out.append(fraction);
  }
}
