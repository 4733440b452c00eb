package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpScheme;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.ErrorCode;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.api.Stream;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.frames.DataFrame;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.http2.frames.ResetFrame;
import org.eclipse.jetty.http2.frames.SettingsFrame;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * WebSockets over HTTP/2 (RFC 8441) through the balancer, under concurrency: many extended CONNECTs
 * at once on shared h2 connections, each sending its first message the moment its 200 arrives.
 *
 * <p>The client is Jetty's low-level HTTP/2 session with WebSocket frames written and parsed here,
 * reading every DATA frame as it arrives. Jetty 12.1.8's own WebSocket client over HTTP/2 is not used:
 * under the same load it lost about one first answer in 200 (4 and 6 of 1,200 in two runs) although its
 * HTTP/2 session had received that answer's DATA frame (counted by a frame listener on it), and the
 * balancer had relayed every frame both ways; that was the loss that had switched RFC 8441 off.
 */
class WebSocketOverHttp2Test extends BalancerTestBase {
  private static final long WAIT_SECONDS = 10;
  private static final int ROUNDS = 10;
  private static final int CONCURRENT = 30;

  private WebSocketBackends webSocketBackends;
  private HTTP2Client h2c;

  @AfterEach
  void stopAll() throws Exception {
    if (h2c != null) {
      h2c.stop();
    }
    if (webSocketBackends != null) {
      webSocketBackends.close();
    }
  }

