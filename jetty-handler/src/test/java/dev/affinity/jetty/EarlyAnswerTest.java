package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.ErrorCode;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.frames.DataFrame;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.http2.frames.ResetFrame;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A target that answers an upload without reading it (a 413 for a body too large, a redirect to
 * log in), then stops the rest of the upload: an HTTP/2 target by resetting the stream after its
 * answer (Jetty does, RFC 9113 section 8.1), an HTTP/1 target by closing its connection. The answer
 * was complete, so the balancer relays it whole and counts no failure, as HAProxy and Envoy do; the
 * client's unread body is then left to Jetty: an h2 client's stream is reset with {@code NO_ERROR},
 * an HTTP/1 client's connection is closed after the answer.
 *
 * <p>The target resets or closes only once the client holds the whole answer (it waits for that in
 * its completion callback), so each run takes the same path: a reset that arrives while the
 * balancer still reads the answer is another matter (see jetty-handler/README.md, "HTTP/2").
 */
class EarlyAnswerTest extends BalancerTestBase {
  private static final int ANSWER_BYTES = 200_000;
  // Far beyond every buffer and flow-control window on the way, so the target answers mid-upload.
  private static final int UPLOAD_BYTES = 16 << 20;
  private static final long WAIT_SECONDS = 10;

  private Server target;
  private final ExecutorService background = Executors.newCachedThreadPool();
  private final CountDownLatch clientHasAnswer = new CountDownLatch(1);
  private final CountDownLatch targetCompleted = new CountDownLatch(1);
  private HTTP2Client h2c;

  enum Client { HTTP1, H2C }

  static Stream<Arguments> targetsAndClients() {
    return Stream.of(TargetProtocol.HTTP1, TargetProtocol.HTTP2)
        .flatMap(p -> Arrays.stream(Client.values()).map(c -> Arguments.of(p, c)));
  }

  @AfterEach
  void stopAll() throws Exception {
    clientHasAnswer.countDown();
    if (h2c != null) {
      h2c.stop();
    }
    if (target != null) {
      target.stop();
    }
    background.shutdownNow();
  }

