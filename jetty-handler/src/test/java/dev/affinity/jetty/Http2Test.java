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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.net.URI;
import org.eclipse.jetty.client.CompletableResponseListener;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** HTTP/2 from clients (h2c) and to targets (a group's protocol HTTP2), over real sockets. */
class Http2Test extends BalancerTestBase {
  private HttpClient h2;

  /** A Jetty HttpClient that speaks h2c with prior knowledge, as {@code curl --http2-prior-knowledge} does. */
  HttpClient h2cClient() throws Exception {
    HTTP2Client transport = new HTTP2Client();
    // Room for sharded affinity cookies, as a browser has.
    transport.setMaxRequestHeadersSize(Limits.DEFAULT_MAX_REQUEST_HEADER_BYTES);
    HttpClient client = new HttpClient(new HttpClientTransportOverHTTP2(transport));
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setFollowRedirects(false);
    client.setRequestBufferSize(Limits.DEFAULT_MAX_REQUEST_HEADER_BYTES);
    client.start();
    h2 = client;
    return client;
  }

  @AfterEach
  void stopH2() throws Exception {
    if (h2 != null) {
      h2.stop();
    }
  }

  /**
   * Jetty 12 gives an HTTP/2 request whose HEADERS frame ended the stream a length of -1, not 0 (its
   * end shows only as the first read returning EOF), so {@code isBodyless} cannot tell it from one with
   * a body: the balancer reads such a request ahead ({@link Http2Bodies}) to find out. This test fails
   * the day Jetty says 0, when that read is no longer needed.
   */
  @Test
  void jettyGivesAnHttp2RequestEndedWithItsHeadersNoLengthSoItIsNotTakenForBodyless() throws Exception {
    Map<String, String> seen = new ConcurrentHashMap<>();
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server, AffinityServer.httpFactories(new HttpConfiguration(), true));
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        seen.put(request.getMethod(), request.getConnectionMetaData().getProtocol() + " length=" + request.getLength()
            + " bodyless=" + AffinityBalancer.isBodyless(request));
        Content.Source.consumeAll(request, Callback.NOOP);
        Content.Sink.write(response, true, "ok", callback);
        return true;
      }
    });
    server.start();
    try {
      HttpClient client = h2cClient();
      String base = "http://127.0.0.1:" + connector.getLocalPort() + "/";
      assertThat(client.newRequest(base).method(HttpMethod.GET).timeout(5, TimeUnit.SECONDS).send().getVersion()).isEqualTo(HttpVersion.HTTP_2);
      client.newRequest(base).method(HttpMethod.DELETE).timeout(5, TimeUnit.SECONDS).send();
      client.newRequest(base).method(HttpMethod.POST).body(new StringRequestContent("body")).timeout(5, TimeUnit.SECONDS).send();
      assertThat(seen).containsEntry("GET", "HTTP/2.0 length=-1 bodyless=false")
          .containsEntry("DELETE", "HTTP/2.0 length=-1 bodyless=false")
          .containsEntry("POST", "HTTP/2.0 length=4 bodyless=false");
    } finally {
      server.stop();
    }
  }

  @Test
  void h2cClientsStickAndHaveTheirCookieIssuedAndRefreshed() throws Exception {
    startDuration("a", "b", "c");
    UserAgent client = new UserAgent(h2cClient(), balancer.uri());
    ContentResponse first = client.get("/");
    assertThat(first.getStatus()).isEqualTo(200);
    assertThat(first.getVersion()).isEqualTo(HttpVersion.HTTP_2);
    String pinned = first.getContentAsString();
    assertThat(client.setCookieHeader("AFFINITY")).contains("Path=/").contains("HttpOnly").contains("SameSite=Lax").contains("Max-Age=3600");
    // An HTTP1 group is reached over HTTP/1.1 whatever the client spoke, with the client's authority as Host.
    assertThat(first.getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/1.1");
    Backends.Backend target = backends.get(pinned);
    assertThat(target.lastHeaders).containsEntry("host", "127.0.0.1:" + balancer.port())
        .containsEntry("x-forwarded-host", "127.0.0.1:" + balancer.port()).containsEntry("via", "2.0 " + Upstream.DEFAULT_VIA_HOST);
    for (int i = 0; i < 50; i++) {
      ContentResponse r = client.get("/page/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo(pinned);
    }
    assertThat(balancer.balancer().router().target(pinned).stickyHits()).isEqualTo(50);
    assertThat(client.lastSetCookies).isEmpty();
    clock.advance(java.time.Duration.ofSeconds(37));
    client.get("/");
    assertThat(client.setCookieHeader("AFFINITY")).as("the sliding cookie is refreshed").isNotNull();
    // Streams ended by their HEADERS frame are bodyless (Http2Bodies), so they take the direct relay as HTTP/1 GETs do.
    assertThat(balancer.balancer().directRelayConnections()).isPositive();
    TargetPath.DIRECT_RELAY.assertTaken(balancer.balancer());
  }

  /**
   * What an HTTP/2 client sends on the direct relay: bodyless GET, HEAD, OPTIONS and DELETE streams,
   * many at once over one connection, each answered whole with the target's headers and the
   * balancer's cookie; what has a body (a PUT, a POST) still goes through {@code HttpClient}, with its
   * body whole. Over both paths.
   */
  @Test
  void http2StreamsWithoutABodyTakeTheDirectRelayAndThoseWithOneKeepTheirBody() throws Exception {
    startDuration("a", "b");
    UserAgent client = new UserAgent(h2cClient(), balancer.uri());
    String pinned = client.get("/").getContentAsString();
    String cookie = "AFFINITY=" + client.jar.get("AFFINITY");
    List<CompletableFuture<ContentResponse>> concurrent = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      concurrent.add(new CompletableResponseListener(h2.newRequest(balancer.uri().resolve("/many/" + i))
          .headers(h -> h.put("Cookie", cookie)).timeout(10, TimeUnit.SECONDS)).send());
    }
    for (CompletableFuture<ContentResponse> f : concurrent) {
      ContentResponse r = f.get(15, TimeUnit.SECONDS);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getVersion()).isEqualTo(HttpVersion.HTTP_2);
      assertThat(r.getContentAsString()).isEqualTo(pinned);
      assertThat(r.getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/1.1");
    }
    for (HttpMethod method : List.of(HttpMethod.HEAD, HttpMethod.OPTIONS, HttpMethod.DELETE)) {
      ContentResponse r = h2.newRequest(balancer.uri().resolve("/m")).method(method).headers(h -> h.put("Cookie", cookie))
          .timeout(5, TimeUnit.SECONDS).send();
      assertThat(r.getStatus()).as(method.asString()).isEqualTo(200);
      assertThat(r.getContentAsString()).as(method.asString()).isEqualTo(method == HttpMethod.HEAD ? "" : pinned);
    }
    assertThat(balancer.balancer().directRelayConnections()).isPositive();
    TargetPath.DIRECT_RELAY.assertTaken(balancer.balancer());
    assertThat(balancer.balancer().router().target(pinned).stickyHits()).isEqualTo(203);

    // Bodies of unknown length (no content-length): the balancer reads PUTs ahead to learn that they have one.
    for (int length : new int[] {1, 70_000}) {
      for (HttpMethod method : List.of(HttpMethod.PUT, HttpMethod.POST)) {
        ContentResponse r = h2.newRequest(balancer.uri().resolve("/upload")).method(method).headers(h -> h.put("Cookie", cookie))
            .body(unknownLength(length)).timeout(5, TimeUnit.SECONDS).send();
        assertThat(r.getStatus()).as(method.asString()).isEqualTo(200);
        assertThat(r.getContentAsString()).isEqualTo(pinned);
        assertThat(backends.get(pinned).lastBodyBytes).as(method + " of " + length).isEqualTo(length);
      }
    }
    TargetPath.HTTP_CLIENT.assertTaken(balancer.balancer());
  }

  /**
   * {@link Http2Bodies} over a real HTTP/2 server: a stream ended by its HEADERS frame reads its end
   * at once; one with a body does not, and the chunk read ahead of it is given back first, so the body
   * reads whole through {@link Http2Bodies.ReadAhead}. A POST, and a PUT that expects 100 Continue, are
   * not to be read ahead.
   */
  @Test
  void aChunkReadAheadOfAnHttp2BodyIsGivenBackFirst() throws Exception {
    Map<String, String> seen = new ConcurrentHashMap<>();
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server, AffinityServer.httpFactories(new HttpConfiguration(), true));
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        String key = request.getMethod() + " " + Request.getPathInContext(request);
        if (!Http2Bodies.mayReadAhead(request)) {
          readWhole(request, "not read ahead, body of ", key, response, callback);
          return true;
        }
        readAhead(request, key, response, callback);
        return true;
      }

      private void readAhead(Request request, String key, Response response, Callback callback) {
        Content.Chunk first = request.read();
        if (first == null) {
          // The DATA frames are still to come: wait for the first, as the body's reader would.
          request.demand(() -> readAhead(request, key, response, callback));
          return;
        }
        if (Http2Bodies.isEmptyEnd(first)) {
          seen.put(key, "bodyless");
          Content.Sink.write(response, true, "ok", callback);
          return;
        }
        readWhole(new Http2Bodies.ReadAhead(request, first), "body of ", key, response, callback);
      }

      private void readWhole(Content.Source body, String what, String key, Response response, Callback callback) {
        Content.Source.asString(body, java.nio.charset.StandardCharsets.UTF_8, new org.eclipse.jetty.util.Promise<>() {
          @Override
          public void succeeded(String read) {
            seen.put(key, what + read.length() + (read.equals("z".repeat(read.length())) ? " intact" : " garbled"));
            Content.Sink.write(response, true, "ok", callback);
          }

          @Override
          public void failed(Throwable x) {
            callback.failed(x);
          }
        });
      }
    });
    server.start();
    try {
      HttpClient client = h2cClient();
      String base = "http://127.0.0.1:" + connector.getLocalPort();
      client.newRequest(base + "/get").timeout(5, TimeUnit.SECONDS).send();
      // Bodies of unknown length, as a known one (content-length) is not read ahead.
      client.newRequest(base + "/small").method(HttpMethod.PUT).body(unknownLength(1)).timeout(5, TimeUnit.SECONDS).send();
      client.newRequest(base + "/large").method(HttpMethod.PUT).body(unknownLength(200_000)).timeout(5, TimeUnit.SECONDS).send();
      client.newRequest(base + "/post").method(HttpMethod.POST).body(unknownLength(1)).timeout(5, TimeUnit.SECONDS).send();
      client.newRequest(base + "/continue").method(HttpMethod.PUT).headers(h -> h.put("Expect", "100-continue"))
          .body(unknownLength(1)).timeout(5, TimeUnit.SECONDS).send();
      client.newRequest(base + "/known").method(HttpMethod.PUT).body(new StringRequestContent("z")).timeout(5, TimeUnit.SECONDS).send();
      assertThat(seen).containsEntry("GET /get", "bodyless")
          .containsEntry("PUT /small", "body of 1 intact")
          .containsEntry("PUT /large", "body of 200000 intact")
          .containsEntry("POST /post", "not read ahead, body of 1 intact")
          .containsEntry("PUT /continue", "not read ahead, body of 1 intact")
          .containsEntry("PUT /known", "not read ahead, body of 1 intact");
    } finally {
      server.stop();
    }
  }

  /** A body of {@code length} bytes whose length the client does not announce (no content-length). */
  private static org.eclipse.jetty.client.Request.Content unknownLength(int length) {
    return new org.eclipse.jetty.client.InputStreamRequestContent(
        new java.io.ByteArrayInputStream("z".repeat(length).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
  }

  @Test
  void h2cClientsFailOverWhenTheirTargetRefusesTheConnectionBodiesIncluded() throws Exception {
    startDuration("a", "b", "c");
    UserAgent client = new UserAgent(h2cClient(), balancer.uri());
    String pinned = client.get("/").getContentAsString();
    int killedPort = backends.uri(pinned).getPort();
    backends.get(pinned).kill();
    // Until the balancer's client has seen its kept-alive connection to the killed target close, a POST
    // could still go out on it and meet the close (a 502: a POST is never sent twice); what this test is
    // about is the refused connect that follows.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline && balancer.balancer().getHttpClient().getDestinations().stream()
        .filter(d -> d.getOrigin().getAddress().getPort() == killedPort)
        .anyMatch(d -> !((org.eclipse.jetty.client.transport.HttpDestination) d).getConnectionPool().isEmpty())) {
      Thread.sleep(5);
    }
    ContentResponse moved = client.send(h2.newRequest(balancer.uri().resolve("/cart")).method(HttpMethod.POST)
        .body(new StringRequestContent("item=1")));
    assertThat(moved.getStatus()).isEqualTo(200);
    String now = moved.getContentAsString();
    assertThat(now).isNotEqualTo(pinned);
    assertThat(moved.getHeaders().get("X-Seen-Previous")).isEqualTo(pinned);
    assertThat(cookies.read(client, "AFFINITY")).get().extracting(dev.affinity.cookie.AffinityTicket::targetId).isEqualTo(now);
    assertThat(client.get("/").getContentAsString()).isEqualTo(now);
    assertThat(balancer.balancer().failovers()).isEqualTo(1);
  }

  @Test
  void h2cClientsGetAndUseTheCorsCompanion() throws Exception {
    start(g -> g.stickiness(StickinessPolicy.duration(Expiry.sliding(java.time.Duration.ofHours(1)))),
        CookiePolicy.builder().cors(true).build(), "a", "b", "c");
    UserAgent client = new UserAgent(h2cClient(), balancer.uri());
    String pinned = client.get("/").getContentAsString();
    assertThat(client.setCookieHeader("AFFINITYCORS")).contains("SameSite=None").contains("Secure").contains("HttpOnly");
    UserAgent crossSite = new UserAgent(h2, balancer.uri());
    crossSite.jar.put("AFFINITYCORS", client.jar.get("AFFINITYCORS"));
    for (int i = 0; i < 10; i++) {
      assertThat(crossSite.get("/").getContentAsString()).isEqualTo(pinned);
    }
  }

  @Test
  void aTwelveKilobyteTicketShardedOverCookiesTravelsOverHttp2BothWays() throws Exception {
    http2Backends = true;
    start(g -> g.protocol(TargetProtocol.HTTP2).stickiness(StickinessPolicy.duration(Expiry.sliding(java.time.Duration.ofHours(1)))),
        CookiePolicy.defaults(), "a", "b", "c");
    byte[] extra = new byte[9 * 1024];
    new java.util.Random(7).nextBytes(extra);
    dev.affinity.cookie.AffinityTicket ticket = dev.affinity.cookie.AffinityTicket.of("c", "web", START, START.plusSeconds(3600), extra);
    List<dev.affinity.cookie.SetCookie> set = cookies.issue("AFFINITY", ticket, Expiry.sliding(java.time.Duration.ofHours(1)), false,
        dev.affinity.cookie.CookieSource.empty());
    assertThat(set).hasSizeGreaterThanOrEqualTo(4);
    UserAgent client = new UserAgent(h2cClient(), balancer.uri());
    for (dev.affinity.cookie.SetCookie c : set) {
      client.jar.put(c.name(), c.value());
    }
    for (int i = 0; i < 5; i++) {
      ContentResponse r = client.get("/");
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("c");
    }
    assertThat(backends.get("c").lastHeaders.get("cookie")).contains("AFFINITY-0=").contains("AFFINITY-3=");
  }

  @Test
  void anHttp2GroupIsReachedOverHttp2AndSoAreItsHealthChecks() throws Exception {
    http2Backends = true;
    start(g -> g.protocol(TargetProtocol.HTTP2).stickiness(StickinessPolicy.duration(Expiry.sliding(java.time.Duration.ofHours(1)))),
        CookiePolicy.defaults(), "a", "b");
    // From an HTTP/1.1 client (which would otherwise take the direct relay) and from an h2c client.
    UserAgent http1 = browser();
    ContentResponse r = http1.get("/");
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getVersion()).isEqualTo(HttpVersion.HTTP_1_1);
    assertThat(r.getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/2.0");
    String pinned = r.getContentAsString();
    for (int i = 0; i < 10; i++) {
      assertThat(http1.get("/").getContentAsString()).isEqualTo(pinned);
    }
    assertThat(backends.get(pinned).lastHeaders).containsEntry("x-forwarded-host", "127.0.0.1:" + balancer.port());
    UserAgent h2client = new UserAgent(h2cClient(), balancer.uri());
    ContentResponse overH2 = h2client.send(h2.newRequest(balancer.uri().resolve("/upload")).method(HttpMethod.POST)
        .body(new StringRequestContent("x".repeat(100_000))));
    assertThat(overH2.getStatus()).as(overH2.getContentAsString()).isEqualTo(200);
    assertThat(overH2.getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/2.0");
    assertThat(balancer.balancer().directRelayConnections()).isZero();
    assertThat(balancer.balancer().getHttpClient().getDestinations()).as("nothing went over HTTP/1 to an HTTP2 group").isEmpty();
    assertThat(balancer.balancer().getHttp2Client().getDestinations()).isNotEmpty();
    balancer.healthChecker().checkAll().get(10, TimeUnit.SECONDS);
    assertThat(backends.get("a").healthProtocol).isEqualTo("HTTP/2.0");
    assertThat(backends.get("b").healthProtocol).isEqualTo("HTTP/2.0");
  }

  @Test
  void anHttp2GroupsTargetThatRefusesIsEjectedAndTheClientMoves() throws Exception {
    http2Backends = true;
    start(g -> g.protocol(TargetProtocol.HTTP2).stickiness(StickinessPolicy.duration(Expiry.sliding(java.time.Duration.ofHours(1)))),
        CookiePolicy.defaults(), "a", "b");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    backends.get(pinned).kill();
    ContentResponse moved = client.get("/");
    assertThat(moved.getStatus()).isEqualTo(200);
    assertThat(moved.getContentAsString()).isNotEqualTo(pinned);
    assertThat(moved.getHeaders().get("X-Seen-Previous")).isEqualTo(pinned);
    assertThat(moved.getHeaders().get("X-Seen-Protocol")).isEqualTo("HTTP/2.0");
  }

  @Test
  void upgradeH2cAndHttp2SettingsNeverReachATargetEvenWhenTheListenerSpeaksNoHttp2() throws Exception {
    backends = Backends.start("a");
    AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
    cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    // No health checks: their requests would be the target's last.
    Router router = Router.builder(cookies).group(TargetGroup.builder("web").target("a", backends.uri("a"), 1)
        .healthCheck(new HealthCheckSettings(false, "/health", java.time.Duration.ofHours(1), java.time.Duration.ofSeconds(2), 2, 2, 200, 399,
            java.time.Duration.ofSeconds(10)))
        .build()).build();
    balancer = AffinityServer.builder(router, counters).clock(clock).http2(false).build().start();
    for (TargetPath path : TargetPath.values()) {
      path.applyTo(balancer.balancer());
      String answer = raw("GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n"
          + "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nX-Kept: 1\r\n\r\n");
      assertThat(answer).as(path.name()).startsWith("HTTP/1.1 200").doesNotContain("101");
      assertThat(backends.get("a").lastHeaders).as(path.name()).containsKey("x-kept")
          .doesNotContainKeys("upgrade", "http2-settings", "connection");
      // Without Connection naming it too: HTTP2-Settings is dropped as hop-by-hop on its own.
      raw("GET /up HTTP/1.1\r\nHost: x\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nConnection: close\r\n\r\n");
      assertThat(backends.get("a").lastHeaders).as(path.name()).doesNotContainKeys("http2-settings");
    }
  }

  /**
   * A target of an HTTP2 group that takes a stream and never answers it: the balancer's HTTP/2
   * client times that stream out after the upstream timeout although the connection to the target
   * stays busy with other streams meanwhile; the client gets 504 (counted, never retried: core's
   * rule), and its own connection carries on with other streams before, during and after.
   */
  @Test
  void aSilentStreamOnAnHttp2TargetGives504WithoutRetryAndTheClientsConnectionServesOtherStreams() throws Exception {
    AtomicInteger silentRequests = new AtomicInteger();
    AtomicInteger otherRequests = new AtomicInteger();
    List<Callback> neverAnswered = new java.util.concurrent.CopyOnWriteArrayList<>();
    Server target = new Server();
    ServerConnector targetConnector = new ServerConnector(target, new HTTP2CServerConnectionFactory(new HttpConfiguration()));
    targetConnector.setHost("127.0.0.1");
    target.addConnector(targetConnector);
    target.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        if (Request.getPathInContext(request).equals("/silent")) {
          silentRequests.incrementAndGet();
          neverAnswered.add(callback);
          return true;
        }
        otherRequests.incrementAndGet();
        Content.Sink.write(response, true, "t", callback);
        return true;
      }
    });
    target.start();
    try {
      AffinityCookieCodec codec = AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build();
      cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
      Router router = Router.builder(cookies).group(TargetGroup.builder("web").protocol(TargetProtocol.HTTP2)
          .target("t", URI.create("http://127.0.0.1:" + targetConnector.getLocalPort()), 1)
          .healthCheck(new HealthCheckSettings(false, "/health", java.time.Duration.ofHours(1), java.time.Duration.ofSeconds(2), 2, 2, 200, 399,
              java.time.Duration.ofSeconds(10)))
          .build()).build();
      balancer = AffinityServer.builder(router, counters).clock(clock).build();
      java.time.Duration upstreamTimeout = java.time.Duration.ofMillis(600);
      balancer.balancer().setUpstreamTimeout(upstreamTimeout);
      balancer.start();
      HttpClient client = h2cClient();
      URI base = balancer.uri();
      assertThat(client.newRequest(base.resolve("/before")).timeout(5, TimeUnit.SECONDS).send().getStatus()).isEqualTo(200);

      long start = System.nanoTime();
      CompletableFuture<ContentResponse> silent = new CompletableResponseListener(client.newRequest(base.resolve("/silent"))
          .timeout(10, TimeUnit.SECONDS)).send();
      // Meanwhile the same client connection, and the balancer's connection to the target, carry other streams.
      int during = 0;
      while (!silent.isDone()) {
        ContentResponse other = client.newRequest(base.resolve("/during")).timeout(5, TimeUnit.SECONDS).send();
        assertThat(other.getStatus()).isEqualTo(200);
        assertThat(other.getContentAsString()).isEqualTo("t");
        during++;
      }
      ContentResponse timedOut = silent.get();
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(timedOut.getStatus()).isEqualTo(504);
      assertThat(timedOut.getVersion()).isEqualTo(HttpVersion.HTTP_2);
      assertThat(timedOut.getContentAsString()).startsWith("504 Gateway Timeout").doesNotContain("Exception");
      assertThat(millis).as("the 504 came after the upstream timeout").isGreaterThanOrEqualTo(upstreamTimeout.toMillis());
      assertThat(during).as("streams served while the silent one waited").isPositive();
      assertThat(balancer.balancer().gatewayTimeoutResponses()).isEqualTo(1);
      assertThat(balancer.balancer().badGatewayResponses()).isZero();
      assertThat(silentRequests.get()).as("a timed-out request is never sent again").isEqualTo(1);
      // The last "during" answer reached the client a moment before its exchange was counted out.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (balancer.balancer().router().target("t").inFlight() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(balancer.balancer().router().target("t").inFlight()).isZero();

      assertThat(client.newRequest(base.resolve("/after")).timeout(5, TimeUnit.SECONDS).send().getStatus()).isEqualTo(200);
      assertThat(otherRequests.get()).isEqualTo(during + 2);
      // Every stream of the client went over one connection, which the 504 did not close.
      assertThat(((ServerConnector) balancer.server().getConnectors()[0]).getConnectedEndPoints()).hasSize(1);
      assertThat(balancer.balancer().getHttp2Client().getDestinations()).hasSize(1);
    } finally {
      neverAnswered.forEach(Callback::succeeded);
      target.stop();
    }
  }
}
