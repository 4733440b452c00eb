package dev.affinity.jetty;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Map;
import java.util.TreeMap;

/**
 * The smallest cookie jar a grpc-java client can have: each {@code Set-Cookie} of an answer's headers
 * stored by name (no attributes honoured, nothing expires), all of them sent as one {@code cookie} header
 * on later calls. What the cookie-stickiness tests use until header persistence lets gRPC clients do
 * without ({@link AffinitySessionInterceptor}).
 */
final class GrpcCookieJar implements ClientInterceptor {
  private static final Metadata.Key<String> SET_COOKIE = Metadata.Key.of("set-cookie", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> COOKIE = Metadata.Key.of("cookie", Metadata.ASCII_STRING_MARSHALLER);

  private final Map<String, String> cookies = new TreeMap<>();

  synchronized Map<String, String> cookies() {
    return Map.copyOf(cookies);
  }

  private synchronized String header() {
    StringBuilder out = new StringBuilder();
    cookies.forEach((name, value) -> out.append(out.length() == 0 ? "" : "; ").append(name).append('=').append(value));
    return out.length() == 0 ? null : out.toString();
  }

  private synchronized void store(Metadata answer) {
    Iterable<String> all = answer.getAll(SET_COOKIE);
    if (all == null) {
      return;
    }
    for (String setCookie : all) {
      String pair = setCookie.split(";", 2)[0];
      int eq = pair.indexOf('=');
      if (eq > 0) {
        String name = pair.substring(0, eq).trim();
        String value = pair.substring(eq + 1).trim();
        if (value.isEmpty() || setCookie.toLowerCase(java.util.Locale.ROOT).contains("max-age=0")) {
          cookies.remove(name);
        } else {
          cookies.put(name, value);
        }
      }
    }
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        String cookie = header();
        if (cookie != null) {
          headers.put(COOKIE, cookie);
        }
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          @Override
          public void onHeaders(Metadata answer) {
            store(answer);
            super.onHeaders(answer);
          }
        }, headers);
      }
    };
  }
}
