package dev.affinity.bench.soak;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.server.WebSocketUpgradeHandler;

/**
 * The soak's targets: real Jetty servers on loopback ports of this JVM. {@code /health} answers 200;
 * every other path reads the body it was sent and answers {@code X-Backend: <id>} with the id and the
 * number of body bytes read, and {@code X-Seen-Previous} with the balancer's previous-target header when
 * the request carried one; a WebSocket upgrade on any path gets an echo endpoint that answers the text
 * {@code who} with the id and that previous target. A target is killed as a crashed process would be (every connection
 * dropped, no answer to requests in flight) and restarted on the same port.
 */
final class SoakTargets implements AutoCloseable {
  /** What the balancer tells a target when it moved a client there from another one (jetty-handler's Forwarder). */
  static final String PREVIOUS_TARGET = "X-Affinity-Previous-Target";
  /** The previous target, sent back to the client, which counts the re-pins it was told of. */
  static final String SEEN_PREVIOUS = "X-Seen-Previous";
  private final List<Target> targets = new ArrayList<>();

  static SoakTargets start(int count) throws Exception {
    SoakTargets all = new SoakTargets();
    try {
      for (int i = 1; i <= count; i++) {
        Target t = new Target("t" + i);
        t.start(0);
        all.targets.add(t);
      }
    } catch (Exception e) {
      all.close();
      throw e;
    }
    return all;
  }

  List<Target> all() {
    return targets;
  }

  Target get(int index) {
    return targets.get(index);
  }

  Target byId(String id) {
    for (Target t : targets) {
      if (t.id.equals(id)) {
        return t;
      }
    }
    return null;
  }

  @Override
  public void close() throws Exception {
    for (Target t : targets) {
      t.stop();
    }
  }

  static final class Target {
    final String id;
    final AtomicLong requests = new AtomicLong();
    final AtomicInteger upgrades = new AtomicInteger();
    /**
     * Kills completed (counted once the server has stopped): a client whose last answer from this target
     * left before a kill completed lost its target since. Counted after the stop, because the target
     * still answers for a few milliseconds while it stops.
     */
    final AtomicInteger kills = new AtomicInteger();
    /** Kills begun (counted before the stop): a connection closed while a kill is under way was cut by it. */
    final AtomicInteger killsStarted = new AtomicInteger();
    /** Connections Jetty's stop had left open, closed by the kill itself (a crashed process's sockets all close). */
    final AtomicInteger leftOpenAtKill = new AtomicInteger();
    private final java.util.Set<org.eclipse.jetty.io.EndPoint> open = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean killing;
    private volatile boolean up;
    private Server server;
    private int port;

    Target(String id) {
      this.id = id;
    }

    synchronized void start(int wantedPort) throws Exception {
      Server s = new Server(new QueuedThreadPool(32, 2));
      HttpConfiguration config = new HttpConfiguration();
      config.setSendServerVersion(false);
      // As large a head as the balancer takes (its default 32 KB): the balancer forwards cookies as
      // they came, so with Jetty's default 8 KB a target answers a 1000-shard request 431 itself.
      config.setRequestHeaderSize(32 * 1024);
      ServerConnector connector = new ServerConnector(s, 1, 1, new HttpConnectionFactory(config));
      connector.setHost("127.0.0.1");
      connector.setPort(wantedPort);
      connector.setReuseAddress(true);
      connector.addEventListener(new org.eclipse.jetty.io.Connection.Listener() {
        @Override
        public void onOpened(org.eclipse.jetty.io.Connection connection) {
          open.add(connection.getEndPoint());
        }

        @Override
        public void onClosed(org.eclipse.jetty.io.Connection connection) {
          open.remove(connection.getEndPoint());
        }
      });
      s.addConnector(connector);
      WebSocketUpgradeHandler webSockets = new WebSocketUpgradeHandler();
      webSockets.addMapping("/*", (request, response, callback) -> {
        upgrades.incrementAndGet();
        return new Echo(request.getHeaders().get(PREVIOUS_TARGET));
      });
      webSockets.setHandler(new Handler.Abstract() {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
          if (Request.getPathInContext(request).equals("/health")) {
            Content.Sink.write(response, true, "ok", callback);
            return true;
          }
          requests.incrementAndGet();
          response.getHeaders().put("X-Backend", id);
          String previous = request.getHeaders().get(PREVIOUS_TARGET);
          if (previous != null) {
            response.getHeaders().put(SEEN_PREVIOUS, previous);
          }
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
          // The application reads what it was sent before it answers (an unread upload makes Jetty
          // close the connection behind the answer, which is not what the soak measures).
          long[] read = new long[1];
          readAll(request, read, () -> Content.Sink.write(response, true, id + " " + read[0], callback), callback::failed);
          return true;
        }
      });
      s.setHandler(webSockets);
      // A stopping Jetty answers a request whose head it is still parsing with a 500 on its way out; a
      // crashed process answers nothing, so while killing the error page drops the connection instead.
      ErrorHandler errorPage = new ErrorHandler();
      killing = false;
      s.setErrorHandler((request, response, callback) -> {
        if (killing) {
          callback.failed(new IOException("target " + id + " killed"));
          return true;
        }
        return errorPage.handle(request, response, callback);
      });
      s.start();
      server = s;
      port = connector.getLocalPort();
      up = true;
    }

