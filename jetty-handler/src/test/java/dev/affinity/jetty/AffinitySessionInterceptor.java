package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A grpc-java {@link ClientInterceptor} that carries the balancer's session header (header persistence,
 * DESIGN's {@code persistence: { type: header }}): gRPC clients keep no cookies and do not echo response
 * headers on their own, so this remembers the header from each answer (its headers, or the trailers of
 * a trailers-only answer, which is how grpc-java reports an error answered with headers only) and sends
 * the last value on every later call of the channel it is attached to. One instance is one client session.
 *
 * <p>It is a test class, not shipped code: grpc is only a test dependency of Affinity's modules, and a
 * main-scope class would force it on every user. {@code jetty-handler/README.md} ("gRPC targets") shows
 * it for copying; use it as
 * {@code ManagedChannelBuilder.forTarget("lb:8080").usePlaintext().intercept(new AffinitySessionInterceptor()).build()}.
 */
public final class AffinitySessionInterceptor implements ClientInterceptor {
  /** DESIGN.md's default {@code sessionName}. */
  public static final String DEFAULT_HEADER = "X-Affinity-Session";

  private final Metadata.Key<String> key;
  private final AtomicReference<String> session = new AtomicReference<>();

  public AffinitySessionInterceptor() {
    this(DEFAULT_HEADER);
  }

  /** @param header the group's or rule's {@code sessionName} */
  public AffinitySessionInterceptor(String header) {
    requireNonNull(header, "header");
    // gRPC metadata keys are lower case (HTTP/2 header names); Key.of refuses a "-bin" or malformed name.
    this.key = Metadata.Key.of(header.toLowerCase(Locale.ROOT), Metadata.ASCII_STRING_MARSHALLER);
  }

  /** The session value sent on the next call, {@code null} before the balancer gave one. */
  public String session() {
    return session.get();
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        String current = session.get();
        if (current != null) {
          headers.put(key, current);
        }
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
    String value = answer.get(key);
    if (value != null) {
      session.set(value);
    }
  }
}
