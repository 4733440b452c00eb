package dev.affinity.observe;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The identity one exchange carries to its target and into the access log: an {@code X-Request-Id}
 * and a W3C {@code traceparent} (Trace Context, level 1).
 *
 * <p>The rules: a {@code traceparent} the client sent is kept when it is well formed (any tracer in
 * front started the trace; a balancer that does not itself trace passes it on unchanged), else a new
 * one is started, sampled flag off. An {@code X-Request-Id} is believed only from a trusted proxy
 * (anyone else could forge ids into the logs of every system behind); otherwise the request id is the
 * trace id, so that the log line, the target's logs and a tracer all share one key.
 *
 * @param requestId 1-128 printable ASCII characters, never {@code null}
 * @param traceparent {@code 00-<32 hex>-<16 hex>-<2 hex>}, never {@code null}
 */
public record RequestTrace(String requestId, String traceparent) {
  public static final String REQUEST_ID_HEADER = "X-Request-Id";
  public static final String TRACEPARENT_HEADER = "traceparent";
  private static final int MAX_REQUEST_ID = 128;
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  /**
   * The trace of a new exchange.
   *
   * @param traceparent the client's {@code traceparent}, or {@code null}
   * @param requestId the client's {@code X-Request-Id}, or {@code null}
   * @param fromTrustedProxy whether the peer is a trusted proxy, whose request id is kept
   */
  public static RequestTrace of(String traceparent, String requestId, boolean fromTrustedProxy) {
    String parent = isValidTraceparent(traceparent) ? traceparent : newTraceparent();
    String id = fromTrustedProxy && isValidRequestId(requestId) ? requestId : parent.substring(3, 35);
    return new RequestTrace(id, parent);
  }

  /** The trace id: the 32 hex digits after the version. */
  public String traceId() {
    return traceparent.substring(3, 35);
  }

  /**
   * Whether {@code value} is a version-00 {@code traceparent} as Trace Context defines it: lower-case
   * hex, trace id and parent id not all zeros. A future version (not {@code ff}) is accepted when its
   * first four fields read as version 00's.
   */
  static boolean isValidTraceparent(String value) {
    if (value == null || value.length() < 55) {
      return false;
    }
    if (!hex(value, 0, 2) || value.startsWith("ff") || value.charAt(2) != '-' || !hex(value, 3, 35) || value.charAt(35) != '-'
        || !hex(value, 36, 52) || value.charAt(52) != '-' || !hex(value, 53, 55)) {
      return false;
    }
    if (value.startsWith("00") ? value.length() != 55 : value.length() > 55 && value.charAt(55) != '-') {
      return false;
    }
    return !zeros(value, 3, 35) && !zeros(value, 36, 52);
  }

  /** Printable ASCII without spaces, quotes or backslashes, at most 128 characters: safe in any log format. */
  static boolean isValidRequestId(String value) {
    if (value == null || value.isEmpty() || value.length() > MAX_REQUEST_ID) {
      return false;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') {
        return false;
      }
    }
    return true;
  }

  private static String newTraceparent() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    char[] out = new char[55];
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    long high;
    long low;
    do {
      high = random.nextLong();
      low = random.nextLong();
    } while (high == 0 && low == 0);
    hex(high, out, 3);
    hex(low, out, 19);
    out[35] = '-';
    long span;
    do {
      span = random.nextLong();
    } while (span == 0);
    hex(span, out, 36);
    out[52] = '-';
    out[53] = '0';
    out[54] = '0';
    return new String(out);
  }

  private static void hex(long value, char[] out, int at) {
    for (int i = 15; i >= 0; i--) {
      out[at + i] = HEX[(int) (value & 0xf)];
      value >>>= 4;
    }
  }

  private static boolean hex(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  private static boolean zeros(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      if (s.charAt(i) != '0') {
        return false;
      }
    }
    return true;
  }
}