    private static void readAll(Request request, long[] read, Runnable done, java.util.function.Consumer<Throwable> failed) {
      while (true) {
        Content.Chunk chunk = request.read();
        if (chunk == null) {
          request.demand(() -> readAll(request, read, done, failed));
          return;
        }
        if (Content.Chunk.isFailure(chunk)) {
          failed.accept(chunk.getFailure());
          return;
        }
        read[0] += chunk.remaining();
        chunk.release();
        if (chunk.isLast()) {
          done.run();
          return;
        }
      }
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + port);
    }

    boolean isUp() {
      return up;
    }

    /** Stops like a crashed process: every connection drops, requests in flight get no answer. */
    synchronized void kill() throws Exception {
      killsStarted.incrementAndGet();
      up = false;
      killing = true;
      server.setStopTimeout(0);
      server.stop();
      for (org.eclipse.jetty.io.EndPoint e : open) {
        if (e.isOpen()) {
          leftOpenAtKill.incrementAndGet();
          e.close();
        }
      }
      open.clear();
      kills.incrementAndGet();
    }

    synchronized void restart() throws Exception {
      start(port);
    }

    synchronized void stop() throws Exception {
      up = false;
      if (server != null && server.isRunning()) {
        server.setStopTimeout(0);
        server.stop();
      }
    }

    /** Echoes every data frame; {@code who} is answered {@code who <id> <previous target or ->}. */
    private final class Echo implements FrameHandler {
      private final String previous;
      private CoreSession session;

      Echo(String previous) {
        this.previous = previous == null ? "-" : previous;
      }

      @Override
      public void onOpen(CoreSession coreSession, Callback callback) {
        session = coreSession;
        callback.succeeded();
        coreSession.demand();
      }

      @Override
      public void onFrame(Frame frame, Callback callback) {
        byte opCode = frame.getOpCode();
        Callback next = Callback.from(() -> {
          callback.succeeded();
          session.demand();
        }, callback::failed);
        if (opCode == OpCode.CLOSE) {
          callback.succeeded();
          return;
        }
        if (opCode == OpCode.PING) {
          session.sendFrame(new Frame(OpCode.PONG, copy(frame.getPayload())), next, false);
          return;
        }
        if (opCode == OpCode.TEXT && frame.isFin() && "who".equals(frame.getPayloadAsUTF8())) {
          session.sendFrame(new Frame(OpCode.TEXT, "who " + id + " " + previous), next, false);
          return;
        }
        if (opCode == OpCode.PONG) {
          next.succeeded();
          return;
        }
        session.sendFrame(new Frame(opCode, frame.isFin(), copy(frame.getPayload())), next, false);
      }

      @Override
      public void onError(Throwable cause, Callback callback) {
        callback.succeeded();
      }

      @Override
      public void onClosed(org.eclipse.jetty.websocket.core.CloseStatus closeStatus, Callback callback) {
        callback.succeeded();
      }

      private ByteBuffer copy(ByteBuffer payload) {
        ByteBuffer c = ByteBuffer.allocate(payload.remaining());
        c.put(payload.slice()).flip();
        return c;
      }
    }

    @Override
    public String toString() {
      return id + " " + uri() + (up ? "" : " (down)");
    }
  }
}
