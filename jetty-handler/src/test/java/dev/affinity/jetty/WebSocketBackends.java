package dev.affinity.jetty;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.IteratingCallback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.server.WebSocketUpgradeHandler;

/**
 * Real Jetty servers on ephemeral loopback ports with a websocket-core echo endpoint on every path.
 * Data frames come back as they went (same opcode, same fragmentation), pings are answered with
 * pongs, and a few text commands answer about the backend: {@code who} (its id), {@code previous}
 * (the {@code X-Affinity-Previous-Target} its upgrade carried, or {@code -}), {@code header:NAME}
 * (any upgrade header) and {@code flood:N:SIZE} (N binary frames of SIZE bytes, each sent when the
 * last one was written). Plain HTTP requests are answered with the id, as {@link Backends} does.
 */
final class WebSocketBackends implements AutoCloseable {
  private final Map<String, Backend> backends = new LinkedHashMap<>();

  static WebSocketBackends start(String... ids) throws Exception {
    return start(null, ids);
  }

  /**
   * Backends that speak TLS with {@code tls} ({@code https://} and {@code wss://} URIs), HTTP/1.1 or h2 by
   * ALPN; a request for {@code /tls} is answered with what the handshake carried: {@code sni=NAME
   * client=SUBJECT protocol=VERSION}, {@code -} for what was absent.
   */
  static WebSocketBackends start(SslContextFactory.Server tls, String... ids) throws Exception {
    WebSocketBackends b = new WebSocketBackends();
    for (String id : ids) {
      Backend backend = new Backend(id, tls);
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

  URI uri(String id) {
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
    final AtomicInteger upgrades = new AtomicInteger();
    /** Flood frames whose write completed. */
    final AtomicInteger floodFramesWritten = new AtomicInteger();
    /** The close status of each WebSocket this target saw end, in order. */
    final java.util.concurrent.LinkedBlockingQueue<CloseStatus> closes = new java.util.concurrent.LinkedBlockingQueue<>();
    final Map<String, String> lastUpgradeHeaders = new ConcurrentHashMap<>();
    private volatile String lastUpgradePathQuery;
    private final SslContextFactory.Server tls;
    private Server server;
    private CrashableConnector connector;
    private int port;

    Backend(String id) {
      this(id, null);
    }

    Backend(String id, SslContextFactory.Server tls) {
      this.id = id;
      this.tls = tls;
    }

    /** The raw path and query of the last upgrade this target accepted. */
    String lastUpgradePathQuery() {
      return lastUpgradePathQuery;
    }

    void start(int wantedPort) throws Exception {
      server = new Server(new QueuedThreadPool(16, 2));
      HttpConfiguration config = new HttpConfiguration();
      config.setRequestHeaderSize(Limits.DEFAULT_MAX_REQUEST_HEADER_BYTES);
      if (tls == null) {
        connector = new CrashableConnector(server, new HttpConnectionFactory(config));
      } else {
        config.addCustomizer(new SecureRequestCustomizer(false));
        ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
        alpn.setDefaultProtocol("http/1.1");
        connector = new CrashableConnector(server, new SslConnectionFactory(tls, alpn.getProtocol()), alpn,
            new HTTP2ServerConnectionFactory(config), new HttpConnectionFactory(config));
      }
      connector.setHost("127.0.0.1");
      connector.setPort(wantedPort);
      connector.setReuseAddress(true);
      server.addConnector(connector);
      WebSocketUpgradeHandler webSockets = new WebSocketUpgradeHandler();
      webSockets.getConfiguration().setMaxFrameSize(4 * 1024 * 1024);
      webSockets.getConfiguration().setAutoFragment(false);
      webSockets.addMapping("/*", (request, response, callback) -> {
        upgrades.incrementAndGet();
        lastUpgradeHeaders.clear();
        request.getHeaders().forEach(f -> lastUpgradeHeaders.put(f.getName().toLowerCase(), f.getValue()));
        lastUpgradePathQuery = request.getHttpURI().getPathQuery();
        return new Echo();
      });
      webSockets.setHandler(new Handler.Abstract() {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
          String path = Request.getPathInContext(request);
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
          String body = path.equals("/health") ? "ok" : path.equals("/tls") ? id + " " + handshake(request) : id;
          if ("close".equals(request.getHttpURI().getQuery())) {
            // The next request through a proxy then needs a new connection (and a new handshake).
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
          }
          Content.Sink.write(response, true, body, callback);
          return true;
        }
      });
      server.setHandler(webSockets);
      server.start();
      port = connector.getLocalPort();
    }

    URI uri() {
      return URI.create((tls == null ? "http" : "https") + "://127.0.0.1:" + port);
    }

    /** What the TLS handshake of {@code request}'s connection carried, for {@code /tls}. */
    private static String handshake(Request request) {
      EndPoint.SslSessionData ssl = (EndPoint.SslSessionData) request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
      String sni = "-";
      String client = "-";
      if (ssl != null) {
        if (ssl.sslSession() instanceof ExtendedSSLSession extended) {
          sni = extended.getRequestedServerNames().stream()
              .filter(n -> n instanceof SNIHostName).map(n -> ((SNIHostName) n).getAsciiName()).findFirst().orElse("-");
        }
        X509Certificate[] peers = ssl.peerCertificates();
        if (peers != null && peers.length > 0) {
          client = peers[0].getSubjectX500Principal().getName();
        }
      }
      return "sni=" + sni + " client=" + client + " protocol=" + request.getConnectionMetaData().getHttpVersion().asString();
    }

    void kill() throws Exception {
      connector.crash();
    }

    void stop() throws Exception {
      if (server != null && server.isRunning()) {
        server.stop();
      }
    }

    /** Echoes frame by frame and answers the text commands. */
    private final class Echo implements FrameHandler {
      private CoreSession session;

      @Override
      public void onOpen(CoreSession coreSession, Callback callback) {
        this.session = coreSession;
        callback.succeeded();
        coreSession.demand();
      }

      @Override
      public void onFrame(Frame frame, Callback callback) {
        byte opCode = frame.getOpCode();
        if (opCode == OpCode.CLOSE) {
          callback.succeeded();
          return;
        }
        Callback next = Callback.from(() -> {
          callback.succeeded();
          session.demand();
        }, x -> {
          callback.failed(x);
        });
        if (opCode == OpCode.PONG) {
          next.succeeded();
          return;
        }
        if (opCode == OpCode.PING) {
          session.sendFrame(new Frame(OpCode.PONG, copy(frame.getPayload())), next, false);
          return;
        }
        if (opCode == OpCode.TEXT && frame.isFin()) {
          String text = frame.getPayloadAsUTF8();
          String answer = null;
          if (text.equals("who")) {
            answer = id;
          } else if (text.equals("previous")) {
            answer = lastUpgradeHeaders.getOrDefault(AffinityBalancer.PREVIOUS_TARGET_HEADER.toLowerCase(), "-");
          } else if (text.startsWith("header:")) {
            answer = lastUpgradeHeaders.getOrDefault(text.substring("header:".length()).toLowerCase(), "-");
          } else if (text.startsWith("flood:")) {
            String[] parts = text.split(":");
            flood(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
            next.succeeded();
            return;
          }
          if (answer != null) {
            session.sendFrame(new Frame(OpCode.TEXT, answer), next, false);
            return;
          }
        }
        session.sendFrame(new Frame(opCode, frame.isFin(), copy(frame.getPayload())), next, false);
      }

      private void flood(int frames, int size) {
        new IteratingCallback() {
          private int left = frames;
          private boolean sent;

          @Override
          protected Action process() {
            if (sent) {
              floodFramesWritten.incrementAndGet();
            }
            if (left == 0 || !session.isOutputOpen()) {
              return Action.SUCCEEDED;
            }
            left--;
            sent = true;
            session.sendFrame(new Frame(OpCode.BINARY, true, ByteBuffer.allocate(size)), this, false);
            return Action.SCHEDULED;
          }
        }.iterate();
      }

      @Override
      public void onError(Throwable cause, Callback callback) {
        callback.succeeded();
      }

      @Override
      public void onClosed(CloseStatus closeStatus, Callback callback) {
        closes.add(closeStatus);
        callback.succeeded();
      }
    }

    private static ByteBuffer copy(ByteBuffer payload) {
      if (payload == null) {
        return ByteBuffer.allocate(0);
      }
      ByteBuffer copy = ByteBuffer.allocate(payload.remaining());
      copy.put(payload.slice()).flip();
      return copy;
    }

    static String text(ByteBuffer payload) {
      return payload == null ? "" : StandardCharsets.UTF_8.decode(payload.slice()).toString();
    }
  }
}
