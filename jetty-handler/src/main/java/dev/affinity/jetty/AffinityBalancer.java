package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.Forwarder;
import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TrustedProxies;
import dev.affinity.balancer.TargetProtocol;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.eclipse.jetty.client.AsyncRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.HttpClientTransport;
import org.eclipse.jetty.client.RoundRobinConnectionPool;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.util.thread.ThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Jetty 12 handler that is a sticky load balancer: it asks the core {@link Router} where each
 * request goes, reverse-proxies it there, sets the affinity cookies on the way back, and fails over
 * when a target refuses.
 *
 * <p>Two paths to a target, with one header policy ({@link Upstream}) and one exchange lifecycle
 * (core's {@link Attempt}: counting, retry rule, cookies, 503). Requests that may be sent again
 * ({@link Forwarder#isReplayable}: an idempotent method without a body) to an {@code http://}
 * target, most of any site's traffic, go over the balancer's own kept-alive
 * connections ({@link TargetConnection}), registered with the selector of the server connector the
 * client came in on: the thread that reads a target's answer writes it to the client, with no hand-off
 * in between, as in HAProxy's event loop (see BENCHMARKS.md). Everything else (request bodies,
 * {@code https://} targets, every request from an HTTP/2 client, connectors without a selector) goes
 * through Jetty's asynchronous {@code HttpClient} with {@link ProxyHandler}'s response listener,
 * which streams bodies both ways and handles {@code 100-continue}. {@code ProxyHandler}'s hooks for
 * building the upstream request and filtering the answer are {@code final} here: neither path uses them. {@link #setDirectRelay(boolean) setDirectRelay(false)}
 * sends everything through {@code HttpClient}. A target group whose {@linkplain TargetProtocol protocol}
 * is HTTP/2 is always reached through a second {@code HttpClient}, over Jetty's HTTP/2 transport (h2c
 * with prior knowledge to {@code http://} targets, h2 over ALPN to {@code https://} ones). The direct path connects
 * to a target without holding a thread ({@link TargetConnection#open}): the handshake is the selector's
 * to finish, so a target swallowing connects holds nothing but its sockets for the connect timeout.
 *
 * <p>The handler is {@linkplain #getInvocationType() non-blocking}: Jetty runs it on the selector
 * thread that read the request, so the hooks below must not block (a subclass whose hooks do must
 * override {@code getInvocationType()} to return {@code BLOCKING}). Run on an {@link AffinityThreadPool},
 * the client's connection also carries on from a relayed answer on the same thread.
 *
 * <p>Only configured targets are ever contacted: the upstream URI is the chosen target's origin plus
 * the request's path and query, whatever the request line or {@code Host} header say, and
 * {@code CONNECT} is refused.
 *
 * <p>Extension goes through protected hooks with one job each, called on every path including the
 * {@link WebSocketProxy}'s upgrades: {@link #onTargetFailure}, {@link #onStickinessBroken} and
 * {@link #writeNoTarget}.
 */
public class AffinityBalancer extends ProxyHandler {
  /** Tells a target which target the client was pinned to before a failover moved it ({@link Forwarder#PREVIOUS_TARGET_HEADER}). */
  public static final String PREVIOUS_TARGET_HEADER = Forwarder.PREVIOUS_TARGET_HEADER;
  private static final Logger LOG = LoggerFactory.getLogger(AffinityBalancer.class);
  private static final String EXCHANGE = AffinityBalancer.class.getName() + ".exchange";
  private static final String CONTINUE = AffinityBalancer.class.getName() + ".continue";

  private final AtomicReference<Router> router;
  private final Forwarder forwarder;
  private volatile Duration upstreamTimeout = Duration.ofSeconds(60);
  private volatile Duration connectTimeout = Duration.ofSeconds(2);
  private final TargetConnections connections;
  private final Map<Connector, ManagedSelector[]> selectors = new ConcurrentHashMap<>();
  private final AtomicInteger nextSelector = new AtomicInteger();
  /** Connects to targets in progress on the direct relay (see {@link #MAX_CONNECTING}). */
  private final AtomicInteger connecting = new AtomicInteger();
  private volatile boolean directRelay = true;
  private volatile TrustedProxies trustedProxies = TrustedProxies.none();
  // HTTP/2 to the targets of groups that ask for it: made at start, on the HTTP/1 client's threads.
  private volatile HttpClient http2Client;
  // HTTP/2 to gRPC groups' targets, without idle timeouts (see sendThroughHttpClient): made as http2Client is.
  private volatile HttpClient grpcClient;
  // Clients of target groups with upstream timeouts of their own.
  private final GroupClients groupClients = new GroupClients();
  private final TargetTlsContexts targetTls = new TargetTlsContexts();
  // What the status page draws: sampled on historyScheduler (the server's unless a test injects one).
  private final dev.affinity.observe.TrafficHistory history = dev.affinity.observe.TrafficHistory.create();
  private volatile Scheduler historyScheduler;

  public AffinityBalancer(Router router) {
    this(router, System::nanoTime);
  }

  /** With the ticker (nanoseconds) that times the target connections' idle ages. */
  AffinityBalancer(Router router, LongSupplier nanoTicker) {
    this.router = new AtomicReference<>(requireNonNull(router, "router"));
    this.forwarder = new Forwarder(this.router::get);
    setViaHost(Upstream.DEFAULT_VIA_HOST);
    this.connections = new TargetConnections(requireNonNull(nanoTicker, "nanoTicker"), TargetConnections.DEFAULT_MAX_IDLE);
    addBean(targetTls, true);
  }

  /**
   * Where the TLS material of groups' {@link TargetGroup#tls() TLS to targets} is looked at for a
   * rotation, how often, and the clock that dates expiry warnings; default the server's scheduler every
   * {@link AffinityServer.Builder#DEFAULT_CERTIFICATE_POLL_INTERVAL} and the system clock. Before start.
   */
  public void setTargetTlsReloads(Scheduler scheduler, Duration pollInterval, java.time.Clock clock) {
    targetTls.reloads(scheduler, pollInterval, clock);
  }

  /** The TLS contexts to targets, shared with the WebSocket client and the health checker. */
  TargetTlsContexts targetTls() {
    return targetTls;
  }

  /**
   * Whether requests without a body and with an idempotent method go to {@code http://} targets over
   * the balancer's own connections on the server's selectors (default {@code true}, the fast path),
   * or, when {@code false}, through Jetty's {@code HttpClient} like everything else.
   */
  public void setDirectRelay(boolean directRelay) {
    this.directRelay = directRelay;
  }

  public boolean isDirectRelay() {
    return directRelay;
  }

  /**
   * The proxies in front whose forwarding headers (and PROXY protocol headers, on a listener that
   * takes them) are believed: core's rule decides the client's address and scheme from them, and so
   * {@code Secure} on cookies, the forwarding headers targets get, and whether the admin endpoints
   * see a loopback client. Default {@link TrustedProxies#none()}: every peer is the client and its
   * forwarding headers are dropped. Swapped atomically; requests that start afterwards use the new one.
   */
  public void setTrustedProxies(TrustedProxies trustedProxies) {
    this.trustedProxies = requireNonNull(trustedProxies, "trustedProxies");
  }

  public TrustedProxies getTrustedProxies() {
    return trustedProxies;
  }

  /** The client as a trusted proxy described it, or {@code null} when the request's peer is not one (see {@link ClientOrigins}). */
  ClientOrigin relayedOrigin(Request clientToProxyRequest) {
    return ClientOrigins.relayed(clientToProxyRequest, trustedProxies);
  }

  /**
   * Non-blocking: nothing in the balancer waits (a connect to a target is started on a pool thread and
   * finished by a selector), so Jetty may call it on the selector thread that read the request.
   */
  @Override
  public InvocationType getInvocationType() {
    return InvocationType.NON_BLOCKING;
  }

  public Router router() {
    return router.get();
  }

  /**
   * Swaps in a new routing table (a configuration reload). Requests already routed finish on their
   * target; targets carried over keep their state.
   */
  public void router(Router newRouter) {
    requireNonNull(newRouter, "newRouter");
    if (isStarted()) {
      // Before the swap, so that the first request routed by the new router finds the client.
      startHttp2ClientIfNeeded(newRouter);
      updateGroupClients(newRouter);
    }
    Router before = router.getAndSet(newRouter);
    if (before != newRouter) {
      history.routerChanged(before, newRouter, newRouter.cookies().now());
    }
  }

  /** Requests per second and pinned shares per target over the last minutes, and who joined and left: see {@link #setHistoryScheduler}. */
  public dev.affinity.observe.TrafficHistory history() {
    return history;
  }

  /**
   * Where the history is sampled, every {@link dev.affinity.observe.TrafficHistory#interval()}: by default the
   * server's scheduler; tests inject a manual one. Takes effect at the next start.
   */
  public void setHistoryScheduler(Scheduler scheduler) {
    this.historyScheduler = requireNonNull(scheduler, "scheduler");
  }

  /**
   * How long a target may stay silent on a request before the client gets 504 (ALB's idle timeout).
   * It bounds a silence, not a whole exchange: a long download or a slow stream that keeps moving is
   * never cut. Default 60 s.
   */
  public void setUpstreamTimeout(Duration timeout) {
    requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("upstreamTimeout must be positive, got " + timeout);
    }
    this.upstreamTimeout = timeout;
    HttpClient client = getHttpClient();
    if (client != null) {
      client.setIdleTimeout(timeout.toMillis());
    }
    HttpClient h2 = http2Client;
    if (h2 != null) {
      h2.setIdleTimeout(timeout.toMillis());
      ((HttpClientTransportOverHTTP2) h2.getHttpClientTransport()).getHTTP2Client().setStreamIdleTimeout(timeout.toMillis());
    }
    if (isStarted()) {
      updateGroupClients(router.get());
    }
  }

  /** How long connecting to a target may take before it counts as refused. Default 2 s. */
  public void setConnectTimeout(Duration timeout) {
    requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("connectTimeout must be positive, got " + timeout);
    }
    this.connectTimeout = timeout;
    HttpClient client = getHttpClient();
    if (client != null) {
      client.setConnectTimeout(timeout.toMillis());
    }
    HttpClient h2 = http2Client;
    if (h2 != null) {
      h2.setConnectTimeout(timeout.toMillis());
    }
    HttpClient grpc = grpcClient;
    if (grpc != null) {
      grpc.setConnectTimeout(timeout.toMillis());
    }
    if (isStarted()) {
      updateGroupClients(router.get());
    }
  }

  public long failovers() {
    return forwarder.failovers();
  }

  public long noTargetResponses() {
    return forwarder.noTargetResponses();
  }

  public long badGatewayResponses() {
    return forwarder.badGatewayResponses();
  }

  /** Target connections the direct relay holds open now (carrying an exchange or idle in its pool). */
  int directRelayConnections() {
    return connections.openCount();
  }

  public long gatewayTimeoutResponses() {
    return forwarder.gatewayTimeoutResponses();
  }

  /** Requests a listener rule answered by itself: a redirect or a fixed response. */
  public long ruleAnswers() {
    return forwarder.ruleAnswers();
  }

  /** Requests answered {@code 400} because their path could reach a target as another path than the rules matched. */
  public long refusedPaths() {
    return forwarder.refusedPaths();
  }

  /** Requests answered {@code 413}: their body passed {@link #setMaxRequestBodyBytes}. */
  public long tooLargeResponses() {
    return forwarder.tooLargeResponses();
  }

  /**
   * The largest request body passed on to a target ({@link Limits#maxRequestBodyBytes()}); a larger
   * declared length is answered {@code 413} before any target is chosen, and a body of unknown length
   * that grows past it is cut there: {@code 413} if the target has not begun its answer, else the
   * answer is cut short. Default: no limit.
   */
  public void setMaxRequestBodyBytes(long maxRequestBodyBytes) {
    forwarder.setMaxRequestBodyBytes(maxRequestBodyBytes);
  }

  public long getMaxRequestBodyBytes() {
    return forwarder.maxRequestBodyBytes();
  }

  @Override
  protected void doStart() throws Exception {
    super.doStart();
    selectors.clear();
    connections.reopen();
    // Embedded without AffinityServer (which sets them): target TLS files polled on the server's scheduler.
    targetTls.reloadsUnlessSet(getServer().getScheduler(), java.time.Clock.systemUTC());
    startHttp2ClientIfNeeded(router.get());
    updateGroupClients(router.get());
    // On the server's scheduler (injected with the Server, as tests do), not a thread of its own.
    scheduleSweep(getServer().getScheduler());
    Router current = router.get();
    history.sample(current, current.cookies().now());
    scheduleHistorySample(historyScheduler != null ? historyScheduler : getServer().getScheduler());
  }

  @Override
  protected void doStop() throws Exception {
    connections.close();
    super.doStop();
    groupClients.clear(this::removeBean);
    HttpClient h2 = http2Client;
    if (h2 != null) {
      removeBean(h2);
      http2Client = null;
    }
    HttpClient grpc = grpcClient;
    if (grpc != null) {
      removeBean(grpc);
      grpcClient = null;
    }
  }

  /**
   * Makes the client for {@link TargetProtocol#HTTP2} groups, and the one for {@link TargetProtocol#GRPC}
   * groups, once a router has such a group (at start, or at the reload that brings the first one), on
   * the HTTP/1 client's executor, scheduler and buffers: a balancer without HTTP/2 targets runs exactly
   * as before, without their selectors.
   */
  private synchronized void startHttp2ClientIfNeeded(Router routes) {
    try {
      if (http2Client == null && routes.groups().stream().anyMatch(g -> g.protocol() == TargetProtocol.HTTP2)) {
        http2Client = startHttp2Client(false);
      }
      if (grpcClient == null && routes.groups().stream().anyMatch(g -> g.protocol() == TargetProtocol.GRPC)) {
        grpcClient = startHttp2Client(true);
      }
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the HTTP/2 client to targets: " + e, e);
    }
  }

  /**
   * An HTTP/2 client to targets. For gRPC ({@code grpc}) neither its connections nor its streams have
   * an idle timeout: a server stream may stay quiet for as long as its call lasts, and Jetty's
   * connection idle check closes a connection whose streams are all quiet, open or not. The upstream
   * timeout is then a timer per request, up to the answer's headers ({@link UpstreamHeadersTimer}).
   */
  private HttpClient startHttp2Client(boolean grpc) throws Exception {
    HttpClient http1 = getHttpClient();
    HTTP2Client transport = new HTTP2Client();
    transport.setStreamIdleTimeout(grpc ? 0 : upstreamTimeout.toMillis());
    // Room for sharded affinity cookies (up to 16 KB by default) in the upstream request headers.
    transport.setMaxRequestHeadersSize(32 * 1024);
    transport.setMaxResponseHeadersSize(32 * 1024);
    HttpClient h2 = new HttpClient(new HttpClientTransportOverHTTP2(transport));
    h2.setExecutor(http1.getExecutor());
    h2.setScheduler(http1.getScheduler());
    h2.setByteBufferPool(http1.getByteBufferPool());
    h2.setFollowRedirects(false);
    h2.setHttpCookieStore(new org.eclipse.jetty.http.HttpCookieStore.Empty());
    h2.setUserAgentField(null);
    configureTimeoutsAndBuffers(h2);
    if (grpc) {
      h2.setIdleTimeout(0);
    }
    addBean(h2, true);
    if (!h2.isStarted()) {
      h2.start();
    }
    return h2;
  }

  /** The client that carries {@code group}'s requests off the direct relay: its own when its timeouts differ, else the balancer's. */
  HttpClient clientFor(TargetGroup group) {
    HttpClient client = groupClients.clientFor(group);
    if (client != null) {
      return client;
    }
    return switch (group.protocol()) {
      case HTTP2 -> http2Client;
      case GRPC -> grpcClient;
      case HTTP1 -> getHttpClient();
    };
  }

  private void updateGroupClients(Router routes) {
    groupClients.update(routes, upstreamTimeout, connectTimeout, this::newGroupClient);
  }

  /**
   * A client like the balancer's own (HTTP/1 or HTTP/2) with a group's timeouts: the idle timeout of
   * its connections (and HTTP/2 streams) is the group's upstream timeout, checked by the idle check
   * every connection has anyway, so nothing is set per request. A gRPC group's has no idle timeout
   * (see {@link #startHttp2Client}); only its connect timeout is the group's.
   */
  private HttpClient newGroupClient(GroupClients.Settings settings) {
    HttpClient base = getHttpClient();
    HttpClient client;
    if (settings.protocol().overHttp2()) {
      HTTP2Client transport = new HTTP2Client();
      transport.setStreamIdleTimeout(settings.idleTimeoutMillis());
      transport.setMaxRequestHeadersSize(32 * 1024);
      transport.setMaxResponseHeadersSize(32 * 1024);
      client = new HttpClient(new HttpClientTransportOverHTTP2(transport));
      client.setUserAgentField(null);
      configureTimeoutsAndBuffers(client);
      client.setFollowRedirects(false);
      client.setHttpCookieStore(new org.eclipse.jetty.http.HttpCookieStore.Empty());
    } else {
      client = newHttpClient();
      configureHttpClient(client);
    }
    client.setExecutor(base.getExecutor());
    client.setScheduler(base.getScheduler());
    client.setByteBufferPool(base.getByteBufferPool());
    client.setIdleTimeout(settings.idleTimeoutMillis());
    client.setConnectTimeout(settings.connectTimeoutMillis());
    if (settings.tls() != null) {
      client.setSslContextFactory(targetTls.contextFor(settings.tls()));
    }
    addBean(client, true);
    try {
      if (!client.isStarted()) {
        client.start();
      }
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the client to targets with timeouts " + settings + ": " + e, e);
    }
    // As ProxyHandler does for its own client: answers pass through undecoded, and interim answers
    // (100, 102, 103) reach the client through the proxy's own handlers, taken from its client.
    client.getContentDecoderFactories().clear();
    org.eclipse.jetty.client.ProtocolHandlers handlers = client.getProtocolHandlers();
    handlers.clear();
    org.eclipse.jetty.client.ProtocolHandlers proxies = base.getProtocolHandlers();
    for (String name : new String[] {org.eclipse.jetty.client.ContinueProtocolHandler.NAME,
        org.eclipse.jetty.client.ProcessingProtocolHandler.NAME, org.eclipse.jetty.client.EarlyHintsProtocolHandler.NAME}) {
      org.eclipse.jetty.client.ProtocolHandler handler = proxies.remove(name);
      if (handler != null) {
        proxies.put(handler);
        handlers.put(handler);
      }
    }
    return client;
  }

  /** The client that carries requests to {@link TargetProtocol#HTTP2} groups; {@code null} until a router has one, and while stopped. */
  HttpClient getHttp2Client() {
    return http2Client;
  }

  /** The client that carries requests to {@link TargetProtocol#GRPC} groups; {@code null} until a router has one, and while stopped. */
  HttpClient getGrpcClient() {
    return grpcClient;
  }

  private void scheduleHistorySample(Scheduler scheduler) {
    scheduler.schedule(() -> {
      try {
        Router current = router.get();
        history.sample(current, current.cookies().now());
      } catch (RuntimeException e) {
        LOG.warn("Could not sample the traffic history", e);
      } finally {
        if (isRunning()) {
          scheduleHistorySample(scheduler);
        }
      }
    }, history.interval().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void scheduleSweep(Scheduler scheduler) {
    // Closes idle connections past their age, also those nobody comes for any more (a target removed by a reload).
    scheduler.schedule(() -> {
      try {
        connections.sweep();
      } finally {
        if (isRunning()) {
          scheduleSweep(scheduler);
        }
      }
    }, 1, TimeUnit.SECONDS);
  }

  /**
   * Jetty's client, on the server's buffer pool, whose retained memory is capped
   * ({@link AffinityServer#MAX_POOLED_DIRECT_BYTES}), with its own pool of threads ("proxy-client")
   * no larger than the server's. The client is non-blocking, so its threads only run callbacks; with
   * Jetty's 200 a burst of new connections (each first request beyond the direct relay's connects in
   * flight goes through it) grew it to about 50 threads on one CPU, a tenth of the balancer's memory
   * with 10 000 idle connections (BENCHMARKS.md, "Steady and lean by default").
   * A pool idling at 2 threads instead of Jetty's 8 (as the health checker's) was tried for it and for
   * the WebSocket client; WebSocketProxyTest's 128 MB flood through a slow client then missed its time
   * limit, but it also did on the commit before, on the same overloaded machine, so that says nothing
   * either way. Until a quiet run shows 2 to be harmless, both idle at Jetty's 8.
   */
  @Override
  protected HttpClient newHttpClient() {
    HttpClient client = super.newHttpClient();
    if (getServer() != null) {
      client.setByteBufferPool(getServer().getByteBufferPool());
      client.setExecutor(clientThreads(getServer().getThreadPool()));
    }
    return client;
  }

  /** Jetty's default client pool, capped at the server pool's maximum when that is smaller. */
  static QueuedThreadPool clientThreads(ThreadPool serverThreads) {
    QueuedThreadPool threads = new QueuedThreadPool();
    if (serverThreads instanceof ThreadPool.SizedThreadPool sized && sized.getMaxThreads() < threads.getMaxThreads()) {
      threads.setMaxThreads(Math.max(threads.getMinThreads(), sized.getMaxThreads()));
    }
    threads.setName("proxy-client");
    return threads;
  }

  @Override
  protected void configureHttpClient(HttpClient httpClient) {
    super.configureHttpClient(httpClient);
    configureTimeoutsAndBuffers(httpClient);
    HttpClientTransport transport = httpClient.getHttpClientTransport();
    // Stickiness sends one client's (or many clients') requests to one target, so a target's pool
    // holds every busy connection. The default FIRST strategy scans the pool from the start, over
    // all the busy ones, on every request (~8 % of a core in a profile at 50 connections); round
    // robin starts after the connection taken last, which is usually the longest idle one.
    // (HTTP/1 only: the HTTP/2 client keeps Jetty's multiplexing pool, one connection for many streams.)
    transport.setConnectionPoolFactory(destination ->
        new RoundRobinConnectionPool(destination, destination.getHttpClient().getMaxConnectionsPerDestination()));
    // Measured and left at Jetty's defaults (bench/compare.sh, BENCHMARKS.md): NON_BLOCKING response
    // listeners (0.75x the throughput: one selector thread then relays every response) and sharing
    // the server's thread pool (+5 % throughput but p99 from 15 to 22 ms at 50 connections).
  }

  /** What both clients (HTTP/1 and HTTP/2 to targets) share: the timeouts and room for large headers. */
  private void configureTimeoutsAndBuffers(HttpClient httpClient) {
    httpClient.setConnectTimeout(connectTimeout.toMillis());
    // The upstream timeout is the connections' idle timeout: it is checked by the idle check every
    // connection has anyway. Set per request instead, it was re-armed twice on every request (about
    // 2 % of a core in a profile), and a total timeout would also cut long downloads.
    httpClient.setIdleTimeout(upstreamTimeout.toMillis());
    httpClient.setMaxConnectionsPerDestination(1024);
    // Room for sharded affinity cookies (up to 16 KB by default) in the upstream request headers.
    httpClient.setRequestBufferSize(32 * 1024);
    httpClient.setResponseBufferSize(32 * 1024);
  }

  @Override
  public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback) {
    if (HttpMethod.CONNECT.is(clientToProxyRequest.getMethod())) {
      writePlain(proxyToClientResponse, proxyToClientCallback, HttpStatus.METHOD_NOT_ALLOWED_405,
          "CONNECT is not supported: this is a reverse proxy.\n", null);
      return true;
    }
    DirectHttp1.HandOver handedOver = DirectHttp1.takeHandOver(clientToProxyRequest);
    if (handedOver != null) {
      carryOn(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, handedOver);
      return true;
    }
    ClientOrigin relayed = relayedOrigin(clientToProxyRequest);
    ExchangeNote note = ExchangeNote.start(clientToProxyRequest, relayed);
    Attempt.Next tooLarge = forwarder.refuseLength(clientToProxyRequest.getLength());
    if (tooLarge != null) {
      writeAnswer(proxyToClientResponse, proxyToClientCallback, tooLarge);
      return true;
    }
    // Secure follows the client's scheme: behind a trusted TLS terminator, https though the socket is plain.
    boolean secure = relayed != null ? relayed.isSecure() : clientToProxyRequest.isSecure();
    boolean bodyless = isBodyless(clientToProxyRequest);
    Request bodySource = clientToProxyRequest;
    if (!bodyless && Http2Bodies.mayReadAhead(clientToProxyRequest)) {
      // An HTTP/2 stream its HEADERS frame ended reads its end at once (Http2Bodies): then it is as bodyless as an HTTP/1 GET.
      Content.Chunk first = clientToProxyRequest.read();
      if (Http2Bodies.isEmptyEnd(first)) {
        bodyless = true;
      } else if (first != null) {
        bodySource = new Http2Bodies.ReadAhead(clientToProxyRequest, first);
      }
    }
    JettyCookies view = JettyCookies.of(clientToProxyRequest, relayed);
    Attempt attempt = forwarder.begin(view, view, JettyCookies.listener(clientToProxyRequest), secure,
        Forwarder.isReplayable(clientToProxyRequest.getMethod(), bodyless));
    note.decided(attempt);
    if (attempt.target() == null) {
      RuleHeaders.apply(attempt, proxyToClientResponse);
      answer(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, attempt.unavailable());
      return true;
    }
    if (attempt.movedClient()) {
      onStickinessBroken(clientToProxyRequest, attempt.decision());
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} C2P {} {} from {} -> {}", requestId(clientToProxyRequest), clientToProxyRequest.getMethod(),
          clientToProxyRequest.getHttpURI().getPathQuery(), ClientOrigins.clientForLog(clientToProxyRequest, relayed), attempt);
    }
    forward(new Exchange(bodySource, bodyless, proxyToClientResponse, proxyToClientCallback, note, attempt), false);
    return true;
  }

  /**
   * Carries on an exchange the direct front end decided (and maybe tried) but cannot finish: the
   * decision's or the retry rule's answer, or the current attempt sent from here (through
   * {@code HttpClient} when the direct relay cannot carry it). The request is a bodyless HTTP/1.1 one.
   */
  private void carryOn(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
      DirectHttp1.HandOver handedOver) {
    ExchangeNote note = ExchangeNote.resume(clientToProxyRequest, handedOver.note());
    Attempt attempt = handedOver.attempt();
    if (handedOver.answer() != null) {
      if (handedOver.ruleHeaders()) {
        RuleHeaders.apply(attempt, proxyToClientResponse);
      }
      answer(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, handedOver.answer());
      return;
    }
    forward(new Exchange(clientToProxyRequest, true, proxyToClientResponse, proxyToClientCallback, note, attempt), handedOver.sameTarget());
  }

  /**
   * Whether the request carries no body: a length of 0, or an HTTP/1 request with neither a length
   * nor chunked encoding (an HTTP/2 request of unknown length may still carry one).
   */
  static boolean isBodyless(Request request) {
    long length = request.getLength();
    if (length == 0) {
      return true;
    }
    HttpVersion version = request.getConnectionMetaData().getHttpVersion();
    return length < 0 && (version == HttpVersion.HTTP_1_1 || version == HttpVersion.HTTP_1_0)
        && !request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
  }

  /**
   * Sends the exchange's current attempt on the direct relay when it can carry it, else through
   * {@code HttpClient}.
   *
   * @param sameTarget whether this sends again to the target that just failed (a kept-alive connection
   *     closed under it): then on a new connection, never on another idle one that may be as stale
   */
  private void forward(Exchange exchange, boolean sameTarget) {
    Attempt attempt = exchange.attempt;
    exchange.note.sending(attempt);
    if (directRelay && isDirectlyRelayable(attempt)) {
      ManagedSelector selector = selectorFor(exchange.clientToProxyRequest);
      if (selector != null) {
        TargetConnection kept = sameTarget ? null : keptConnection(attempt);
        if (kept != null || mayConnect()) {
          new DirectRelay(exchange, attempt, selector).send(kept);
          return;
        }
      }
    }
    sendThroughHttpClient(exchange, attempt);
  }

  /**
   * The direct relay carries requests that may be sent again ({@link Forwarder#isReplayable}: a
   * kept-alive connection the target closed meanwhile is retried on a new one) to plain HTTP/1
   * targets, from HTTP/1 clients and HTTP/2 clients alike: the answer goes out through the client's
   * {@code Response}, which for an h2 stream is a DATA frame (flow control included) on the client's
   * session.
   */
  static boolean isDirectlyRelayable(Attempt attempt) {
    return attempt.replayable() && "http".equals(attempt.target().uri().getScheme())
        && attempt.group().protocol() == TargetProtocol.HTTP1;
  }

  /** A selector of the server connector the request came in on, or {@code null} if it has none. */
  private ManagedSelector selectorFor(Request clientToProxyRequest) {
    Connector connector = clientToProxyRequest.getConnectionMetaData().getConnector();
    ManagedSelector[] all = selectors.computeIfAbsent(connector, JettyInternals::selectors);
    return switch (all.length) {
      case 0 -> null;
      case 1 -> all[0];
      default -> all[Math.floorMod(nextSelector.getAndIncrement(), all.length)];
    };
  }

  /** One client request, across its attempts. */
  private static final class Exchange {
    /** The client's request; for an HTTP/2 one whose first chunk was read ahead, with it given back (Http2Bodies). */
    final Request clientToProxyRequest;
    /** Whether the request has no body: {@link #isBodyless}, or an HTTP/2 stream ended by its HEADERS frame. */
    final boolean bodyless;
    final Response proxyToClientResponse;
    final Callback proxyToClientCallback;
    final String pathQuery;
    /** The client as a trusted proxy described it; {@code null} when the peer is the client. */
    final ClientOrigin relayed;
    /** What the access log and metrics will read of this exchange, and its trace. */
    final ExchangeNote note;
    volatile Attempt attempt;
    /** The client's body could not be read to the end (set by {@link ReplayableContent}). */
    volatile boolean clientBodyFailed;
    /** ... because it grew past the body limit. */
    volatile boolean bodyTooLarge;
    /** A write of the answer to the client failed: the client left (see {@link ClientWrites}). */
    volatile boolean clientGone;
    /** The client's body as the current attempt's upload, or {@code null} when it sends none. */
    volatile ReplayableContent upload;

    Exchange(Request clientToProxyRequest, boolean bodyless, Response proxyToClientResponse, Callback proxyToClientCallback,
        ExchangeNote note, Attempt attempt) {
      this.clientToProxyRequest = clientToProxyRequest;
      this.bodyless = bodyless;
      this.note = note;
      this.relayed = note.relayed;
      this.proxyToClientResponse = proxyToClientResponse;
      this.proxyToClientCallback = proxyToClientCallback;
      this.pathQuery = upstreamPathQuery(clientToProxyRequest);
      this.attempt = attempt;
    }

    /** Completes the client's exchange once no read of its body is pending (see {@link ReplayableContent}). */
    void succeeded() {
      ReplayableContent body = upload;
      if (body == null) {
        proxyToClientCallback.succeeded();
      } else {
        body.whenNotDemanding(proxyToClientCallback::succeeded);
      }
    }

    /** The client's callback for an answer the balancer writes itself, completed as {@link #succeeded()} does. */
    Callback answerCallback() {
      return upload == null ? proxyToClientCallback : Callback.from(this::succeeded, proxyToClientCallback::failed);
    }
  }

  /**
   * An attempt failed on either path: core's retry rule decides; this only carries it out (send
   * again, answer, or cut the client's response short).
   */
  private void attemptFailed(Exchange exchange, Attempt attempt, Throwable failure, Attempt.Failure classified) {
    Request clientToProxyRequest = exchange.clientToProxyRequest;
    Response proxyToClientResponse = exchange.proxyToClientResponse;
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P failure from {} ({}): {}", requestId(clientToProxyRequest), attempt.target().id(), classified, failure.toString());
    }
    Attempt.Next next = attempt.failed(classified, proxyToClientResponse.isCommitted());
    onTargetFailure(clientToProxyRequest, attempt.target(), failure, classified.isRefused());
    switch (next.action()) {
      case RETRY -> {
        // Whatever the failed target's headers put on the response so far goes (a Content-Length, cookies).
        proxyToClientResponse.reset();
        Attempt retry = next.attempt();
        exchange.attempt = retry;
        boolean sameTarget = retry.target() == attempt.target();
        if (!sameTarget) {
          onStickinessBroken(clientToProxyRequest, retry.decision());
        }
        forward(exchange, sameTarget);
      }
      case ANSWER -> {
        proxyToClientResponse.reset();
        answer(clientToProxyRequest, proxyToClientResponse, exchange.answerCallback(), next);
      }
      default -> exchange.proxyToClientCallback.failed(failure);
    }
  }

  /**
   * Sends a request head on the direct relay: on {@code kept}, or on a new connection when it is
   * {@code null} (connected without blocking: {@link TargetConnection#open}).
   */
  void sendDirect(Attempt attempt, HttpHead requestHead, boolean headRequest, ManagedSelector selector, Connector connector,
      TargetConnection kept, TargetConnection.Relay relay) {
    URI origin = attempt.target().uri();
    Duration groupTimeout = attempt.group().upstreamTimeout();
    long silenceLimitMillis = (groupTimeout != null ? groupTimeout : upstreamTimeout).toMillis();
    if (kept != null) {
      kept.send(requestHead, headRequest, silenceLimitMillis, relay);
      return;
    }
    Duration groupConnectTimeout = attempt.group().connectTimeout();
    int connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, (groupConnectTimeout != null ? groupConnectTimeout : connectTimeout).toMillis());
    connecting.incrementAndGet();
    connections.open(origin, connectTimeoutMillis, selector, connector, new TargetConnection.Opening() {
      @Override
      public void opened(TargetConnection connection) {
        connecting.decrementAndGet();
        connection.send(requestHead, headRequest, silenceLimitMillis, relay);
      }

      @Override
      public void failed(Throwable failure) {
        connecting.decrementAndGet();
        relay.failed(failure, false, false);
      }
    });
  }

  Forwarder forwarder() {
    return forwarder;
  }

  /**
   * At most this many connects to targets in progress at once on the direct relay. A connect holds no
   * thread, so this is no longer about the pool: it keeps a flood of new exchanges (an HTTP/2 client
   * opening and resetting streams, each of which would want its own connection) from opening a target
   * connection per exchange; past it, exchanges go through {@code HttpClient}, whose per-target
   * connection limit queues them. A burst of new clients (a load test starting, clients reconnecting
   * after a restart) stays far below it.
   */
  static final int MAX_CONNECTING = 256;

  /** Whether the direct relay may start another connect now ({@link #MAX_CONNECTING}). */
  boolean mayConnect() {
    return connecting.get() < MAX_CONNECTING;
  }

  /** A kept-alive connection to the attempt's target from the direct relay's pool, or {@code null}. */
  TargetConnection keptConnection(Attempt attempt) {
    return connections.acquire(attempt.target().uri());
  }

  /** One attempt on the direct path. */
  private final class DirectRelay implements TargetConnection.Relay {
    private final Exchange exchange;
    private final Attempt attempt;
    private final ManagedSelector selector;

    DirectRelay(Exchange exchange, Attempt attempt, ManagedSelector selector) {
      this.exchange = exchange;
      this.attempt = attempt;
      this.selector = selector;
    }

    /** Sends on {@code kept}, or on a new connection when it is {@code null}. */
    void send(TargetConnection kept) {
      Request clientToProxyRequest = exchange.clientToProxyRequest;
      HttpHead requestHead = new HttpHead(clientToProxyRequest.getMethod(), exchange.pathQuery,
          HttpHead.sizeOf(clientToProxyRequest.getHeaders()));
      Upstream.toTarget(clientToProxyRequest, exchange.relayed, exchange.note.trace, attempt, getViaHost(), false, requestHead);
      requestHead.end();
      sendDirect(attempt, requestHead, HttpMethod.HEAD.is(clientToProxyRequest.getMethod()), selector,
          clientToProxyRequest.getConnectionMetaData().getConnector(), kept, this);
    }

    @Override
    public void proxyToClient(boolean last, java.nio.ByteBuffer content, Callback callback) {
      exchange.proxyToClientResponse.write(last, content, callback);
    }

    @Override
    public void onHeaders(int status, HttpFields headers) {
      copyTargetResponse(exchange, attempt, status, headers);
    }

    @Override
    public void succeeded() {
      attempt.finished();
      if (getServer().getInvocationType() == InvocationType.NON_BLOCKING) {
        AffinityThreadPool.completing(exchange.proxyToClientCallback::succeeded);
      } else {
        exchange.proxyToClientCallback.succeeded();
      }
    }

    @Override
    public void failed(Throwable failure, boolean reused, boolean answerReceived) {
      attemptFailed(exchange, attempt, failure, Upstream.classify(failure, reused, answerReceived));
    }

    @Override
    public void clientFailed(Throwable failure) {
      attempt.finished();
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} P2C write failed: {}", requestId(exchange.clientToProxyRequest), failure.toString());
      }
      exchange.proxyToClientCallback.failed(failure);
    }
  }

  /** The target's status and end-to-end headers on the client's response, then the affinity cookies (both paths). */
  private static void copyTargetResponse(Exchange exchange, Attempt attempt, int status, HttpFields targetHeaders) {
    Response proxyToClientResponse = exchange.proxyToClientResponse;
    proxyToClientResponse.setStatus(status);
    answerHeaders(exchange.note, attempt, status, targetHeaders, proxyToClientResponse.getHeaders());
  }

  /**
   * The client's answer headers for the target's answer, on every path and front end: the target's
   * end-to-end headers, then the affinity cookies, then the rule's header changes.
   */
  static void answerHeaders(ExchangeNote note, Attempt attempt, int status, HttpFields targetHeaders, HttpFields.Mutable clientHeaders) {
    note.answered(status);
    Upstream.toClient(targetHeaders, clientHeaders);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P {} from {}", note.trace.requestId(), status, attempt.target().id());
    }
    JettyCookies.addPins(clientHeaders, attempt, attempt.answered(status, JettyCookies.answerCookies(attempt, targetHeaders)));
    RuleHeaders.apply(attempt, clientHeaders);
  }

  /** One attempt through Jetty's {@code HttpClient}: what {@code ProxyHandler.handle} does, with the balancer's header policy. */
  private void sendThroughHttpClient(Exchange exchange, Attempt attempt) {
    Request clientToProxyRequest = exchange.clientToProxyRequest;
    Response proxyToClientResponse = exchange.proxyToClientResponse;
    // Origin from configuration, path and query from the client: an absolute-form request line
    // naming another host cannot steer the balancer anywhere else.
    URI uri = HttpURI.build(attempt.target().uri()).pathQuery(exchange.pathQuery).toURI();
    HttpClient client = clientFor(attempt.group());
    org.eclipse.jetty.client.Request proxyToServerRequest = client.newRequest(uri).method(clientToProxyRequest.getMethod());
    JettyInternals.linkForInterimResponses(proxyToServerRequest, clientToProxyRequest, proxyToClientResponse);
    proxyToServerRequest.attribute(EXCHANGE, exchange);
    boolean trailers = Upstream.acceptsTrailers(clientToProxyRequest);
    proxyToServerRequest.headers(headers -> {
      Upstream.toTarget(clientToProxyRequest, exchange.relayed, exchange.note.trace, attempt, getViaHost(), false, headers::add);
      if (trailers) {
        // TE is hop-by-hop, so this is the balancer's own: it passes trailers on (BalancerResponseListener),
        // and a gRPC server expects to be told (grpc-java logs a warning without it, others refuse).
        headers.put(HttpHeader.TE, "trailers");
      }
    });
    if (!exchange.bodyless || clientToProxyRequest.getLength() > 0) {
      if (HttpHeaderValue.CONTINUE.is(clientToProxyRequest.getHeaders().get(HttpHeader.EXPECT))) {
        // The body is read from the client only once the target said 100 Continue.
        AsyncRequestContent delayed = new AsyncRequestContent();
        proxyToServerRequest.body(delayed);
        proxyToServerRequest.attribute(CONTINUE, (Runnable) () -> Content.copy(
            new ReplayableContent(clientToProxyRequest, exchange, forwarder.maxRequestBodyBytes()), delayed,
            Callback.from(delayed::close, delayed::fail)));
      } else {
        ReplayableContent upload = new ReplayableContent(clientToProxyRequest, exchange, forwarder.maxRequestBodyBytes());
        exchange.upload = upload;
        proxyToServerRequest.body(upload);
      }
    }
    UpstreamHeadersTimer headersTimer = null;
    if (attempt.group().protocol() == TargetProtocol.GRPC) {
      Duration groupTimeout = attempt.group().upstreamTimeout();
      headersTimer = new UpstreamHeadersTimer(proxyToServerRequest, client.getScheduler(),
          (groupTimeout != null ? groupTimeout : upstreamTimeout).toMillis());
    }
    proxyToServerRequest.send(new BalancerResponseListener(exchange, attempt, proxyToServerRequest, headersTimer, trailers));
  }

  /**
   * A gRPC group's upstream timeout: how long the target may take, once the whole request was sent, to
   * answer with its headers; then the request is aborted with a {@link java.util.concurrent.TimeoutException}
   * (a 504, as a silent target on the other paths). After the headers nothing times the call out: a
   * server stream may stay quiet for as long as the call lasts, and ends when the target ends it, the
   * client cancels it or a connection closes. A request still being sent (a client stream) is not
   * timed: the target may answer only once it has it all.
   */
  static final class UpstreamHeadersTimer {
    private final org.eclipse.jetty.client.Request request;
    private final Scheduler scheduler;
    private final long timeoutMillis;
    private Scheduler.Task task;
    private boolean answered;

    UpstreamHeadersTimer(org.eclipse.jetty.client.Request request, Scheduler scheduler, long timeoutMillis) {
      this.request = request;
      this.scheduler = scheduler;
      this.timeoutMillis = timeoutMillis;
      request.onRequestSuccess(sent -> arm());
    }

    private void arm() {
      synchronized (this) {
        if (answered) {
          return;
        }
        task = scheduler.schedule(() -> request.abort(new java.util.concurrent.TimeoutException(
            "no answer headers from the target within " + timeoutMillis + " ms")), timeoutMillis, TimeUnit.MILLISECONDS);
      }
    }

    /** The headers came, or the exchange ended: nothing to time any more. */
    void answered() {
      Scheduler.Task armed;
      synchronized (this) {
        answered = true;
        armed = task;
        task = null;
      }
      if (armed != null) {
        armed.cancel();
      }
    }
  }

  /**
   * The client's body as the upstream request's content.
   *
   * <p>When the upload to the target fails, the client's request is not failed with it: that would
   * also fail the answer being written to the client, and the target may well have answered (a
   * target that answers an upload without reading it, then resets the stream or closes). What the
   * client gets is the attempt's business. The rest of the client's body is then left unread, and
   * Jetty deals with it when the exchange completes, as for any handler that does not read a body:
   * an HTTP/1 connection is closed after the answer (output shut first, the rest discarded), an HTTP/2
   * stream reset with {@code NO_ERROR} after it (RFC 9113 section 8.1). For that, no read may be
   * pending on the client's request when the exchange completes (Jetty fails an exchange completed
   * with a pending demand, which cuts an HTTP/1 connection and resets an HTTP/2 stream with
   * {@code CANCEL}): {@link #whenNotDemanding} waits for it to end (the client's next bytes, its end,
   * or its idle timeout).
   */
  private static final class ReplayableContent extends ProxyRequestContent {
    private final Exchange exchange;
    private final long limit;
    private long bytes;
    private boolean abandoned;
    private boolean demanding;
    private Runnable senderDemand;
    private Runnable afterDemand;

    ReplayableContent(Request clientToProxyRequest, Exchange exchange, long limit) {
      super(clientToProxyRequest);
      this.exchange = exchange;
      this.limit = limit;
    }

    @Override
    public Content.Chunk read() {
      Content.Chunk chunk = super.read();
      if (chunk == null) {
        return null;
      }
      if (Content.Chunk.isFailure(chunk)) {
        // The client went away or broke its body: its doing, not the target's (see attemptFailed).
        exchange.clientBodyFailed = true;
        return chunk;
      }
      bytes += chunk.remaining();
      if (bytes > limit) {
        chunk.release();
        exchange.clientBodyFailed = true;
        exchange.bodyTooLarge = true;
        return Content.Chunk.from(new BodyTooLargeException(limit), true);
      }
      return chunk;
    }

    @Override
    public void demand(Runnable demandCallback) {
      synchronized (this) {
        if (abandoned) {
          return;
        }
        senderDemand = demandCallback;
        demanding = true;
      }
      getContentSource().demand(this::onClientContent);
    }

    private void onClientContent() {
      Runnable sender;
      Runnable after;
      synchronized (this) {
        demanding = false;
        sender = abandoned ? null : senderDemand;
        senderDemand = null;
        after = afterDemand;
        afterDemand = null;
      }
      if (sender != null) {
        sender.run();
      }
      if (after != null) {
        after.run();
      }
    }

    @Override
    public void fail(Throwable failure, boolean last) {
      // Neither a refused connect (nothing read: the body goes to the next target) nor a failed upload
      // fails the client's request: see the class comment.
      synchronized (this) {
        abandoned = true;
      }
    }

    /** Runs {@code task} once no read of the client's body is pending (at once, mostly). */
    void whenNotDemanding(Runnable task) {
      synchronized (this) {
        if (demanding) {
          Runnable before = afterDemand;
          afterDemand = before == null ? task : () -> {
            before.run();
            task.run();
          };
          return;
        }
        abandoned = true;
      }
      task.run();
    }
  }

  /** A streamed request body grew past the limit. */
  static final class BodyTooLargeException extends IOException {
    BodyTooLargeException(long limit) {
      super("request body larger than " + limit + " bytes");
    }
  }

  @Override
  protected final Runnable onServerToProxyResponse100Continue(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    return (Runnable) proxyToServerRequest.getAttributes().get(CONTINUE);
  }

  /**
   * The client's response as ProxyHandler's listener writes the answer to it, noting a failed write:
   * ProxyHandler then aborts the upstream exchange with that failure, which must not read as the target's.
   */
  private static final class ClientWrites extends Response.Wrapper {
    private final Exchange exchange;

    ClientWrites(Exchange exchange) {
      super(exchange.clientToProxyRequest, exchange.proxyToClientResponse);
      this.exchange = exchange;
    }

    @Override
    public void write(boolean last, java.nio.ByteBuffer byteBuffer, Callback callback) {
      super.write(last, byteBuffer, new Callback() {
        @Override
        public void succeeded() {
          callback.succeeded();
        }

        @Override
        public void failed(Throwable x) {
          exchange.clientGone = true;
          callback.failed(x);
        }

        @Override
        public InvocationType getInvocationType() {
          return callback.getInvocationType();
        }
      });
    }
  }

  /** Relays the target's answer (ProxyHandler's listener: streaming, back-pressure) with the balancer's headers and cookies. */
  private final class BalancerResponseListener extends ProxyResponseListener {
    private final Exchange exchange;
    private final Attempt attempt;
    /** A gRPC group's upstream timeout, {@code null} for other groups (their clients' idle timeouts are it). */
    private final UpstreamHeadersTimer headersTimer;
    /** Whether the client said it takes trailers ({@code TE: trailers}): the target's are then passed on. */
    private final boolean trailers;
    // Answer bytes handed to the client so far; content is delivered one chunk at a time.
    private long relayedBytes;

    BalancerResponseListener(Exchange exchange, Attempt attempt, org.eclipse.jetty.client.Request proxyToServerRequest,
        UpstreamHeadersTimer headersTimer, boolean trailers) {
      super(exchange.clientToProxyRequest, proxyToServerRequest, new ClientWrites(exchange), exchange.proxyToClientCallback);
      this.exchange = exchange;
      this.attempt = attempt;
      this.headersTimer = headersTimer;
      this.trailers = trailers;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse) {
      if (headersTimer != null) {
        headersTimer.answered();
      }
      if (trailers) {
        // Read when the answer's end is written: by then the target's trailers (gRPC's grpc-status) are in.
        exchange.proxyToClientResponse.setTrailersSupplier(serverToProxyResponse::getTrailers);
      }
      if (serverToProxyResponse.getStatus() == HttpStatus.SWITCHING_PROTOCOLS_101) {
        // No request on this path asked for an upgrade (WebSockets take WebSocketProxy), so a switch
        // is not HTTP any more: a bad answer, as on the direct relay (TargetConnection.headerComplete).
        serverToProxyResponse.abort(new TargetConnection.BadResponseException("target switched protocols unasked"));
        return;
      }
      copyTargetResponse(exchange, attempt, serverToProxyResponse.getStatus(), serverToProxyResponse.getHeaders());
    }

    @Override
    public void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk serverToProxyChunk, Runnable serverToProxyDemander) {
      relayedBytes += serverToProxyChunk.remaining();
      super.onContent(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
    }

    /**
     * A target may answer an upload before reading all of it, then stop the rest: HTTP/2 by resetting
     * the stream after its answer (RFC 9113 section 8.1), HTTP/1 by closing the connection. The
     * exchange's result then has the upload's failure beside a complete answer, and that answer is
     * relayed as a success, as HAProxy and Envoy do. A failed answer is still the attempt's failure,
     * also when Jetty reports the reset at the answer's end but fewer bytes than its {@code Content-Length}
     * came (its HTTP/2 stream drops unread DATA frames on a reset, the end included).
     */
    @Override
    public void onComplete(org.eclipse.jetty.client.Result result) {
      if (headersTimer != null) {
        headersTimer.answered();
      }
      if (result.isFailed() && result.getResponse().getStatus() > 0) {
        Throwable responseFailure = result.getResponseFailure();
        if (responseFailure == null) {
          if (LOG.isDebugEnabled()) {
            LOG.debug("{} S2P answered before taking the whole upload: {}", requestId(exchange.clientToProxyRequest),
                result.getRequestFailure().toString());
          }
          super.onComplete(new org.eclipse.jetty.client.Result(result.getRequest(), result.getResponse()));
          return;
        }
        long length = result.getResponse().getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
        if (JettyInternals.isResetAfterWholeAnswer(responseFailure) && length >= 0 && relayedBytes == length) {
          // Every byte of the answer was relayed; only its end was reported as a failure: end it here.
          if (LOG.isDebugEnabled()) {
            LOG.debug("{} S2P stream reset after the whole answer", requestId(exchange.clientToProxyRequest));
          }
          exchange.proxyToClientResponse.write(true, org.eclipse.jetty.util.BufferUtil.EMPTY_BUFFER, this);
          super.onComplete(new org.eclipse.jetty.client.Result(result.getRequest(), result.getResponse()));
          return;
        }
      }
      super.onComplete(result);
    }
  }

  @Override
  protected final void onProxyToClientResponseComplete(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback) {
    Exchange exchange = exchange(proxyToServerRequest);
    exchange.attempt.finished();
    exchange.succeeded();
  }

  @Override
  protected final void onProxyToClientResponseFailure(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback, Throwable failure) {
    exchange(proxyToServerRequest).attempt.finished();
    proxyToClientCallback.failed(failure);
  }

  @Override
  protected final void onServerToProxyResponseFailure(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback, Throwable failure) {
    Exchange exchange = exchange(proxyToServerRequest);
    boolean answerReceived = serverToProxyResponse != null && serverToProxyResponse.getStatus() > 0;
    Attempt.Failure classified;
    if (exchange.bodyTooLarge) {
      classified = Attempt.Failure.bodyTooLarge();
    } else if (exchange.clientBodyFailed || exchange.clientGone) {
      // ProxyHandler aborts the upstream exchange when a write to the client fails (a client that
      // closed or reset its stream mid-answer): the failure is the client's, not the target's, and
      // blaming the target would let passive health eject healthy targets whenever clients leave.
      classified = Attempt.Failure.clientLeft();
    } else {
      // HttpClient does not say whether the connection was a kept-alive one: see Upstream.classify.
      classified = Upstream.classify(failure, true, answerReceived);
    }
    attemptFailed(exchange, exchange.attempt, failure, classified);
  }

  private static Exchange exchange(org.eclipse.jetty.client.Request proxyToServerRequest) {
    return (Exchange) proxyToServerRequest.getAttributes().get(EXCHANGE);
  }

  static String upstreamPathQuery(Request clientToProxyRequest) {
    String pathQuery = clientToProxyRequest.getHttpURI().getPathQuery();
    // Asterisk-form ("OPTIONS * HTTP/1.1") has no path: glued to the origin it made "http://host:port*",
    // which the client refused with a 500 (found by AdminEndpointsFuzzTest). It is sent on as "/".
    boolean originForm = pathQuery != null && !pathQuery.isEmpty() && pathQuery.charAt(0) == '/';
    return originForm ? uriSafe(pathQuery) : "/";
  }

  /**
   * The path and query with every character that {@code java.net.URI} refuses percent-encoded (as
   * UTF-8): Jetty's server accepts some (a query with {@code >} or {@code |}, a stray {@code %}, non-ASCII)
   * that its {@code HttpClient} then refused with a 500 (found by AdminEndpointsFuzzTest).
   */
  static String uriSafe(String pathQuery) {
    int query = pathQuery.indexOf('?');
    StringBuilder out = null;
    for (int i = 0; i < pathQuery.length(); i++) {
      char c = pathQuery.charAt(i);
      boolean inQuery = query >= 0 && i > query;
      boolean ok = isUriPlain(c)
          || (i == query)
          || (inQuery && (c == '?' || c == '[' || c == ']'))
          || isPercentEncoded(pathQuery, i);
      if (ok) {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      if (out == null) {
        out = new StringBuilder(pathQuery.length() + 16).append(pathQuery, 0, i);
      }
      int end = Character.isHighSurrogate(c) && i + 1 < pathQuery.length() && Character.isLowSurrogate(pathQuery.charAt(i + 1)) ? i + 2 : i + 1;
      for (byte b : pathQuery.substring(i, end).getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
        out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xF, 16)))
            .append(Character.toUpperCase(Character.forDigit(b & 0xF, 16)));
      }
      i = end - 1;
    }
    return out == null ? pathQuery : out.toString();
  }

  /** A letter, a digit, or one of the marks a URI path and query carry as they are: {@code -_.!~*'();:@&=+$,/}. */
  static boolean isUriPlain(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-_.!~*'();:@&=+$,/".indexOf(c) >= 0;
  }

  /** Whether {@code s} has a percent-encoded octet ({@code %} and two hex digits) at {@code i}. */
  static boolean isPercentEncoded(String s, int i) {
    return s.charAt(i) == '%' && i + 2 < s.length() && isHex(s.charAt(i + 1)) && isHex(s.charAt(i + 2));
  }

  private static boolean isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  // ProxyHandler's hooks for building the upstream request and copying the answer do not run: both
  // paths build them with Upstream's one policy. They are final so that no subclass believes otherwise.

  /** Not used: the upstream URI is the target's origin plus the client's path and query, on every path. */
  @Override
  protected final HttpURI rewriteHttpURI(Request clientToProxyRequest) {
    throw new UnsupportedOperationException("AffinityBalancer builds upstream requests itself (the target's origin, the client's path)");
  }

  /** Not used: request headers follow {@code Upstream.toTarget} on every path. */
  @Override
  protected final void copyRequestHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    throw new UnsupportedOperationException("AffinityBalancer builds upstream requests itself (Upstream.toTarget)");
  }

  /** Not used: forwarding headers follow {@code Upstream.toTarget} on every path. */
  @Override
  protected final void addProxyHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    throw new UnsupportedOperationException("AffinityBalancer builds upstream requests itself (Upstream.toTarget)");
  }

  /** Not used: answer headers follow {@code Upstream.toClient} on every path. */
  @Override
  protected final HttpField filterServerToProxyResponseField(HttpField serverToProxyResponseField) {
    throw new UnsupportedOperationException("AffinityBalancer copies answers itself (Upstream.toClient)");
  }

  /**
   * Hook, on every path (direct relay, {@code HttpClient}, WebSocket upgrades): a target failed an
   * attempt. Core has already counted it and, for a refused connection, taken the target out of
   * rotation; this is for logging or metrics of your own. Must not block.
   */
  protected void onTargetFailure(Request clientToProxyRequest, Target target, Throwable failure, boolean refused) {
  }

  /** Hook, on every path: a client's pin was moved to another target (the old one failed, went away or is draining). Must not block. */
  protected void onStickinessBroken(Request clientToProxyRequest, RouteDecision decision) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} re-pinned from {} to {}", requestId(clientToProxyRequest), decision.previousTargetId(), decision.target().id());
    }
  }

  /**
   * Hook, on every path: nothing can serve the request. Writes core's answer, a short plain 503
   * with {@code Retry-After}.
   */
  protected void writeNoTarget(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback, Attempt.Next answer) {
    writeAnswer(proxyToClientResponse, callback, answer);
  }

  /** Answers as core decided, for every path: a 503 through {@link #writeNoTarget}, anything else as a plain page. */
  final void answer(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback, Attempt.Next answer) {
    if (answer.status() == HttpStatus.SERVICE_UNAVAILABLE_503) {
      writeNoTarget(clientToProxyRequest, proxyToClientResponse, callback, answer);
    } else {
      writeAnswer(proxyToClientResponse, callback, answer);
    }
  }

  /**
   * Writes one of core's answers ({@link Attempt.Next.Action#ANSWER}): a listener rule's redirect or fixed
   * response as the rule says, anything else as a short plain-text page.
   */
  static void writeAnswer(Response response, Callback callback, Attempt.Next answer) {
    int status = answer.status();
    if (answer.body() != null) {
      response.setStatus(status);
      HttpFields.Mutable headers = response.getHeaders();
      if (answer.location() != null) {
        headers.put(HttpHeader.LOCATION, answer.location());
      }
      if (answer.contentType() != null) {
        headers.put(HttpHeader.CONTENT_TYPE, answer.contentType());
      }
      if (answer.body().isEmpty()) {
        headers.put(HttpHeader.CONTENT_LENGTH, 0L);
        response.write(true, null, callback);
        return;
      }
      Content.Sink.write(response, true, answer.body(), callback);
      return;
    }
    if (status == HttpStatus.PAYLOAD_TOO_LARGE_413) {
      // The rest of the body stays unread: the connection cannot carry another request after it.
      response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
    }
    writePlain(response, callback, status, status + " " + HttpStatus.getMessage(status) + ": " + answer.reason() + "\n",
        answer.retryAfterSeconds() < 0 ? null : Integer.toString(answer.retryAfterSeconds()));
  }

  static void writePlain(Response response, Callback callback, int status, String body, String retryAfter) {
    response.setStatus(status);
    HttpFields.Mutable headers = response.getHeaders();
    headers.remove(HttpHeader.SET_COOKIE);
    headers.put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
    headers.put(HttpHeader.CACHE_CONTROL, "no-store");
    if (retryAfter != null) {
      headers.put(HttpHeader.RETRY_AFTER, retryAfter);
    }
    Content.Sink.write(response, true, body, callback);
  }
}
