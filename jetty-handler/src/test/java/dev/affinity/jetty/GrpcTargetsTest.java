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
    GrpcTarget.TE_WARNINGS.clear();
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
    assertThat(GrpcTarget.TE_WARNINGS).as("the targets were told TE: trailers").isEmpty();
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
    // The group's own first scheduled (gRPC) probe fires within a second of start and may pass between two failed
    // GETs, resetting their count (seen on a loaded machine): a third GET covers it; the next scheduled one is an hour on.
    for (int i = 0; i < 3 && a.health().state() != TargetHealth.State.UNHEALTHY; i++) {
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

  @Test
  void withCookieStickiness100CallsStickAndKillingThePinnedServerMovesThemOnceThenTheyStick() throws Exception {
    startGrpc(g -> g.stickiness(sticky()), "a", "b", "c");
    balancer.start();
    GrpcCookieJar jar = new GrpcCookieJar();
    ManagedChannel channel = channel(jar);
    String pinned = who(channel);
    assertThat(jar.cookies()).containsKey("AFFINITY");
    for (int i = 0; i < 99; i++) {
      assertThat(who(channel)).isEqualTo(pinned);
    }
    assertThat(targets.get(pinned).calls.get()).isEqualTo(100);
    assertThat(targets.get(pinned).lastCookie).contains("AFFINITY=");

    int killedPort = targets.get(pinned).port();
    targets.get(pinned).kill();
    awaitNoConnectionTo(killedPort);
    List<String> after = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      after.add(who(channel));
    }
    String moved = after.get(0);
    assertThat(moved).isNotEqualTo(pinned);
    assertThat(after).as("moved once, then stuck to the new target").containsOnly(moved);
    assertThat(targets.get(moved).calls.get()).isEqualTo(100);
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
  }

  /**
   * Header persistence ({@code persistence: { type: header }}): the same as the cookie test with
   * {@link AffinitySessionInterceptor} and no cookie jar.
   */
  @Test
  void withHeaderPersistence100CallsStickThroughTheInterceptorAndAKilledTargetMovesThemOnce() throws Exception {
    startGrpc(g -> headerPersistence(g, false), "a", "b", "c");
    balancer.start();
    AffinitySessionInterceptor session = new AffinitySessionInterceptor();
    ManagedChannel channel = channel(session);
    String pinned = who(channel);
    assertThat(session.session()).as("the balancer answered X-Affinity-Session").isNotNull();
    for (int i = 0; i < 99; i++) {
      assertThat(who(channel)).isEqualTo(pinned);
    }
    int killedPort = targets.get(pinned).port();
    targets.get(pinned).kill();
    awaitNoConnectionTo(killedPort);
    List<String> after = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      after.add(who(channel));
    }
    assertThat(after.get(0)).isNotEqualTo(pinned);
    assertThat(after).containsOnly(after.get(0));
  }

  /** Strict header persistence: the pinned server gone, the client sees UNAVAILABLE (the balancer's 503), not another server. */
  @Test
  void withStrictHeaderPersistenceAKilledTargetGivesUnavailable() throws Exception {
    startGrpc(g -> headerPersistence(g, true), "a", "b");
    balancer.start();
    ManagedChannel channel = channel(new AffinitySessionInterceptor());
    String pinned = who(channel);
    int killedPort = targets.get(pinned).port();
    targets.get(pinned).kill();
    awaitNoConnectionTo(killedPort);
    assertThatThrownBy(() -> who(channel)).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    String other = pinned.equals("a") ? "b" : "a";
    assertThat(targets.get(other).calls.get()).as("no call moved to the other server").isZero();
  }

  /** Sets header persistence ({@code X-Affinity-Session}, strict or not) on the group. */
  private static void headerPersistence(TargetGroup.Builder group, boolean strict) {
    group.stickiness(dev.affinity.balancer.StickinessPolicy.header(AffinitySessionInterceptor.DEFAULT_HEADER,
        dev.affinity.cookie.Expiry.sliding(java.time.Duration.ofHours(1))).strict(strict));
  }

  /**
   * A quiet server stream outlives the upstream timeout: the target answers its headers and a first
   * message at once, then says nothing for three times the upstream timeout, then a second message and
   * its end. The upstream timeout of a GRPC group bounds only the wait for the headers.
   */
  @Test
  void aServerStreamQuietForLongerThanTheUpstreamTimeoutIsNotCut() throws Exception {
    startGrpc(g -> { }, "a");
    Duration upstreamTimeout = Duration.ofMillis(800);
    balancer.balancer().setUpstreamTimeout(upstreamTimeout);
    balancer.start();
    ManagedChannel channel = channel();
    long start = System.nanoTime();
    Iterator<String> stream = ClientCalls.blockingServerStreamingCall(channel, GrpcTarget.QUIET,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), Long.toString(3 * upstreamTimeout.toMillis()));
    List<String> messages = new ArrayList<>();
    stream.forEachRemaining(messages::add);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(messages).containsExactly("first:a", "second:a");
    assertThat(millis).isGreaterThanOrEqualTo(3 * upstreamTimeout.toMillis());
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isZero();
    // The connection to the target, quiet as long as the stream, still carries calls.
    assertThat(who(channel)).isEqualTo("a");
  }

  /** The upstream timeout still holds before the headers: a target that never answers a call gives 504, which gRPC reads as UNAVAILABLE. */
  @Test
  void aCallWithoutAnswerHeadersWithinTheUpstreamTimeoutGivesUnavailableAndIsCountedAsAGatewayTimeout() throws Exception {
    startGrpc(g -> { }, "a");
    Duration upstreamTimeout = Duration.ofMillis(500);
    balancer.balancer().setUpstreamTimeout(upstreamTimeout);
    balancer.start();
    ManagedChannel channel = channel();
    assertThat(who(channel)).isEqualTo("a");
    long start = System.nanoTime();
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel, GrpcTarget.SILENT,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), "?"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(e.getStatus().getDescription()).contains("504");
        });
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(upstreamTimeout.toMillis());
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isEqualTo(1);
    assertThat(targets.get("a").calls.get()).as("never retried").isEqualTo(2);
    assertThat(who(channel)).isEqualTo("a");
  }

  /**
   * A group's own timeouts: its upstream timeout is its calls' wait for headers, and a connect timeout of
   * its own gives it a client of its own, which has no idle timeout either (a quiet stream outlives both).
   */
  @Test
  void aGroupsOwnUpstreamTimeoutBoundsItsCallsHeadersAndNotItsQuietStreams() throws Exception {
    Duration groupTimeout = Duration.ofMillis(600);
    startGrpc(g -> g.timeouts(groupTimeout, Duration.ofSeconds(1)), "a");
    balancer.start();
    ManagedChannel channel = channel();
    Iterator<String> stream = ClientCalls.blockingServerStreamingCall(channel, GrpcTarget.QUIET,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), Long.toString(3 * groupTimeout.toMillis()));
    List<String> messages = new ArrayList<>();
    stream.forEachRemaining(messages::add);
    assertThat(messages).containsExactly("first:a", "second:a");
    assertThat(balancer.balancer().getGrpcClient().getDestinations()).as("the group's own client carried it").isEmpty();

    long start = System.nanoTime();
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel, GrpcTarget.SILENT,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), "?"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(millis).as("the group's 600 ms, not the balancer's 60 s").isBetween(groupTimeout.toMillis(), 15_000L);
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isEqualTo(1);
  }

  /**
   * Trailers reach an HTTP/1.1 client that asks for them (chunked, RFC 9112 section 7.1.2); one that
   * does not ask gets the same answer without them.
   */
  @Test
  void anHttp11ClientThatAsksForTrailersGetsTheTargetsAndOneThatDoesNotGetsTheAnswerWithout() throws Exception {
    startGrpc(g -> { }, "a");
    balancer.start();
    // A gRPC call by hand: the Who method, one empty message.
    String call = "POST /" + GrpcTarget.WHO.getFullMethodName() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
        + "Content-Length: 5\r\nConnection: close\r\n";
    GrpcTarget.TE_WARNINGS.clear();
    String withTrailers = raw(call + "TE: trailers\r\n\r\n", new byte[5]);
    assertThat(withTrailers).startsWith("HTTP/1.1 200").containsIgnoringCase("transfer-encoding: chunked")
        .containsIgnoringCase("\r\ngrpc-status: 0\r\n").contains("\u0000\u0000\u0000\u0000\u0001a");
    assertThat(GrpcTarget.TE_WARNINGS).as("the target was told TE: trailers").isEmpty();
    String without = raw(call + "\r\n", new byte[5]);
    // ... and without it grpc-java warns of a proxy that may not support trailers (once per connection).
    assertThat(GrpcTarget.TE_WARNINGS).singleElement().asString().contains("Expected header TE: trailers, but null is received");
    assertThat(without).startsWith("HTTP/1.1 200").doesNotContainIgnoringCase("grpc-status")
        .contains("\u0000\u0000\u0000\u0000\u0001a");
    assertThat(targets.get("a").calls.get()).isEqualTo(2);
  }

  private String raw(String head, byte[] body) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", balancer.port())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(head.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      socket.getOutputStream().write(body);
      return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
    }
  }

  /** A reload that brings the first GRPC group starts its client and its checks: calls and health work at once. */
  @Test
  void aReloadThatBringsTheFirstGrpcGroupServesItsCalls() throws Exception {
    startGrpc(g -> { }, "a");
    Router grpcRouter = balancer.balancer().router();
    Backends web = Backends.start("w");
    try {
      Router webOnly = Router.builder(cookies).group(TargetGroup.builder("web").target("w", web.uri("w"), 1)
          .healthCheck(new HealthCheckSettings(false, "/", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399,
              Duration.ofSeconds(10))).build()).build();
      balancer.balancer().router(webOnly);
      balancer.start();
      assertThat(balancer.balancer().getGrpcClient()).as("no GRPC group, no client").isNull();
      balancer.balancer().router(grpcRouter);
      balancer.healthChecker().refresh();
      assertThat(who(channel())).isEqualTo("a");
      targets.get("a").health.setStatus("", ServingStatus.NOT_SERVING);
      checkTwice(balancer.healthChecker());
      assertThat(grpcRouter.target("a").health().state()).isEqualTo(TargetHealth.State.UNHEALTHY);
    } finally {
      web.close();
    }
  }

  /** Until the balancer's client has seen its connection to a killed target close, a call could meet that close (a 502). */
  private void awaitNoConnectionTo(int port) throws InterruptedException {
    GrpcTarget.awaitNoConnectionTo(balancer.balancer(), port);
  }

  /**
   * What does bound a quiet stream: the client's side of the balancer, its listener's idle timeout
   * ({@code limits.idleTimeout}), as on every request. Jetty resets a client's stream that stays quiet
   * that long (its connection stays: an HTTP/2 connection with open streams is never idle).
   */
  @Test
  void aServerStreamQuietForLongerThanTheListenersIdleTimeoutIsCancelled() throws Exception {
    targets.put("a", new GrpcTarget("a"));
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup group = TargetGroup.builder("web").protocol(TargetProtocol.GRPC).target("a", targets.get("a").uri(), 1).build();
    Duration idleTimeout = Duration.ofMillis(800);
    balancer = AffinityServer.builder(Router.builder(cookies).group(group).build(), counters).clock(clock)
        .limits(Limits.builder().idleTimeout(idleTimeout).build()).build();
    balancer.start();
    ManagedChannel channel = channel();
    Iterator<String> stream = ClientCalls.blockingServerStreamingCall(channel, GrpcTarget.QUIET,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), Long.toString(3 * idleTimeout.toMillis()));
    List<String> messages = new ArrayList<>();
    assertThatThrownBy(() -> stream.forEachRemaining(messages::add)).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.CANCELLED));
    assertThat(messages).containsExactly("first:a");
    assertThat(balancer.balancer().gatewayTimeoutResponses()).isZero();
  }

  private void checkTwice(HealthChecker checker) throws Exception {
    checker.checkAll().get(10, TimeUnit.SECONDS);
    checker.checkAll().get(10, TimeUnit.SECONDS);
  }
}
