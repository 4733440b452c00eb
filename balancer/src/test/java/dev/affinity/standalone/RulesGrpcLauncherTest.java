package dev.affinity.standalone;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.jetty.AffinitySessionInterceptor;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.GrpcTarget;
import dev.affinity.jetty.ManualScheduler;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20's "done when" with its gRPC part: one YAML file, run by the launcher, routes {@code api.*} and
 * a gRPC service's path with header persistence to a {@code GRPC} group of real grpc-java servers,
 * {@code /old/*} to a redirect, {@code /maintenance} to a fixed response and everything else to an
 * HTTP/1.1 group with cookie stickiness, all on one listener, proven with a real grpc-java client
 * (h2c, prior knowledge) and a real HTTP client. RulesLauncherTest covers the same rules with an HTTP/2
 * API group and an HTTP API's {@code /v1/*}.
 */
class RulesGrpcLauncherTest {
  private static final String SESSION_HEADER = "X-Affinity-Session";

  @TempDir
  Path dir;
  private Backends web;
  private final Map<String, GrpcTarget> grpc = new LinkedHashMap<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ManualScheduler reloadScheduler = new ManualScheduler();

  @BeforeEach
  void setUp() throws Exception {
    web = Backends.start("web-1", "web-2");
    for (String id : new String[] {"grpc-1", "grpc-2", "grpc-3"}) {
      grpc.put(id, new GrpcTarget(id));
    }
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    if (running != null) {
      running.close();
    }
    http.stop();
    web.close();
    for (GrpcTarget target : grpc.values()) {
      target.close();
    }
  }

  private String yaml() {
    // The issue's /v1/* is an HTTP API's path. A gRPC call's path is /<package.Service>/<Method>, so the
    // rule that sends a gRPC API to its group matches the service: its path is the service's prefix.
    return """
        listen: { host: 127.0.0.1, port: 0 }
        keys:
          - { id: k1, secret: "%s" }
        targetGroups:
          - name: web
            stickiness: { type: cookie, idleTimeout: PT30M }
            healthCheck: { path: /health, interval: PT1M, timeout: PT2S }
            targets:
              - { id: web-1, uri: "%s" }
              - { id: web-2, uri: "%s" }
          - name: echo
            protocolVersion: GRPC
            healthCheck: { grpcService: %s, interval: PT1M, timeout: PT2S }
            targets:
              - { id: grpc-1, uri: "%s" }
              - { id: grpc-2, uri: "%s" }
              - { id: grpc-3, uri: "%s" }
        rules:
          - priority: 10
            name: grpc-api
            when: { host: "api.*", path: "/%s/*" }
            forward: [ { group: echo } ]
            persistence: { type: header, sessionName: %s, idleTimeout: PT30M, absoluteTimeout: PT8H }
          - priority: 20
            when: { path: "/old/*" }
            redirect: { status: 301, path: "/new/#{path}" }
          - priority: 30
            when: { path: /maintenance }
            fixedResponse: { status: 503, contentType: text/plain, body: "back soon" }
        defaultAction: { forward: [ { group: web } ] }
        """.formatted(BalancerTestBase.SECRET, web.uri("web-1"), web.uri("web-2"), GrpcTarget.SERVICE,
        grpc.get("grpc-1").uri(), grpc.get("grpc-2").uri(), grpc.get("grpc-3").uri(), GrpcTarget.SERVICE, SESSION_HEADER);
  }

  private URI start() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml());
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(new ByteArrayOutputStream(), true, UTF_8),
        new PrintStream(err, true, UTF_8), reloadScheduler);
    assertThat(running.exitCode()).as(err.toString(UTF_8)).isZero();
    return running.server().uri();
  }

  /** A plaintext (h2c) channel to the balancer whose calls say {@code authority} as their {@code :authority}. */
  private ManagedChannel channel(String authority, ClientInterceptor... interceptors) {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", running.server().port()).usePlaintext()
        .overrideAuthority(authority).intercept(interceptors).build();
    channels.add(channel);
    return channel;
  }

  // The deadlines are generous: this module's tests log at DEBUG (no logback-test.xml), which on a loaded
  // machine has made a first call over a new channel take more than 10 s.
  private static String who(Channel channel) {
    return ClientCalls.blockingUnaryCall(channel, GrpcTarget.WHO, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), "?");
  }

  private int grpcCalls() {
    return grpc.values().stream().mapToInt(t -> t.calls.get()).sum();
  }

  @Test
  void fiftyCallsOnTheApiHostStickByTheSessionHeaderAndAKilledServerMovesThemOnce() throws Exception {
    start();
    AffinitySessionInterceptor session = new AffinitySessionInterceptor(SESSION_HEADER);
    ManagedChannel channel = channel("api.example.com", session);
    String pinned = who(channel);
    assertThat(pinned).startsWith("grpc-");
    assertThat(session.session()).as("the rule's header persistence answered " + SESSION_HEADER).isNotBlank();
    for (int i = 1; i < 50; i++) {
      assertThat(who(channel)).as("call " + i).isEqualTo(pinned);
    }
    assertThat(grpc.get(pinned).calls.get()).isEqualTo(50);
    assertThat(grpcCalls()).as("no other server took a call").isEqualTo(50);

    int killedPort = grpc.get(pinned).port();
    grpc.get(pinned).kill();
    GrpcTarget.awaitNoConnectionTo(running.server().balancer(), killedPort);
    List<String> after = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      after.add(who(channel));
    }
    String moved = after.get(0);
    assertThat(moved).isNotEqualTo(pinned).startsWith("grpc-");
    assertThat(after).as("moved once, then stuck to the new server").containsOnly(moved);
    assertThat(grpc.get(moved).calls.get()).isEqualTo(50);
    assertThat(running.server().balancer().failovers()).isEqualTo(1);
    assertThat(running.server().balancer().router().rules(null).rules().get(0).hits()).as("every call took the gRPC rule").isEqualTo(100);
  }

  @Test
  void aCallWhoseAuthorityOrServiceDoesNotMatchReachesTheWebGroupAndFailsAsGrpc() throws Exception {
    start();
    // Another host, the right service: the host condition does not hold.
    BackendSeen seen = new BackendSeen();
    ManagedChannel www = channel("www.example.com", seen);
    assertThatThrownBy(() -> who(www)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      // A web target answered HTTP 200 with text/plain: grpc-java reads no gRPC answer in that.
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNKNOWN);
      assertThat(e.getStatus().getDescription()).contains("invalid content-type: text/plain");
    });
    assertThat(seen.backend.get()).as("answered by the web group").startsWith("web-");
    // The API's host, another service: the path condition does not hold.
    BackendSeen seen2 = new BackendSeen();
    ManagedChannel api = channel("api.example.com", seen2);
    MethodDescriptor<String, String> other = MethodDescriptor.<String, String>newBuilder(GrpcTarget.UTF8, GrpcTarget.UTF8)
        .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("other.Service/Who").build();
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(api, other, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), "?"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNKNOWN));
    assertThat(seen2.backend.get()).startsWith("web-");
    assertThat(grpcCalls()).as("no gRPC server saw either call").isZero();
    assertThat(running.server().balancer().router().rules(null).rules().get(0).hits()).isZero();
    // The same channel's calls that do match still reach the gRPC group.
    assertThat(who(api)).startsWith("grpc-");
  }

  @Test
  void theHttpRulesAndCookieStickinessWorkOnTheSameListenerAsGrpc() throws Exception {
    URI balancer = start();
    ManagedChannel channel = channel("api.example.com", new AffinitySessionInterceptor(SESSION_HEADER));
    String pinnedGrpc = who(channel);

    ContentResponse moved = get(balancer, "shop.example.com", "/old/page/1?x=1").send();
    assertThat(moved.getStatus()).isEqualTo(301);
    assertThat(moved.getHeaders().get(HttpHeader.LOCATION)).isEqualTo("http://shop.example.com/new/old/page/1?x=1");
    ContentResponse maintenance = get(balancer, "shop.example.com", "/maintenance").send();
    assertThat(maintenance.getStatus()).isEqualTo(503);
    assertThat(maintenance.getContentAsString()).isEqualTo("back soon");
    assertThat(running.server().balancer().ruleAnswers()).isEqualTo(2);

    ContentResponse first = get(balancer, "www.example.com", "/").send();
    String cookie = first.getHeaders().get(HttpHeader.SET_COOKIE);
    assertThat(cookie).startsWith("AFFINITY=");
    assertThat(first.getHeaders().get(SESSION_HEADER)).as("cookie persistence here, not header").isNull();
    String pinnedWeb = first.getHeaders().get("X-Backend");
    assertThat(pinnedWeb).startsWith("web-");
    for (int i = 0; i < 10; i++) {
      assertThat(get(balancer, "www.example.com", "/cart").headers(h -> h.put(HttpHeader.COOKIE, cookie.substring(0, cookie.indexOf(';'))))
          .send().getHeaders().get("X-Backend")).isEqualTo(pinnedWeb);
      // Interleaved on the same port, the gRPC session keeps its server.
      assertThat(who(channel)).isEqualTo(pinnedGrpc);
    }
    // An HTTP client on the API's host but outside the service's path is the web group's.
    assertThat(get(balancer, "api.example.com", "/v1/orders").send().getHeaders().get("X-Backend")).startsWith("web-");
    assertThat(grpc.get(pinnedGrpc).calls.get()).isEqualTo(11);
  }

  private Request get(URI balancer, String host, String pathQuery) {
    return http.newRequest(balancer.resolve(pathQuery)).headers(h -> h.put(HttpHeader.HOST, host)).timeout(5, TimeUnit.SECONDS);
  }

  /**
   * Remembers the {@code X-Backend} header the web targets answer. grpc-java hands a non-gRPC answer's
   * headers to {@code onClose} as its trailers (there were no others), so that is where it is found.
   */
  private static final class BackendSeen implements ClientInterceptor {
    private static final Metadata.Key<String> X_BACKEND = Metadata.Key.of("x-backend", Metadata.ASCII_STRING_MARSHALLER);
    final AtomicReference<String> backend = new AtomicReference<>();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            @Override
            public void onHeaders(Metadata answer) {
              remember(answer);
              super.onHeaders(answer);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              remember(trailers);
              super.onClose(status, trailers);
            }
          }, headers);
        }
      };
    }

    private void remember(Metadata answer) {
      String value = answer.get(X_BACKEND);
      if (value != null) {
        backend.set(value);
      }
    }
  }
}
