package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import java.util.Random;
import org.eclipse.jetty.http.HttpFields;
import org.junit.jupiter.api.Test;

/** The hand-encoded bytes of the gRPC health check, and how any answer reads (never an exception). */
class GrpcHealthProbeTest {
  private static final HttpFields GRPC = HttpFields.build().put("content-type", "application/grpc");
  private static final HttpFields OK = HttpFields.build().put("grpc-status", "0");

  private static byte[] hex(String hex) {
    return HexFormat.of().parseHex(hex);
  }

  private static String reason(String body) {
    return GrpcHealthProbe.unhealthyReason(200, GRPC, OK, hex(body));
  }

  @Test
  void theRequestIsOneUncompressedFrameHoldingTheServiceName() {
    assertThat(HexFormat.of().formatHex(GrpcHealthProbe.request(""))).as("proto3 leaves out the empty string").isEqualTo("0000000000");
    assertThat(HexFormat.of().formatHex(GrpcHealthProbe.request("a.B"))).isEqualTo("00000000050a03612e42");
    // A name of 200 bytes takes a two-byte varint length (c8 01).
    String longName = "s".repeat(200);
    byte[] frame = GrpcHealthProbe.request(longName);
    assertThat(HexFormat.of().formatHex(frame, 0, 8)).isEqualTo("00000000cb0ac801");
    assertThat(frame).hasSize(5 + 3 + 200);
  }

  @Test
  void servingIsHealthyAndEveryOtherStatusSaysWhy() {
    assertThat(reason("000000000208" + "01")).isNull();
    assertThat(reason("000000000208" + "02")).isEqualTo("gRPC health check answered NOT_SERVING");
    assertThat(reason("000000000208" + "03")).isEqualTo("gRPC health check answered SERVICE_UNKNOWN");
    assertThat(reason("0000000000")).as("status absent: UNKNOWN").isEqualTo("gRPC health check answered UNKNOWN");
    assertThat(reason("000000000208" + "07")).isEqualTo("gRPC health check answered status 7");
    // Unknown fields of every wire type are skipped; the last status wins, as protobuf reads it.
    assertThat(reason("0000000019" + "1001" + "190102030405060708" + "1d01020304" + "2203616263" + "0802" + "0801")).isNull();
  }

  @Test
  void aNonGrpcOrFailedAnswerIsUnhealthy() {
    byte[] serving = hex("00000000020801");
    assertThat(GrpcHealthProbe.unhealthyReason(404, GRPC, OK, serving)).isEqualTo("gRPC health check answered HTTP 404, expected 200");
    assertThat(GrpcHealthProbe.unhealthyReason(200, HttpFields.build().put("content-type", "text/html"), OK, serving))
        .isEqualTo("gRPC health check answered content type \"text/html\", expected application/grpc");
    assertThat(GrpcHealthProbe.unhealthyReason(200, GRPC, null, serving)).isEqualTo("gRPC health check answer has no grpc-status");
    // A trailers-only answer: the status in the headers (here a server without the health service).
    HttpFields unimplemented = HttpFields.build().put("content-type", "application/grpc+proto").put("grpc-status", "12")
        .put("grpc-message", "Method not found: grpc.health.v1.Health/Check");
    assertThat(GrpcHealthProbe.unhealthyReason(200, unimplemented, null, new byte[0]))
        .isEqualTo("gRPC health check answered grpc-status \"12\" \"Method not found: grpc.health.v1.Health/Check\"");
    assertThat(GrpcHealthProbe.unhealthyReason(200, GRPC, HttpFields.build().put("grpc-status", "14"), serving))
        .isEqualTo("gRPC health check answered grpc-status \"14\"");
  }

  @Test
  void malformedMessagesAreUnhealthy() {
    assertThat(reason("")).isEqualTo("gRPC health check answer has no message (0 bytes)");
    assertThat(reason("0100000002" + "0801")).isEqualTo("gRPC health check answer is compressed or malformed (flag 1)");
    assertThat(reason("0000000003" + "0801")).isEqualTo("gRPC health check answer frame says 3 bytes, 2 came");
    assertThat(reason("0000000002" + "0801" + "0000000002" + "0801")).as("two messages").startsWith("gRPC health check answer frame says 2 bytes");
    assertThat(reason("0000000001" + "08")).as("a varint that does not end").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("0000000002" + "0d01")).as("status with a fixed32 wire type").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("0000000002" + "0a05")).as("status as bytes").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("0000000002" + "1205")).as("a length past the end").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("0000000002" + "1b01")).as("a group (wire type 3)").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("0000000002" + "1901")).as("a fixed64 past the end").isEqualTo("gRPC health check answer is not a HealthCheckResponse");
    assertThat(reason("000000000b" + "08ffffffffffffffffff01")).as("a negative enum (ten-byte varint)")
        .isEqualTo("gRPC health check answer is not a HealthCheckResponse");
  }

  @Test
  void randomBytesNeverThrowAndAreNeverServing() {
    Random random = new Random(20);
    for (int i = 0; i < 20_000; i++) {
      byte[] message = new byte[random.nextInt(24)];
      random.nextBytes(message);
      byte[] frame = new byte[5 + message.length];
      frame[4] = (byte) message.length;
      System.arraycopy(message, 0, frame, 5, message.length);
      String reason = GrpcHealthProbe.unhealthyReason(200, GRPC, OK, frame);
      // Only a message that says SERVING in field 1 passes: check it by decoding again.
      if (reason == null) {
        assertThat(GrpcHealthProbe.servingStatus(frame, 5)).isEqualTo(GrpcHealthProbe.SERVING);
      }
    }
  }
}
