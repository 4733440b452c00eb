package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Target;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The exchange lifecycle core's {@code Attempt} owns, seen from outside over real sockets: what is
 * retried (a request none of whose bytes reached a target, whatever its method), what never is (a
 * request body a target received), and that every attempt's in-flight count comes back to zero, on
 * the HTTP paths and on WebSocket upgrades alike.
 */
class ExchangeLifecycleTest extends BalancerTestBase {
  private final List<Server> echoTargets = new ArrayList<>();
  private final Map<String, List<String>> bodiesSeen = new LinkedHashMap<>();
  private WebSocketBackends webSocketBackends;
  private ServerSocket scripted;

  @AfterEach
  void stopTargets() throws Exception {
    for (Server s : echoTargets) {
      s.stop();
    }
    if (webSocketBackends != null) {
      webSocketBackends.close();
    }
    if (scripted != null) {
      scripted.close();
    }
  }

  /** A real Jetty target that answers with its id and the SHA-256 of the body it received, and remembers each body. */
  private URI echoTarget(String id) throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    bodiesSeen.put(id, seen);
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        byte[] body = org.eclipse.jetty.util.BufferUtil.toArray(Content.Source.asByteBuffer(request));
        String sha = sha256(body);
        if (!Request.getPathInContext(request).equals("/health")) {
          seen.add(sha);
        }
        response.getHeaders().put("X-Backend", id);
        Content.Sink.write(response, true, id + " " + sha, callback);
        return true;
      }
    });
    server.start();
    echoTargets.add(server);
    return URI.create("http://127.0.0.1:" + connector.getLocalPort());
  }

  private int inFlight() {
    int sum = 0;
    for (Target t : balancer.balancer().router().groups().get(0).targets()) {
      sum += t.inFlight();
    }
    return sum;
  }

  private static String sha256(byte[] body) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
  }

  private static byte[] body(int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (i * 31 + 7);
    }
    return b;
  }

  @OverBothPaths
  void aPostToACrashedPinnedTargetIsAnsweredByAnotherWithTheCookieRewrittenAndTheBodyDeliveredOnce(TargetPath path) throws Exception {
    Map<String, URI> targets = new LinkedHashMap<>();
    targets.put("a", echoTarget("a"));
    targets.put("b", echoTarget("b"));
    startBalancer(path, b -> { }, targets);
    echoTargets.get(0).stop(); // "a" crashed: its port refuses connections
    byte[] payload = body(256 * 1024);

    ContentResponse r = http.newRequest(balancer.uri().resolve("/orders")).method(HttpMethod.POST)
        .headers(h -> h.put(HttpHeader.COOKIE, pinCookie("a")))
        .body(new BytesRequestContent("application/octet-stream", payload))
        .timeout(10, TimeUnit.SECONDS).send();

    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getHeaders().get("X-Backend")).isEqualTo("b");
    assertThat(r.getContentAsString()).isEqualTo("b " + sha256(payload));
    assertThat(bodiesSeen.get("b")).as("the body reached b exactly once").containsExactly(sha256(payload));
    assertThat(r.getHeaders().getValuesList(HttpHeader.SET_COOKIE)).as("the pin moves to b")
        .anySatisfy(c -> assertThat(c).startsWith("AFFINITY="));
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
    awaitInFlight(0);
  }

  @OverBothPaths
  void aPostWhoseBytesReachedATargetIsNeverSentAgain(TargetPath path) throws Exception {
    // "a" reads the whole request, body included, then drops the connection without an answer.
    scripted = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    AtomicInteger requestsToA = new AtomicInteger();
    Thread script = new Thread(() -> {
      while (!scripted.isClosed()) {
        try (Socket s = scripted.accept()) {
          s.setSoTimeout(5_000);
          if (readRequest(s.getInputStream()).startsWith("POST ")) {
            requestsToA.incrementAndGet();
          }
        } catch (Exception closed) {
          // the test is over, or the balancer went away
        }
      }
    }, "scripted-a");
    script.setDaemon(true);
    script.start();
    Map<String, URI> targets = new LinkedHashMap<>();
    targets.put("a", URI.create("http://127.0.0.1:" + scripted.getLocalPort()));
    targets.put("b", echoTarget("b"));
    startBalancer(path, b -> { }, targets);

    ContentResponse r = http.newRequest(balancer.uri().resolve("/orders")).method(HttpMethod.POST)
        .headers(h -> h.put(HttpHeader.COOKIE, pinCookie("a")))
        .body(new BytesRequestContent("text/plain", "pay 10 EUR".getBytes(StandardCharsets.UTF_8)))
        .timeout(10, TimeUnit.SECONDS).send();

    assertThat(r.getStatus()).isEqualTo(502);
    assertThat(requestsToA.get()).as("sent to a once").isEqualTo(1);
    assertThat(bodiesSeen.get("b")).as("never sent to b").isEmpty();
    assertThat(balancer.balancer().failovers()).isZero();
    awaitInFlight(0);
  }

  /** Reads a request head and its Content-Length body; returns the head. */
  private static String readRequest(InputStream in) throws Exception {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        return "";
      }
      head.write(c);
    }
    int length = 0;
    for (String line : head.toString(StandardCharsets.ISO_8859_1).split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    in.readNBytes(length);
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void aWebSocketUpgradeWhoseQueryJavaNetUriRefusesGets400AndLeavesNothingInFlight() throws Exception {
    webSocketBackends = WebSocketBackends.start("ws-1");
    startBalancer(TargetPath.DIRECT_RELAY, b -> { }, Map.of("ws-1", webSocketBackends.uri("ws-1")));
    // Jetty's server accepts '|', '>' and a stray '%' in a query; java.net.URI refuses them. This
    // used to answer 500 and leave the target's in-flight count raised for ever.
    String answer = rawUpgrade("/chat?q=a|b>c%zz");
    assertThat(answer).startsWith("HTTP/1.1 400").doesNotContain("Exception");
    assertThat(webSocketBackends.get("ws-1").upgrades.get()).as("no target contacted").isZero();
    awaitInFlight(0);
    // A well-formed one on the same balancer still goes through, with its query as sent.
    assertThat(rawUpgrade("/chat?q=a%7Cb&x=%E2%82%AC")).startsWith("HTTP/1.1 101");
    assertThat(webSocketBackends.get("ws-1").lastUpgradePathQuery()).isEqualTo("/chat?q=a%7Cb&x=%E2%82%AC");
    // The client's socket is closed: the tunnel ends and its count with it.
    awaitInFlight(0);
  }

  @Test
  void aWebSocketUpgradeRefusedEverywhereAnswers503AndLeavesNothingInFlight() throws Exception {
    scripted = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    int dead = scripted.getLocalPort();
    scripted.close();
    startBalancer(TargetPath.DIRECT_RELAY, b -> { }, Map.of("ws-dead", URI.create("http://127.0.0.1:" + dead)));
    String answer = rawUpgrade("/chat");
    assertThat(answer).startsWith("HTTP/1.1 503").contains("Retry-After: 5");
    awaitInFlight(0);
  }

  private String rawUpgrade(String pathQuery) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", balancer.port())) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + pathQuery + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n")) {
        int c = in.read();
        if (c < 0) {
          break;
        }
        head.write(c);
      }
      return head.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private void awaitInFlight(int expected) throws Exception {
    Eventually.awaitEquals("requests in flight", this::inFlight, expected);
  }

}
