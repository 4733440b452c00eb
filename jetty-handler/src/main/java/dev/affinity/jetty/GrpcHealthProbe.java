package dev.affinity.jetty;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/**
 * The few bytes of the standard gRPC health check ({@code grpc.health.v1.Health/Check}), encoded and
 * decoded by hand so that the balancer needs no protobuf or gRPC library: the request is
 * {@code HealthCheckRequest { string service = 1; }} in one gRPC message frame (a flag byte, a 4-byte
 * big-endian length, the message), the answer {@code HealthCheckResponse { ServingStatus status = 1; }}.
 *
 * <p>Everything about the answer is checked, and anything unexpected (another HTTP status or content
 * type, a compressed or truncated frame, two messages, a field of the wrong wire type, a varint that
 * does not end) reads as unhealthy with a reason; nothing here throws on what a target sent.
 */
final class GrpcHealthProbe {
  /** The one method called. */
  static final String PATH = "/grpc.health.v1.Health/Check";
  static final String CONTENT_TYPE = "application/grpc";
  /** The answer's size limit: a real one is 7 bytes. */
  static final int MAX_ANSWER_BYTES = 4096;
  /** {@code HealthCheckResponse.ServingStatus.SERVING}. */
  static final long SERVING = 1;
  private static final String[] STATUS_NAMES = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};

  private GrpcHealthProbe() {}

  /** The request body: one uncompressed frame holding {@code HealthCheckRequest { service }} (empty for {@code ""}). */
  static byte[] request(String service) {
    byte[] name = service.getBytes(StandardCharsets.UTF_8);
    // Field 1, wire type 2 (length-delimited); proto3 leaves out a field at its default, the empty string.
    byte[] message;
    if (name.length == 0) {
      message = new byte[0];
    } else {
      byte[] length = varint(name.length);
      message = new byte[1 + length.length + name.length];
      message[0] = 0x0A;
      System.arraycopy(length, 0, message, 1, length.length);
      System.arraycopy(name, 0, message, 1 + length.length, name.length);
    }
    byte[] frame = new byte[5 + message.length];
    frame[0] = 0; // not compressed
    frame[1] = (byte) (message.length >>> 24);
    frame[2] = (byte) (message.length >>> 16);
    frame[3] = (byte) (message.length >>> 8);
    frame[4] = (byte) message.length;
    System.arraycopy(message, 0, frame, 5, message.length);
    return frame;
  }

  private static byte[] varint(long value) {
    byte[] out = new byte[10];
    int n = 0;
    while ((value & ~0x7FL) != 0) {
      out[n++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    out[n++] = (byte) value;
    return java.util.Arrays.copyOf(out, n);
  }

  /**
   * Why the answer is not a healthy one, or {@code null} when it is: HTTP 200, a gRPC content type,
   * {@code grpc-status: 0} (in the trailers, or in the headers of a trailers-only answer), and one
   * message saying {@code SERVING}.
   *
   * @param trailers the answer's trailers, {@code null} when it had none
   */
  static String unhealthyReason(int status, HttpFields headers, HttpFields trailers, byte[] body) {
    if (status != 200) {
      return "gRPC health check answered HTTP " + status + ", expected 200";
    }
    String contentType = headers.get(HttpHeader.CONTENT_TYPE);
    if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith(CONTENT_TYPE)) {
      return "gRPC health check answered content type " + quote(contentType) + ", expected " + CONTENT_TYPE;
    }
    // A trailers-only answer (an error before any message) carries grpc-status in its headers.
    String grpcStatus = trailers != null && trailers.get("grpc-status") != null ? trailers.get("grpc-status") : headers.get("grpc-status");
    if (grpcStatus == null) {
      return "gRPC health check answer has no grpc-status";
    }
    if (!grpcStatus.trim().equals("0")) {
      String message = trailers != null && trailers.get("grpc-message") != null ? trailers.get("grpc-message") : headers.get("grpc-message");
      return "gRPC health check answered grpc-status " + quote(grpcStatus) + (message == null ? "" : " " + quote(message));
    }
    if (body.length < 5) {
      return "gRPC health check answer has no message (" + body.length + " bytes)";
    }
    if (body[0] != 0) {
      return "gRPC health check answer is compressed or malformed (flag " + (body[0] & 0xFF) + ")";
    }
    long length = ((body[1] & 0xFFL) << 24) | ((body[2] & 0xFFL) << 16) | ((body[3] & 0xFFL) << 8) | (body[4] & 0xFFL);
    if (length != body.length - 5) {
      return "gRPC health check answer frame says " + length + " bytes, " + (body.length - 5) + " came";
    }
    long servingStatus = servingStatus(body, 5);
    if (servingStatus == SERVING) {
      return null;
    }
    if (servingStatus < 0) {
      return "gRPC health check answer is not a HealthCheckResponse";
    }
    return "gRPC health check answered " + (servingStatus < STATUS_NAMES.length ? STATUS_NAMES[(int) servingStatus] : "status " + servingStatus);
  }

  /** {@code HealthCheckResponse.status} (0, UNKNOWN, when absent; the last one when repeated), or -1 when the message is malformed. */
  static long servingStatus(byte[] bytes, int start) {
    long status = 0;
    int[] at = {start};
    while (at[0] < bytes.length) {
      long tag = readVarint(bytes, at);
      if (tag < 0) {
        return -1;
      }
      long field = tag >>> 3;
      int wireType = (int) (tag & 7);
      if (field == 0 || (field == 1 && wireType != 0)) {
        return -1;
      }
      switch (wireType) {
        case 0 -> {
          long value = readVarint(bytes, at);
          if (value < 0) {
            return -1;
          }
          if (field == 1) {
            status = value;
          }
        }
        case 1 -> at[0] += 8;
        case 5 -> at[0] += 4;
        case 2 -> {
          long length = readVarint(bytes, at);
          if (length < 0 || length > bytes.length - at[0]) {
            return -1;
          }
          at[0] += (int) length;
        }
        default -> {
          return -1;
        }
      }
      if (at[0] > bytes.length) {
        return -1;
      }
    }
    return status;
  }

  /** A varint of at most 63 bits at {@code at[0]}, moving it on; -1 when it does not end inside the bytes or is longer. */
  private static long readVarint(byte[] bytes, int[] at) {
    long value = 0;
    for (int shift = 0; shift < 63; shift += 7) {
      if (at[0] >= bytes.length) {
        return -1;
      }
      byte b = bytes[at[0]++];
      value |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return value;
      }
    }
    return -1;
  }

  private static String quote(String value) {
    if (value == null) {
      return "none";
    }
    String shown = value.length() > 100 ? value.substring(0, 100) + "..." : value;
    return "\"" + shown.replaceAll("\\p{Cntrl}", "?") + "\"";
  }
}