  @ParameterizedTest(name = "{0} target, {1} client")
  @MethodSource("targetsAndClients")
  void aTargetThatAnswersAnUploadUnreadHasItsWholeAnswerRelayedAndNoFailureCounted(TargetProtocol protocol, Client client) throws Exception {
    startTarget();
    startBalancerFor(protocol);
    Answer answer = client == Client.HTTP1 ? uploadOverHttp1() : uploadOverH2c();

    assertThat(answer.status).isEqualTo(413);
    assertThat(answer.headers).contains("x-early: yes");
    assertThat(answer.body).isEqualTo(answerBody());
    assertThat(targetCompleted.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("the target completed its exchange").isTrue();
    // The target's reset or close came after a complete answer: no failure, nothing ejected, no 502.
    AffinityBalancer b = balancer.balancer();
    dev.affinity.balancer.Target t = b.router().target("t");
    Eventually.awaitEquals("exchanges in flight on the target", t::inFlight, 0);
    assertThat(t.failures()).as("failures counted on the target").isZero();
    assertThat(t.isAvailable(clock.instant())).as("the target is still in rotation").isTrue();
    assertThat(b.badGatewayResponses()).isZero();
    if (client == Client.H2C) {
      // RFC 9113 section 8.1: after a complete answer, the rest of the upload is refused with NO_ERROR.
      assertThat(answer.resetError).as("the client's stream ended with RST_STREAM " + answer.resetError).isEqualTo(ErrorCode.NO_ERROR.code);
    } else {
      assertThat(answer.closedAfterAnswer).as("the client's connection was closed after the answer").isTrue();
    }
  }

  static byte[] answerBody() {
    byte[] body = new byte[ANSWER_BYTES];
    for (int i = 0; i < body.length; i++) {
      body[i] = (byte) ('a' + i % 26);
    }
    return body;
  }

  /**
   * A Jetty target (HTTP/1.1 and h2c) that answers 413 at once and, once the client holds that
   * answer, completes its exchange with the upload unread: Jetty then resets an HTTP/2 stream and
   * closes an HTTP/1 connection.
   */
  private void startTarget() throws Exception {
    target = new Server(new QueuedThreadPool(16, 2));
    HttpConfiguration config = new HttpConfiguration();
    ServerConnector connector = new ServerConnector(target, 1, 1, new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
    connector.setHost("127.0.0.1");
    target.addConnector(connector);
    byte[] body = answerBody();
    target.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        response.setStatus(413);
        response.getHeaders().put("X-Early", "yes");
        response.getHeaders().put("Content-Type", "application/octet-stream");
        response.write(true, ByteBuffer.wrap(body), Callback.from(() -> background.execute(() -> {
          try {
            clientHasAnswer.await(WAIT_SECONDS, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          callback.succeeded();
          targetCompleted.countDown();
        }), callback::failed));
        return true;
      }
    });
    target.start();
  }

  private void startBalancerFor(TargetProtocol protocol) throws Exception {
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup.Builder g = TargetGroup.builder("web").protocol(protocol)
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)));
    g.target("t", target.getURI().resolve("/"), 1);
    balancer = AffinityServer.builder(Router.builder(cookies).group(g.build()).build(), counters).clock(clock).build();
    balancer.start();
  }

  /** What a client got: status, header block (lower case), body, and how its stream or connection ended. */
  record Answer(int status, String headers, byte[] body, int resetError, boolean closedAfterAnswer) {}

  /** A raw HTTP/1.1 client: sends the upload from another thread while it reads the answer. */
  private Answer uploadOverHttp1() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", balancer.port())) {
      socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
      OutputStream out = socket.getOutputStream();
      out.write(("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: " + UPLOAD_BYTES
          + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> {
        byte[] chunk = new byte[64 * 1024];
        try {
          for (int sent = 0; sent < UPLOAD_BYTES; sent += chunk.length) {
            out.write(chunk);
          }
        } catch (IOException stopped) {
          // The balancer closed the connection after its answer: the rest of the upload is not wanted.
        }
      }, background);
      InputStream in = socket.getInputStream();
      String head = readHead(in);
      int status = Integer.parseInt(head.substring(9, 12));
      int length = Integer.parseInt(header(head, "content-length"));
      byte[] body = in.readNBytes(length);
      clientHasAnswer.countDown();
      boolean closed;
      try {
        closed = in.read() == -1;
      } catch (SocketException reset) {
        // Closed while the upload was still coming: the kernel answers the unread bytes with a reset.
        closed = true;
      }
      upload.get(WAIT_SECONDS, TimeUnit.SECONDS);
      return new Answer(status, head.toLowerCase(Locale.ROOT), body, -1, closed);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed before the answer's head ended: " + head);
      }
      head.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  private static String header(String head, String name) {
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    throw new AssertionError("no " + name + " in " + head);
  }

  /**
   * An h2c client on Jetty's low-level API, reading every DATA frame as it arrives (so a reset after
   * the answer cannot take any of it) while it sends the upload as fast as flow control lets it.
   */
  private Answer uploadOverH2c() throws Exception {
    h2c = new HTTP2Client();
    h2c.start();
    Session session = h2c.connect(new InetSocketAddress("127.0.0.1", balancer.port()), new Session.Listener() {}).get(WAIT_SECONDS, TimeUnit.SECONDS);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    StringBuilder headers = new StringBuilder();
    AtomicInteger status = new AtomicInteger();
    AtomicInteger resetError = new AtomicInteger(-1);
    CountDownLatch ended = new CountDownLatch(1);
    MetaData.Request request = new MetaData.Request("POST", HttpURI.from("http://127.0.0.1:" + balancer.port() + "/upload"), HttpVersion.HTTP_2,
        HttpFields.build().put("Content-Type", "application/octet-stream").put("Content-Length", Integer.toString(UPLOAD_BYTES)));
    org.eclipse.jetty.http2.api.Stream stream = session.newStream(new HeadersFrame(request, null, false), new org.eclipse.jetty.http2.api.Stream.Listener() {
      @Override
      public void onHeaders(org.eclipse.jetty.http2.api.Stream s, HeadersFrame frame) {
        MetaData.Response response = (MetaData.Response) frame.getMetaData();
        status.set(response.getStatus());
        response.getHttpFields().forEach(f -> headers.append(f.getLowerCaseName()).append(": ").append(f.getValue()).append("\r\n"));
        s.demand();
      }

      @Override
      public void onDataAvailable(org.eclipse.jetty.http2.api.Stream s) {
        while (true) {
          org.eclipse.jetty.http2.api.Stream.Data data = s.readData();
          if (data == null) {
            s.demand();
            return;
          }
          ByteBuffer bytes = data.frame().getByteBuffer();
          synchronized (body) {
            while (bytes.hasRemaining()) {
              body.write(bytes.get());
            }
          }
          boolean last = data.frame().isEndStream();
          data.release();
          if (last) {
            clientHasAnswer.countDown();
            return;
          }
        }
      }

      @Override
      public void onReset(org.eclipse.jetty.http2.api.Stream s, ResetFrame frame, Callback callback) {
        resetError.set(frame.getError());
        ended.countDown();
        callback.succeeded();
      }
    }).get(WAIT_SECONDS, TimeUnit.SECONDS);
    CompletableFuture<Void> upload = CompletableFuture.runAsync(() -> {
      byte[] chunk = new byte[16 * 1024];
      try {
        for (int sent = 0; sent < UPLOAD_BYTES && resetError.get() < 0; sent += chunk.length) {
          stream.data(new DataFrame(stream.getId(), ByteBuffer.wrap(chunk), sent + chunk.length >= UPLOAD_BYTES))
              .get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
      } catch (Exception stopped) {
        // The stream was reset: the rest of the upload is not wanted.
      }
    }, background);
    assertThat(clientHasAnswer.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("the whole answer reached the client").isTrue();
    assertThat(ended.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("the client's stream was reset after the answer").isTrue();
    upload.get(WAIT_SECONDS, TimeUnit.SECONDS);
    byte[] got;
    synchronized (body) {
      got = body.toByteArray();
    }
    return new Answer(status.get(), headers.toString(), got, resetError.get(), false);
  }
}