  @Test
  void extendedConnectIsOfferedAndConcurrentWebSocketsAreRoutedByTheCookieWithEveryFirstMessageAnswered() throws Exception {
    webSocketBackends = WebSocketBackends.start("a", "b", "c");
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder g = TargetGroup.builder("web").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    for (String id : List.of("a", "b", "c")) {
      g.target(id, webSocketBackends.uri(id), 1);
    }
    balancer = AffinityServer.builder(Router.builder(cookies).group(g.build()).build(), counters).clock(clock).build().start();
    h2c = new HTTP2Client();
    h2c.start();

    CompletableFuture<Map<Integer, Integer>> settings = new CompletableFuture<>();
    Session first = connect(settings);
    assertThat(settings.get(WAIT_SECONDS, TimeUnit.SECONDS)).as("the balancer's SETTINGS").containsEntry(SettingsFrame.ENABLE_CONNECT_PROTOCOL, 1);
    H2WebSocket newcomer = H2WebSocket.open(first, balancer.port(), null);
    assertThat(newcomer.status.get(WAIT_SECONDS, TimeUnit.SECONDS)).as("RFC 8441 answers the CONNECT with 200").isEqualTo(200);
    String cookie = newcomer.setCookie("AFFINITY");
    assertThat(cookie).as("the affinity cookie rides on the 200").isNotNull();
    newcomer.send("who");
    String pinned = newcomer.answer();
    assertThat(pinned).isIn("a", "b", "c");
    assertThat(newcomer.send("header:X-Forwarded-Proto").answer()).isEqualTo("http");
    first.close(ErrorCode.NO_ERROR.code, "done", Callback.NOOP);

    int lost = 0;
    List<String> wrong = new ArrayList<>();
    for (int round = 0; round < ROUNDS; round++) {
      Session session = connect(new CompletableFuture<>());
      List<H2WebSocket> sockets = new ArrayList<>();
      for (int i = 0; i < CONCURRENT; i++) {
        sockets.add(H2WebSocket.open(session, balancer.port(), "AFFINITY=" + cookie));
      }
      // Each sends its first message as soon as its own 200 is in, while the others are still opening.
      for (H2WebSocket socket : sockets) {
        assertThat(socket.status.get(WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo(200);
        socket.send("who");
      }
      for (H2WebSocket socket : sockets) {
        Object answer = socket.answers.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        if (answer == null) {
          lost++;
        } else if (!pinned.equals(answer)) {
          wrong.add((String) answer);
        }
      }
      session.close(ErrorCode.NO_ERROR.code, "round over", Callback.NOOP);
    }
    assertThat(lost).as("first messages without an answer, of %d", ROUNDS * CONCURRENT).isZero();
    assertThat(wrong).as("answers from another target than the pinned one").isEmpty();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (balancer.webSocketProxy().upgrades() < 1 + ROUNDS * CONCURRENT && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(balancer.webSocketProxy().upgrades()).isEqualTo(1 + ROUNDS * CONCURRENT);
    assertThat(webSocketBackends.get(pinned).upgrades.get()).isEqualTo(1 + ROUNDS * CONCURRENT);
  }

  private Session connect(CompletableFuture<Map<Integer, Integer>> settings) throws Exception {
    return h2c.connect(new InetSocketAddress("127.0.0.1", balancer.port()), new Session.Listener() {
      @Override
      public void onSettings(Session session, SettingsFrame frame) {
        settings.complete(frame.getSettings());
      }
    }).get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  /** One WebSocket on an h2 stream: frames written (masked, as a client must) and parsed here. */
  private static final class H2WebSocket implements Stream.Listener {
    final CompletableFuture<Integer> status = new CompletableFuture<>();
    final LinkedBlockingQueue<String> answers = new LinkedBlockingQueue<>();
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private volatile HttpFields headers;
    private Stream stream;

    static H2WebSocket open(Session session, int port, String cookieHeader) throws Exception {
      H2WebSocket socket = new H2WebSocket();
      HttpFields.Mutable fields = HttpFields.build().put("Sec-WebSocket-Version", "13");
      if (cookieHeader != null) {
        fields.put("Cookie", cookieHeader);
      }
      MetaData.ConnectRequest request = new MetaData.ConnectRequest(HttpScheme.HTTP, new HostPortHttpField("127.0.0.1:" + port), "/chat",
          fields, "websocket");
      socket.stream = session.newStream(new HeadersFrame(request, null, false), socket).get(WAIT_SECONDS, TimeUnit.SECONDS);
      return socket;
    }

    String setCookie(String name) {
      for (String v : headers.getValuesList("Set-Cookie")) {
        if (v.startsWith(name + "=")) {
          return v.substring(name.length() + 1, v.indexOf(';') < 0 ? v.length() : v.indexOf(';'));
        }
      }
      return null;
    }

    H2WebSocket send(String text) throws Exception {
      byte[] payload = text.getBytes(StandardCharsets.UTF_8);
      byte[] mask = {0x11, 0x22, 0x33, 0x44};
      ByteBuffer frame = ByteBuffer.allocate(2 + 4 + payload.length);
      frame.put((byte) 0x81).put((byte) (0x80 | payload.length)).put(mask);
      for (int i = 0; i < payload.length; i++) {
        frame.put((byte) (payload[i] ^ mask[i % 4]));
      }
      stream.data(new DataFrame(stream.getId(), frame.flip(), false)).get(WAIT_SECONDS, TimeUnit.SECONDS);
      return this;
    }

    String answer() throws InterruptedException {
      String answer = answers.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertThat(answer).as("an answer").isNotNull();
      return answer;
    }

    @Override
    public void onHeaders(Stream s, HeadersFrame frame) {
      MetaData.Response response = (MetaData.Response) frame.getMetaData();
      headers = response.getHttpFields();
      status.complete(response.getStatus());
      s.demand();
    }

    @Override
    public void onDataAvailable(Stream s) {
      while (true) {
        Stream.Data data = s.readData();
        if (data == null) {
          s.demand();
          return;
        }
        ByteBuffer bytes = data.frame().getByteBuffer();
        synchronized (received) {
          while (bytes.hasRemaining()) {
            received.write(bytes.get());
          }
          takeTextFrames();
        }
        boolean last = data.frame().isEndStream();
        data.release();
        if (last) {
          return;
        }
      }
    }

    /** Unmasked short text frames (the echo target's answers are all under 126 bytes). */
    private void takeTextFrames() {
      byte[] all = received.toByteArray();
      int at = 0;
      while (all.length - at >= 2 && all.length - at >= 2 + (all[at + 1] & 0x7f)) {
        int length = all[at + 1] & 0x7f;
        if ((all[at] & 0x0f) == 0x1) {
          answers.add(new String(all, at + 2, length, StandardCharsets.UTF_8));
        }
        at += 2 + length;
      }
      received.reset();
      received.write(all, at, all.length - at);
    }

    @Override
    public void onReset(Stream s, ResetFrame frame, Callback callback) {
      status.completeExceptionally(new AssertionError("stream reset with error " + frame.getError()));
      callback.succeeded();
    }
  }
}
