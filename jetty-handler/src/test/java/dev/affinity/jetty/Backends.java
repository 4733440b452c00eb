package dev.affinity.jetty;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Real Jetty servers on ephemeral loopback ports standing in for application targets. Each answers
 * with its own id and echoes what the balancer told it; {@code /health} answers 200 unless told to
 * fail, {@code /login} sets {@code JSESSIONID}. A backend can be killed and restarted on its port.
 * Each answer says in {@code X-Seen-Protocol} which protocol the request came in ({@code HTTP/1.1},
 * {@code HTTP/2.0}); {@link #startHttp2} backends also take h2c (prior knowledge and upgrade).
 */
public final class Backends implements AutoCloseable {
  private final Map<String, Backend> backends = new LinkedHashMap<>();

  public static Backends start(String... ids) throws Exception {
    return start(false, ids);
  }

  /** Backends that speak h2c as well as HTTP/1.1 on their port. */
  public static Backends startHttp2(String... ids) throws Exception {
    return start(true, ids);
  }

  private static Backends start(boolean http2, String... ids) throws Exception {
    Backends b = new Backends();
    for (String id : ids) {
      Backend backend = new Backend(id, http2);
      backend.start(0);
      b.backends.put(id, backend);
    }
    return b;
  }

  Backend get(String id) {
    return backends.get(id);
  }

  List<Backend> all() {
    return new ArrayList<>(backends.values());
  }

  /** Makes backend {@code id} answer the application's requests with {@code status} from now on (its {@code /health} stays as it is). */
  public void answerStatus(String id, int status) {
    backends.get(id).answerStatus = status;
  }

  /** Makes every backend report its instance (see {@code Backend.reportsInstance}) from now on. */
  public void reportInstances() {
    backends.values().forEach(b -> b.reportsInstance = true);
  }

  public URI uri(String id) {
    return backends.get(id).uri();
  }

  @Override
  public void close() throws Exception {
    for (Backend b : backends.values()) {
      b.stop();
    }
  }

  static final class Backend {
    final String id;
    final AtomicInteger requests = new AtomicInteger();
    final Map<String, String> lastHeaders = new ConcurrentHashMap<>();
    /** Every value of each header of the last request, lower-case names (lastHeaders keeps the last value only). */
    volatile Map<String, List<String>> lastHeaderValues = Map.of();
    /** How many body bytes the last request (not a health check) carried. */
    volatile long lastBodyBytes;
    volatile int healthStatus = 200;
    /** When set, {@code /health} answers {@code X-Affinity-Instance: <id>#<start count>}: each restart is a new process. */
    volatile boolean reportsInstance;
    private int starts;
    /** The status of the application's answers (not {@code /health}'s): a test makes a target answer 503 for a while. */
    volatile int answerStatus = 200;
    /** The protocol of the last health check this backend answered ({@code HTTP/1.1}, {@code HTTP/2.0}). */
    volatile String healthProtocol;
    final boolean http2;
    private volatile boolean killing;
    private Server server;
    private CrashableConnector connector;
    private int port;

    Backend(String id) {
      this(id, false);
    }

    Backend(String id, boolean http2) {
      this.id = id;
      this.http2 = http2;
    }

    void start(int wantedPort) throws Exception {
      starts++;
      server = new Server(new QueuedThreadPool(16, 2));
      HttpConfiguration config = new HttpConfiguration();
      config.setRequestHeaderSize(Limits.DEFAULT_MAX_REQUEST_HEADER_BYTES);
      connector = http2
          ? new CrashableConnector(server, new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config))
          : new CrashableConnector(server, new HttpConnectionFactory(config));
      connector.setHost("127.0.0.1");
      connector.setPort(wantedPort);
      connector.setReuseAddress(true);
      server.addConnector(connector);
      server.setHandler(new Handler.Abstract() {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
          String path = Request.getPathInContext(request);
          if (path.equals("/health")) {
            healthProtocol = request.getConnectionMetaData().getProtocol();
            response.setStatus(healthStatus);
            if (reportsInstance) {
              response.getHeaders().put("X-Affinity-Instance", id + "#" + starts);
            }
            Content.Sink.write(response, true, "health " + healthStatus, callback);
            return true;
          }
          // An application reads the body it was sent before it answers. (One that answers first and leaves
          // an upload unread makes Jetty reset the stream or close the connection right behind the answer,
          // which can cost the balancer that answer: EarlyAnswerTest, jetty-handler/README.md "HTTP/2".)
          long bodyBytes = Content.Source.asInputStream(request).transferTo(java.io.OutputStream.nullOutputStream());
          requests.incrementAndGet();
          lastBodyBytes = bodyBytes;
          lastHeaders.clear();
          request.getHeaders().forEach(f -> lastHeaders.put(f.getName().toLowerCase(), f.getValue()));
          Map<String, List<String>> values = new java.util.HashMap<>();
          request.getHeaders().forEach(f -> values.computeIfAbsent(f.getName().toLowerCase(), k -> new java.util.ArrayList<>()).add(f.getValue()));
          lastHeaderValues = values;
          response.getHeaders().put("X-Backend", id);
          response.getHeaders().put("X-Seen-Protocol", request.getConnectionMetaData().getProtocol());
          String previous = request.getHeaders().get(AffinityBalancer.PREVIOUS_TARGET_HEADER);
          response.getHeaders().put("X-Seen-Previous", previous == null ? "-" : previous);
          if (path.equals("/early-hints")) {
            response.writeInterim(103, HttpFields.build().put("Link", "</style.css>; rel=preload")).get();
          }
          if (path.equals("/login")) {
            response.getHeaders().add(HttpHeader.SET_COOKIE, "JSESSIONID=" + id + "-session; Path=/; HttpOnly");
          }
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
          response.setStatus(answerStatus);
          Content.Sink.write(response, true, id, callback);
          return true;
        }
      });
      // A stopping Jetty answers a request whose head it is still parsing with a 500 error page on
      // its way out (reproduced with a bare Server). A killed process answers nothing: while killing,
      // an error response drops the connection instead, as a crash would.
      ErrorHandler errorPage = new ErrorHandler();
      killing = false;
      server.setErrorHandler((request, response, callback) -> {
        if (killing) {
          callback.failed(new IOException("backend " + id + " killed"));
          return true;
        }
        return errorPage.handle(request, response, callback);
      });
      server.start();
      port = connector.getLocalPort();
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + port);
    }

    /** Stops like a crashed process: every connection drops, in-flight requests get no answer. */
    void kill() throws Exception {
      killing = true;
      connector.crash();
    }

    void restart() throws Exception {
      start(port);
    }

    void stop() throws Exception {
      if (server != null && server.isRunning()) {
        server.stop();
      }
    }

    static String body(byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }
}
