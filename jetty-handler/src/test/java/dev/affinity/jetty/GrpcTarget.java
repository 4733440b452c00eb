package dev.affinity.jetty;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * A real grpc-java server (Netty, plaintext h2c only: it answers no HTTP/1.1) on an ephemeral loopback
 * port, with the standard health service ({@link HealthStatusManager}) and a small service defined
 * without protoc: UTF-8 strings as messages, {@link MethodDescriptor}s made by hand.
 *
 * <ul>
 *   <li>{@link #WHO} (unary): answers this server's id.
 *   <li>{@link #FAIL} (unary): ends with {@code FAILED_PRECONDITION} and the request as its description.
 *   <li>{@link #SILENT} (unary): never answers (the call is left open).
 *   <li>{@link #QUIET} (server streaming): sends {@code first:<id>}, stays quiet for the request's
 *       milliseconds, sends {@code second:<id>} and ends.
 * </ul>
 *
 * <p>Public, with what a test outside this package needs ({@link #WHO}, {@link #calls}, {@link #kill}):
 * the balancer module's launcher tests run it behind a YAML-configured balancer.
 */
public final class GrpcTarget implements AutoCloseable {
  public static final String SERVICE = "affinity.test.Echo";
  public static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };
  public static final MethodDescriptor<String, String> WHO = unary("Who");
  static final MethodDescriptor<String, String> FAIL = unary("Fail");
  static final MethodDescriptor<String, String> SILENT = unary("Silent");
  static final MethodDescriptor<String, String> QUIET = MethodDescriptor.<String, String>newBuilder(UTF8, UTF8)
      .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Quiet")).build();

  /**
   * What grpc-java's server logged about a missing {@code TE: trailers} (it strips {@code te} from the
   * metadata a service sees, so this is how a test learns whether the balancer said it).
   */
  static final List<String> TE_WARNINGS = new CopyOnWriteArrayList<>();
  private static final Logger SERVER_HANDLER_LOG = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler");

  static {
    SERVER_HANDLER_LOG.addHandler(new Handler() {
      @Override
      public void publish(LogRecord record) {
        String message = record.getMessage();
        if (message != null && message.contains("Expected header TE")) {
          TE_WARNINGS.add(message);
        }
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    });
  }

  private static final Metadata.Key<String> COOKIE = Metadata.Key.of("cookie", Metadata.ASCII_STRING_MARSHALLER);

  public final String id;
  public final HealthStatusManager health = new HealthStatusManager();
  /** Calls of the Echo service this server took (health checks not counted). */
  public final AtomicInteger calls = new AtomicInteger();
  volatile String lastCookie;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final Server server;

  private static MethodDescriptor<String, String> unary(String name) {
    return MethodDescriptor.<String, String>newBuilder(UTF8, UTF8).setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name)).build();
  }

  public GrpcTarget(String id) throws IOException {
    this.id = id;
    ServerServiceDefinition echo = ServerServiceDefinition.builder(SERVICE)
        .addMethod(WHO, ServerCalls.asyncUnaryCall((String request, StreamObserver<String> out) -> {
          out.onNext(id);
          out.onCompleted();
        }))
        .addMethod(FAIL, ServerCalls.asyncUnaryCall((String request, StreamObserver<String> out) ->
            out.onError(Status.FAILED_PRECONDITION.withDescription(request).asRuntimeException())))
        .addMethod(SILENT, ServerCalls.asyncUnaryCall((String request, StreamObserver<String> out) -> { }))
        .addMethod(QUIET, ServerCalls.asyncServerStreamingCall((String request, StreamObserver<String> out) -> {
          out.onNext("first:" + id);
          timer.schedule(() -> {
            out.onNext("second:" + id);
            out.onCompleted();
          }, Long.parseLong(request), TimeUnit.MILLISECONDS);
        }))
        .build();
    ServerInterceptor seen = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        calls.incrementAndGet();
        lastCookie = headers.get(COOKIE);
        return Contexts.interceptCall(io.grpc.Context.current(), call, headers, next);
      }
    };
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(SERVICE, ServingStatus.SERVING);
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(echo, seen))
        .addService(health.getHealthService())
        .build()
        .start();
  }

  public URI uri() {
    return URI.create("http://127.0.0.1:" + server.getPort());
  }

  public int port() {
    return server.getPort();
  }

  /** Stops at once: open calls are cut, connections closed, the port refuses from now on. */
  public void kill() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(10, TimeUnit.SECONDS);
  }

  /**
   * Waits (10 s at most) until {@code balancer}'s gRPC client has seen its connections to {@code port}
   * close, as after {@link #kill}: until then a call could meet that close (a 502) rather than a refused
   * connect, which is what makes the balancer fail over.
   */
  public static void awaitNoConnectionTo(AffinityBalancer balancer, int port) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline && balancer.getGrpcClient().getDestinations().stream()
        .filter(d -> d.getOrigin().getAddress().getPort() == port)
        .anyMatch(d -> !((org.eclipse.jetty.client.transport.HttpDestination) d).getConnectionPool().isEmpty())) {
      Thread.sleep(5);
    }
  }

  @Override
  public void close() throws InterruptedException {
    kill();
    timer.shutdownNow();
  }
}
