package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.api.Stream;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.http2.frames.SettingsFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Each of {@link Limits}' settings, over real sockets: what a client past the limit gets, and that others are still served. */
class LimitsTest extends BalancerTestBase {
  private final ManualScheduler headTimer = new ManualScheduler();
  private final List<Socket> sockets = new ArrayList<>();
  private HttpClient h2c;

  @AfterEach
  void closeSockets() throws Exception {
    for (Socket s : sockets) {
      s.close();
    }
    if (h2c != null) {
      h2c.stop();
    }
  }

  private void startWith(Limits limits) throws Exception {
    backends = Backends.start("a");
    cookies = AffinityCookies.of(AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(),
        CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(1), 2, 2, 200, 399,
            Duration.ofSeconds(10)))
        .target("a", backends.uri("a"), 1).build();
    balancer = AffinityServer.builder(Router.builder(cookies).group(web).build(), counters).clock(clock)
        .limits(limits).requestHeadTimer(headTimer).build().start();
    startClient();
  }

  private Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", balancer.port());
    s.setSoTimeout(10_000);
    sockets.add(s);
    return s;
  }

  private static void send(Socket s, String text) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** Everything the balancer sends until it closes the connection. */
  private static String readToClose(Socket s) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    byte[] buffer = new byte[4096];
    try {
      for (int n; (n = in.read(buffer)) > 0; ) {
        all.write(buffer, 0, n);
      }
    } catch (java.net.SocketException reset) {
      // A reset after the answer is still a close.
    }
    return all.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void aRequestHeadTricklingPastTheHeaderTimeoutIsAnswered408AndClosedWhateverItsPace() throws Exception {
    startWith(Limits.builder().requestHeaderTimeout(Duration.ofSeconds(10)).build());
    Socket slow = connect();
    send(slow, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    Eventually.await("the head's deadline armed", () -> headTimer.pending() == 1);
    // More bytes keep coming (each would restart the idle timeout), but the deadline runs from the first.
    headTimer.advance(Duration.ofSeconds(6));
    send(slow, "a");
    headTimer.advance(Duration.ofSeconds(3));
    send(slow, "b");
    assertThat(balancer.requestHeadTimeouts()).isZero();
    headTimer.advance(Duration.ofSeconds(1));
    assertThat(readToClose(slow)).startsWith("HTTP/1.1 408 ");
    assertThat(balancer.requestHeadTimeouts()).isEqualTo(1);
    assertThat(backends.get("a").requests.get()).isZero();
    assertThat(http.GET(balancer.uri().resolve("/")).getStatus()).isEqualTo(200);
  }

  @Test
  void aHeadThatArrivesWholeArmsNothingAndAKeptAliveConnectionWaitsForItsNextRequest() throws Exception {
    startWith(Limits.builder().requestHeaderTimeout(Duration.ofSeconds(10)).build());
    Socket client = connect();
    send(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    String first = readAnswer(client);
    assertThat(first).startsWith("HTTP/1.1 200 ");
    assertThat(headTimer.pending()).isZero();
    // Idle between requests is the idle timeout's business, not the head's: nothing fires.
    headTimer.advance(Duration.ofSeconds(60));
    // A head split over two reads completes in time: the deadline is disarmed.
    send(client, "GET / HTTP/1.1\r\n");
    Eventually.await("the second head's deadline armed", () -> headTimer.pending() == 1);
    headTimer.advance(Duration.ofSeconds(9));
    send(client, "Host: x\r\n\r\n");
    assertThat(readAnswer(client)).startsWith("HTTP/1.1 200 ");
    assertThat(headTimer.pending()).isZero();
    headTimer.advance(Duration.ofSeconds(60));
    assertThat(balancer.requestHeadTimeouts()).isZero();
    assertThat(backends.get("a").requests.get()).isEqualTo(2);
  }

  /** One answer with a Content-Length body, read off a kept-alive connection. */
  private static String readAnswer(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("closed after " + head);
      }
      head.append((char) c);
    }
    int length = 0;
    for (String line : head.toString().split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    byte[] body = in.readNBytes(length);
    return head + new String(body, StandardCharsets.ISO_8859_1);
  }

  @Test
  void pastMaxConnectionsNewClientsWaitUntilOneCloses() throws Exception {
    startWith(Limits.builder().maxConnections(2).build());
    Socket one = connect();
    Socket two = connect();
    send(one, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    send(two, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(readAnswer(one)).startsWith("HTTP/1.1 200 ");
    assertThat(readAnswer(two)).startsWith("HTTP/1.1 200 ");
    Socket third = connect();
    send(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    third.setSoTimeout(500);
    boolean answeredWhileFull;
    try {
      answeredWhileFull = third.getInputStream().read() >= 0;
    } catch (SocketTimeoutException expected) {
      answeredWhileFull = false;
    }
    assertThat(answeredWhileFull).as("a third connection is served while two are open").isFalse();
    one.close();
    third.setSoTimeout(10_000);
    String answer = readAnswer(third);
    assertThat(answer).startsWith("HTTP/1.1 200 ");
  }

  @Test
  void aHeadLargerThanMaxRequestHeaderBytesIs431AndASmallerOnePasses() throws Exception {
    startWith(Limits.builder().maxRequestHeaderBytes(2048).build());
    String small = "x".repeat(1500);
    String big = "x".repeat(3000);
    assertThat(http.newRequest(balancer.uri().resolve("/")).headers(h -> h.put("X-Pad", small)).send().getStatus()).isEqualTo(200);
    assertThat(http.newRequest(balancer.uri().resolve("/")).headers(h -> h.put("X-Pad", big)).send().getStatus()).isEqualTo(431);
    // The same limit on an HTTP/2 header list.
    h2c = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
    h2c.setHttpCookieStore(new HttpCookieStore.Empty());
    h2c.start();
    ContentResponse ok = h2c.newRequest(balancer.uri().resolve("/")).headers(h -> h.put("X-Pad", small)).send();
    assertThat(ok.getVersion()).isEqualTo(HttpVersion.HTTP_2);
    assertThat(ok.getStatus()).isEqualTo(200);
    // The balancer's SETTINGS advertise the limit (MAX_HEADER_LIST_SIZE), and a well-behaved client
    // such as Jetty's then refuses to send a larger header list at all.
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> h2c.newRequest(balancer.uri().resolve("/")).headers(h -> h.put("X-Pad", big)).send())
        .isInstanceOf(java.util.concurrent.ExecutionException.class)
        .hasCauseInstanceOf(org.eclipse.jetty.http2.hpack.HpackException.SessionException.class)
        .hasStackTraceContaining("Could not hpack encode");
    assertThat(backends.get("a").requests.get()).isEqualTo(2);
    assertThat(backends.get("a").requests.get()).isEqualTo(2);
  }

  @Test
  void aBodyPastMaxRequestBodyBytesIs413WhetherItsLengthIsDeclaredOrStreamed() throws Exception {
    startWith(Limits.builder().maxRequestBodyBytes(1000).build());
    // Declared: refused before any target is chosen.
    Socket declared = connect();
    send(declared, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + "y".repeat(2000));
    String refused = readToClose(declared);
    assertThat(refused).startsWith("HTTP/1.1 413 ").containsIgnoringCase("Connection: close").contains("1000 bytes");
    assertThat(backends.get("a").requests.get()).isZero();
    // Streamed (chunked, no length): cut where it passes the limit, still 413, and not the target's fault.
    Socket chunked = connect();
    send(chunked, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
      send(chunked, "190\r\n" + "z".repeat(400) + "\r\n");
    }
    send(chunked, "0\r\n\r\n");
    assertThat(readToClose(chunked)).startsWith("HTTP/1.1 413 ");
    assertThat(balancer.balancer().tooLargeResponses()).isEqualTo(2);
    assertThat(balancer.balancer().router().target("a").failures()).isZero();
    assertThat(balancer.balancer().badGatewayResponses()).isZero();
    // Within the limit, whatever the framing.
    ContentResponse within = http.newRequest(balancer.uri().resolve("/")).method(HttpMethod.POST)
        .body(new StringRequestContent("w".repeat(1000))).send();
    assertThat(within.getStatus()).isEqualTo(200);
    // And over HTTP/2, where a stream's body has no length in advance.
    h2c = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
    h2c.setHttpCookieStore(new HttpCookieStore.Empty());
    h2c.start();
    org.eclipse.jetty.client.AsyncRequestContent streamed = new org.eclipse.jetty.client.AsyncRequestContent();
    CompletableFuture<Integer> h2Status = new CompletableFuture<>();
    h2c.newRequest(balancer.uri().resolve("/")).method(HttpMethod.POST).body(streamed)
        .send(result -> h2Status.complete(result.getResponse() == null ? -1 : result.getResponse().getStatus()));
    for (int i = 0; i < 4; i++) {
      streamed.write(java.nio.ByteBuffer.wrap("s".repeat(400).getBytes(StandardCharsets.US_ASCII)), org.eclipse.jetty.util.Callback.NOOP);
    }
    streamed.close();
    assertThat(h2Status.get(10, TimeUnit.SECONDS)).isEqualTo(413);
    assertThat(balancer.balancer().router().target("a").failures()).isZero();
  }

  @Test
  void threadsIdleTimeoutAndH2MaxConcurrentStreamsAreTheServers() throws Exception {
    startWith(Limits.builder().threads(24).idleTimeout(Duration.ofMillis(400)).h2MaxConcurrentStreams(7)
        .maxRequestHeaderBytes(3000).build());
    assertThat(balancer.server().getThreadPool()).isInstanceOfSatisfying(org.eclipse.jetty.util.thread.QueuedThreadPool.class,
        pool -> assertThat(pool.getMaxThreads()).isEqualTo(24));
    // An idle connection is closed by the balancer after the idle timeout (awaited on real time: it is Jetty's own timer).
    Socket idle = connect();
    long opened = System.nanoTime();
    assertThat(readToClose(idle)).isEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - opened)).isLessThan(Duration.ofSeconds(5));
    // The h2c SETTINGS the balancer sends carry the stream limit.
    HTTP2Client client = new HTTP2Client();
    client.start();
    try {
      CompletableFuture<Map<Integer, Integer>> settings = new CompletableFuture<>();
      Session session = client.connect(new java.net.InetSocketAddress("127.0.0.1", balancer.port()), new Session.Listener() {
        @Override
        public void onSettings(Session session, SettingsFrame frame) {
          settings.complete(frame.getSettings());
        }
      }).get(10, TimeUnit.SECONDS);
      assertThat(settings.get(10, TimeUnit.SECONDS)).containsEntry(SettingsFrame.MAX_CONCURRENT_STREAMS, 7)
          .containsEntry(SettingsFrame.MAX_HEADER_LIST_SIZE, 3000);
      // And a stream on it is served.
      CompletableFuture<Integer> status = new CompletableFuture<>();
      MetaData.Request get = new MetaData.Request("GET", HttpURI.from(balancer.uri().resolve("/").toString()), HttpVersion.HTTP_2,
          HttpFields.EMPTY);
      session.newStream(new HeadersFrame(get, null, true), new Stream.Listener() {
        @Override
        public void onHeaders(Stream stream, HeadersFrame frame) {
          if (frame.getMetaData() instanceof MetaData.Response response) {
            status.complete(response.getStatus());
          }
        }
      });
      assertThat(status.get(10, TimeUnit.SECONDS)).isEqualTo(200);
    } finally {
      client.stop();
    }
  }
}
