package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetHealth;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code protocolVersion: GRPC} groups with real grpc-java servers as targets and a real grpc-java client
 * (plaintext: h2c with prior knowledge) in front of the balancer's plain listener.
 */
class GrpcTargetsTest extends BalancerTestBase {
  private final Map<String, GrpcTarget> targets = new LinkedHashMap<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void stopGrpc() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    for (GrpcTarget target : targets.values()) {
      target.close();
    }
  }

  /** gRPC targets {@code ids} in a GRPC group "web" (health checks on, never timed: {@code checkAll} runs them). */
  void startGrpc(Consumer<TargetGroup.Builder> group, String... ids) throws Exception {
    for (String id : ids) {
      targets.put(id, new GrpcTarget(id));
    }
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder g = TargetGroup.builder("web").protocol(TargetProtocol.GRPC)
        .healthCheck(new HealthCheckSettings(true, "/", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    group.accept(g);
    for (String id : ids) {
      g.target(id, targets.get(id).uri(), 1);
    }
    balancer = AffinityServer.builder(Router.builder(cookies).group(g.build()).build(), counters).clock(clock).build();
  }

  ManagedChannel channel(ClientInterceptor... interceptors) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", balancer.port()).usePlaintext().intercept(interceptors).build();
    channels.add(channel);
    return channel;
  }

  static String who(ManagedChannel channel) {
    return ClientCalls.blockingUnaryCall(channel, GrpcTarget.WHO, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "?");
  }

  static StickinessPolicy sticky() {
    return StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1)));
  }

  @Test
  void unaryCallsReachTheGroupOverHttp2AndSpreadWithoutStickiness() throws Exception {
    startGrpc(g -> { }, "a", "b");
    balancer.start();
    ManagedChannel channel = channel();
    Map<String, Integer> seen = new java.util.TreeMap<>();
    for (int i = 0; i < 20; i++) {
      seen.merge(who(channel), 1, Integer::sum);
    }
    assertThat(seen).containsOnlyKeys("a", "b");
    assertThat(targets.get("a").calls.get() + targets.get("b").calls.get()).isEqualTo(20);
    assertThat(balancer.balancer().getGrpcClient().getDestinations()).hasSize(2);
    assertThat(balancer.balancer().getHttpClient().getDestinations()).as("nothing over HTTP/1").isEmpty();
  }

  @Test
  void aGrpcErrorStatusAndItsMessagePassThroughUnchanged() throws Exception {
    startGrpc(g -> { }, "a");
    balancer.start();
    ManagedChannel channel = channel();
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel, GrpcTarget.FAIL, io.grpc.CallOptions.DEFAULT, "no such cart: 42"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).isEqualTo("no such cart: 42");
        });
    // A status in the trailers after a message: the unary call's answer and its OK both arrive.
    assertThat(who(channel)).isEqualTo("a");
    assertThat(balancer.balancer().badGatewayResponses()).isZero();
  }

  @Test
  void theGrpcHealthCheckMarksANotServingServerUnhealthyAndBackAndAnH2cOnlyServerIsHealthy() throws Exception {
    startGrpc(g -> { }, "a", "b");
    balancer.start();
    Target a = balancer.balancer().router().target("a");
    HealthChecker checker = balancer.healthChecker();
    // The server speaks only h2c: an HTTP/1.1 GET (an HTTP1 group's check) fails it, the gRPC call does not.
    // (Grpc-java's Netty server waits for an HTTP/2 preface and never answers the GET: a short timeout.)
    HealthCheckSettings http1Get = new HealthCheckSettings(true, "/", Duration.ofHours(1), Duration.ofMillis(300), 2, 2, 200, 399,
        Duration.ofSeconds(10));
    for (int i = 0; i < 2; i++) {
      checker.check(a, http1Get, TargetProtocol.HTTP1).get(10, TimeUnit.SECONDS);
    }
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.UNHEALTHY);
    assertThat(a.health().lastReason()).startsWith("health check failed");
    checkTwice(checker);
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.HEALTHY);

    targets.get("a").health.setStatus("", ServingStatus.NOT_SERVING);
    checkTwice(checker);
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.UNHEALTHY);
    assertThat(a.health().lastReason()).isEqualTo("gRPC health check answered NOT_SERVING");
    assertThat(balancer.balancer().router().target("b").health().state()).isEqualTo(TargetHealth.State.HEALTHY);
    // Calls now go to b only.
    ManagedChannel channel = channel();
    for (int i = 0; i < 6; i++) {
      assertThat(who(channel)).isEqualTo("b");
    }

    targets.get("a").health.setStatus("", ServingStatus.SERVING);
    checkTwice(checker);
    assertThat(a.health().state()).isEqualTo(TargetHealth.State.HEALTHY);
  }

  private void checkTwice(HealthChecker checker) throws Exception {
    checker.checkAll().get(10, TimeUnit.SECONDS);
    checker.checkAll().get(10, TimeUnit.SECONDS);
  }
}
