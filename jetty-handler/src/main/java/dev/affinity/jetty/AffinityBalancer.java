package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.cookie.SetCookie;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.HttpClientTransport;
import org.eclipse.jetty.client.RoundRobinConnectionPool;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.util.thread.ThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Jetty 12 handler that is a sticky load balancer: it asks the core {@link Router} where each
 * request goes, reverse-proxies it there, sets the affinity cookies on the way back, and fails over
 * when a target refuses.
 *
 * <p>Two paths to a target, with one header, cookie and failover policy. Requests without a body
 * and with an idempotent method ({@code GET}, {@code HEAD}, {@code OPTIONS}, {@code DELETE}) to an
 * {@code http://} target, most of any site's traffic, go over the balancer's own kept-alive
 * connections ({@link TargetConnection}), registered with the selector of the server connector the
 * client came in on: the thread that reads a target's answer writes it to the client, with no hand-off
 * in between, as in HAProxy's event loop (see BENCHMARKS.md). Everything else (request bodies,
 * {@code https://} targets, HTTP/2 requests of unknown length, connectors without a selector) goes
 * through Jetty's {@link ProxyHandler} and its asynchronous {@code HttpClient}, which streams bodies
 * both ways and handles {@code 100-continue}. {@link #setDirectRelay(boolean) setDirectRelay(false)}
 * sends everything through {@code HttpClient}. Connecting to a target is the direct path's one
 * blocking step, done on a pool thread; while a quarter of the server's threads are connecting (a
 * target swallowing connects holds each for the connect timeout), new requests that would need a
 * new connection go through {@code HttpClient}, which connects without holding a thread.
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
 * <p>Extension goes through protected hooks with one job each: {@link #onTargetFailure},
 * {@link #onStickinessBroken} and {@link #writeNoTarget}.
 */
public class AffinityBalancer extends ProxyHandler {
  /** Tells a target which target the client was pinned to before a failover moved it. */
  public static final String PREVIOUS_TARGET_HEADER = "X-Affinity-Previous-Target";
  private static final Logger LOG = LoggerFactory.getLogger(AffinityBalancer.class);
  private static final String EXCHANGE = AffinityBalancer.class.getName() + ".exchange";
  // ProxyHandler keeps these attributes on the upstream request for its interim-response handlers.
  private static final String C2P_ATTRIBUTE = ProxyHandler.class.getName() + ".clientToProxyRequest";
  private static final String P2C_ATTRIBUTE = ProxyHandler.class.getName() + ".proxyToClientResponse";
  private static final String RETRY_AFTER_SECONDS = "5";
  // Hop-by-hop headers (RFC 9110 section 7.6.1), the same set ProxyHandler drops.
  private static final Set<HttpHeader> HOP_HEADERS = EnumSet.of(HttpHeader.CONNECTION, HttpHeader.KEEP_ALIVE,
      HttpHeader.PROXY_AUTHORIZATION, HttpHeader.PROXY_AUTHENTICATE, HttpHeader.PROXY_CONNECTION,
      HttpHeader.TRANSFER_ENCODING, HttpHeader.TE, HttpHeader.TRAILER, HttpHeader.UPGRADE);

  private final AtomicReference<Router> router;
  private volatile Duration upstreamTimeout = Duration.ofSeconds(60);
  private volatile Duration connectTimeout = Duration.ofSeconds(2);
  private final LongAdder failovers = new LongAdder();
  private final LongAdder noTarget = new LongAdder();
  private final LongAdder badGateway = new LongAdder();
  private final LongAdder gatewayTimeout = new LongAdder();
  private final TargetConnections connections;
  private final Map<Connector, ManagedSelector[]> selectors = new ConcurrentHashMap<>();
  private final AtomicInteger nextSelector = new AtomicInteger();
  private volatile boolean directRelay = true;
  // Connects to targets in progress on pool threads, and how many may be before new requests that
  // would need one go through HttpClient (which connects without holding a thread) instead.
  private final AtomicInteger connecting = new AtomicInteger();
  private volatile int maxConnecting = 16;
  private Scheduler sweeper;

  public AffinityBalancer(Router router) {
    this(router, System::nanoTime);
  }

  /** With the ticker (nanoseconds) that times the target connections' idle ages. */
  AffinityBalancer(Router router, LongSupplier nanoTicker) {
    this.router = new AtomicReference<>(requireNonNull(router, "router"));
    this.connections = new TargetConnections(requireNonNull(nanoTicker, "nanoTicker"), TargetConnections.DEFAULT_MAX_IDLE);
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
   * Non-blocking: nothing in the balancer waits (connecting to a target is done on a pool thread),
   * so Jetty may call it on the selector thread that read the request.
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
    router.set(requireNonNull(newRouter, "newRouter"));
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
  }

  /** How long connecting to a target may take before it counts as refused. Default 2 s. */
  public void setConnectTimeout(Duration timeout) {
    requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("connectTimeout must be positive, got " + timeout);
    }
    this.connectTimeout = timeout;
  }

  public long failovers() {
    return failovers.sum();
  }

  public long noTargetResponses() {
    return noTarget.sum();
  }

  public long badGatewayResponses() {
    return badGateway.sum();
  }

  public long gatewayTimeoutResponses() {
    return gatewayTimeout.sum();
  }

  @Override
  protected void doStart() throws Exception {
    super.doStart();
    selectors.clear();
    // A quarter of the server's threads: a target that swallows connects (a dead host behind a
    // firewall) holds each for the connect timeout, and must not take the threads everyone needs.
    ThreadPool pool = getServer() == null ? null : getServer().getThreadPool();
    maxConnecting = pool instanceof ThreadPool.SizedThreadPool sized ? Math.max(2, sized.getMaxThreads() / 4) : 16;
    connections.reopen();
    sweeper = new ScheduledExecutorScheduler("affinity-target-sweeper", true);
    sweeper.start();
    scheduleSweep(sweeper);
  }

  @Override
  protected void doStop() throws Exception {
    connections.close();
    if (sweeper != null) {
      sweeper.stop();
    }
    super.doStop();
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

  @Override
  protected void configureHttpClient(HttpClient httpClient) {
    super.configureHttpClient(httpClient);
    httpClient.setConnectTimeout(connectTimeout.toMillis());
    // The upstream timeout is the connections' idle timeout: it is checked by the idle check every
    // connection has anyway. Set per request instead, it was re-armed twice on every request (about
    // 2 % of a core in a profile), and a total timeout would also cut long downloads.
    httpClient.setIdleTimeout(upstreamTimeout.toMillis());
    httpClient.setMaxConnectionsPerDestination(1024);
    // Room for sharded affinity cookies (up to 16 KB by default) in the upstream request headers.
    httpClient.setRequestBufferSize(32 * 1024);
    httpClient.setResponseBufferSize(32 * 1024);
    HttpClientTransport transport = httpClient.getHttpClientTransport();
    // Stickiness sends one client's (or many clients') requests to one target, so a target's pool
    // holds every busy connection. The default FIRST strategy scans the pool from the start, over
    // all the busy ones, on every request (~8 % of a core in a profile at 50 connections); round
    // robin starts after the connection taken last, which is usually the longest idle one.
    transport.setConnectionPoolFactory(destination ->
        new RoundRobinConnectionPool(destination, destination.getHttpClient().getMaxConnectionsPerDestination()));
    // Measured and left at Jetty's defaults (bench/compare.sh, BENCHMARKS.md): NON_BLOCKING response
    // listeners (0.75x the throughput: one selector thread then relays every response) and sharing
    // the server's thread pool (+5 % throughput but p99 from 15 to 22 ms at 50 connections).
  }

  @Override
  public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback) {
    if (HttpMethod.CONNECT.is(clientToProxyRequest.getMethod())) {
      writePlain(proxyToClientResponse, proxyToClientCallback, HttpStatus.METHOD_NOT_ALLOWED_405,
          "CONNECT is not supported: this is a reverse proxy.\n", null);
      return true;
    }
    JettyCookies cookies = JettyCookies.of(clientToProxyRequest);
    boolean secure = clientToProxyRequest.isSecure();
    Router current = router.get();
    RouteDecision decision = current.route(cookies, secure);
    if (decision.target() == null) {
      noTarget.increment();
      writeNoTarget(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, decision);
      return true;
    }
    if (decision.outcome() == RouteDecision.Outcome.REPIN && decision.previousTargetId() != null) {
      onStickinessBroken(clientToProxyRequest, decision);
    }
    Exchange exchange = new Exchange(current, decision, cookies, secure);
    decision.target().started();
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} C2P {} {} -> {}", requestId(clientToProxyRequest), clientToProxyRequest.getMethod(),
          clientToProxyRequest.getHttpURI().getPathQuery(), decision);
    }
    if (directRelay && isDirectlyRelayable(clientToProxyRequest, decision.target())) {
      ManagedSelector selector = selectorFor(clientToProxyRequest);
      if (selector != null) {
        TargetConnection kept = connections.acquire(decision.target().uri());
        if (kept != null || connecting.get() < maxConnecting) {
          new DirectRelay(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange, selector, kept).send(false);
          return true;
        }
      }
    }
    clientToProxyRequest.setAttribute(EXCHANGE, exchange);
    return super.handle(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback);
  }

  /**
   * Bodyless, idempotent (so a kept-alive connection the target closed meanwhile can be retried on a
   * new one), plain HTTP to the target, and HTTP/1 from the client (an HTTP/2 request of unknown length
   * may still carry a body).
   */
  static boolean isDirectlyRelayable(Request request, Target target) {
    String method = request.getMethod();
    if (!("GET".equals(method) || "HEAD".equals(method) || "OPTIONS".equals(method) || "DELETE".equals(method))) {
      return false;
    }
    if (!"http".equals(target.uri().getScheme())) {
      return false;
    }
    long length = request.getLength();
    if (length == 0) {
      return true;
    }
    HttpVersion version = request.getConnectionMetaData().getHttpVersion();
    return length < 0 && (version == HttpVersion.HTTP_1_1 || version == HttpVersion.HTTP_1_0)
        && !request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
  }

  /** A selector of the server connector the request came in on, or {@code null} if it has none. */
  private ManagedSelector selectorFor(Request clientToProxyRequest) {
    Connector connector = clientToProxyRequest.getConnectionMetaData().getConnector();
    ManagedSelector[] all = selectors.computeIfAbsent(connector, c -> c instanceof ServerConnector server
        ? server.getSelectorManager().getBeans(ManagedSelector.class).toArray(new ManagedSelector[0])
        : new ManagedSelector[0]);
    return switch (all.length) {
      case 0 -> null;
      case 1 -> all[0];
      default -> all[Math.floorMod(nextSelector.getAndIncrement(), all.length)];
    };
  }

  /** One request on the direct path, across a resend and a failover. */
  private final class DirectRelay implements TargetConnection.Relay {
    private final Request clientToProxyRequest;
    private final Response proxyToClientResponse;
    private final Callback proxyToClientCallback;
    private final Exchange exchange;
    private final ManagedSelector selector;
    private final String method;
    private final String pathQuery;
    private RequestHead requestHead;
    private TargetConnection kept;

    DirectRelay(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
        Exchange exchange, ManagedSelector selector, TargetConnection kept) {
      this.clientToProxyRequest = clientToProxyRequest;
      this.proxyToClientResponse = proxyToClientResponse;
      this.proxyToClientCallback = proxyToClientCallback;
      this.exchange = exchange;
      this.selector = selector;
      this.method = clientToProxyRequest.getMethod();
      this.pathQuery = upstreamPathQuery(clientToProxyRequest);
      this.kept = kept;
    }

    /** Sends to the exchange's current target, on a kept-alive connection unless {@code fresh}. */
    void send(boolean fresh) {
      RouteDecision decision = exchange.decision;
      if (!fresh) {
        requestHead = proxyToServerHead(clientToProxyRequest, decision, method, pathQuery);
      }
      URI origin = decision.target().uri();
      long silenceLimitMillis = upstreamTimeout.toMillis();
      boolean head = HttpMethod.HEAD.is(method);
      TargetConnection connection = kept != null ? kept : fresh ? null : connections.acquire(origin);
      kept = null;
      if (connection != null) {
        connection.send(requestHead, head, silenceLimitMillis, this);
        return;
      }
      // Connecting blocks (up to the connect timeout), so it is never done on the selector thread.
      int connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
      Executor executor = getServer().getThreadPool();
      connecting.incrementAndGet();
      executor.execute(() -> {
        TargetConnection opened;
        try {
          opened = connections.open(origin, connectTimeoutMillis, selector, getServer().getScheduler(), executor);
        } catch (IOException | RuntimeException e) {
          connecting.decrementAndGet();
          failed(e, false);
          return;
        }
        connecting.decrementAndGet();
        opened.send(requestHead, head, silenceLimitMillis, this);
      });
    }

    @Override
    public Response proxyToClientResponse() {
      return proxyToClientResponse;
    }

    @Override
    public void onHeaders(int status, HttpFields headers) {
      copyTargetResponse(clientToProxyRequest, proxyToClientResponse, exchange, status, headers);
    }

    @Override
    public void succeeded() {
      exchange.finish();
      if (getServer().getInvocationType() == InvocationType.NON_BLOCKING) {
        AffinityThreadPool.completing(proxyToClientCallback::succeeded);
      } else {
        proxyToClientCallback.succeeded();
      }
    }

    @Override
    public void failed(Throwable failure, boolean resend) {
      if (resend && !proxyToClientResponse.isCommitted()) {
        // The target closed this kept-alive connection while it sat idle, so it never saw the request:
        // once more on a new connection (to the same target; the client's pin has not failed).
        if (LOG.isDebugEnabled()) {
          LOG.debug("{} P2S kept-alive connection to {} was closed ({}), resending on a new one",
              requestId(clientToProxyRequest), exchange.decision.target().uri(), failure.toString());
        }
        proxyToClientResponse.reset();
        send(true);
        return;
      }
      if (failedOver(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange, failure)) {
        send(false);
      }
    }

    @Override
    public void clientFailed(Throwable failure) {
      exchange.finish();
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} P2C write failed: {}", requestId(clientToProxyRequest), failure.toString());
      }
      proxyToClientCallback.failed(failure);
    }
  }

  /** The target's status and end-to-end headers on the client's response, then the affinity cookies. */
  private void copyTargetResponse(Request clientToProxyRequest, Response proxyToClientResponse, Exchange exchange, int status, HttpFields targetHeaders) {
    proxyToClientResponse.setStatus(status);
    Set<String> connectionListed = Upstream.connectionListed(targetHeaders);
    HttpFields.Mutable headers = proxyToClientResponse.getHeaders();
    for (HttpField field : targetHeaders) {
      HttpHeader header = field.getHeader();
      if ((header != null && HOP_HEADERS.contains(header)) || header == HttpHeader.DATE
          || (!connectionListed.isEmpty() && connectionListed.contains(field.getLowerCaseName()))) {
        continue;
      }
      headers.add(field);
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P {} from {}", requestId(clientToProxyRequest), status, exchange.decision.target().id());
    }
    onTargetHeaders(exchange, targetHeaders, proxyToClientResponse);
  }

  /**
   * The request line and headers for the target: the client's end-to-end headers, then the balancer's
   * own, with the same values {@link #addProxyHeaders(Request, HttpFields.Mutable)} gives the other path.
   */
  private RequestHead proxyToServerHead(Request clientToProxyRequest, RouteDecision decision, String method, String pathQuery) {
    Forwarding forwarding = forwarding(clientToProxyRequest);
    HttpFields clientHeaders = clientToProxyRequest.getHeaders();
    Set<String> connectionListed = Upstream.connectionListed(clientHeaders);
    RequestHead head = new RequestHead(method, pathQuery);
    boolean host = false;
    StringBuilder via = null;
    StringBuilder forwarded = null;
    String forwardedFor = null;
    for (HttpField field : clientHeaders) {
      HttpHeader header = field.getHeader();
      if ((header != null && HOP_HEADERS.contains(header))
          || (!connectionListed.isEmpty() && connectionListed.contains(field.getLowerCaseName()))) {
        continue;
      }
      if (header == null) {
        if (!PREVIOUS_TARGET_HEADER.equalsIgnoreCase(field.getName())) {
          head.header(field);
        }
        continue;
      }
      switch (header) {
        case VIA -> via = Upstream.joinValues(via, field);
        case FORWARDED -> forwarded = Upstream.joinValues(forwarded, field);
        // The first one, as HttpFields.get reads it on the other path; all are replaced.
        case X_FORWARDED_FOR -> forwardedFor = forwardedFor == null ? field.getValue() : forwardedFor;
        case X_FORWARDED_PROTO -> { }
        case X_FORWARDED_HOST -> {
          if (forwarding.host == null) {
            head.header(field);
          }
        }
        default -> {
          host |= header == HttpHeader.HOST;
          head.header(field);
        }
      }
    }
    if (!host) {
      // An HTTP/1.0 client may send none; HTTP/1.1 requires one (RFC 9112 section 3.2).
      URI origin = decision.target().uri();
      head.header("Host", origin.getHost() + ":" + origin.getPort());
    }
    if (decision.previousTargetId() != null) {
      head.header(PREVIOUS_TARGET_HEADER, decision.previousTargetId());
    }
    head.header("Via", Upstream.joined(via, forwarding.via));
    head.header("Forwarded", Upstream.joined(forwarded, forwarding.forwarded));
    head.header("X-Forwarded-For", Upstream.forwardedFor(forwardedFor, forwarding.remote));
    head.header("X-Forwarded-Proto", forwarding.proto);
    if (forwarding.host != null) {
      head.header("X-Forwarded-Host", forwarding.host);
    }
    return head.end();
  }

  @Override
  protected HttpURI rewriteHttpURI(Request clientToProxyRequest) {
    Target target = exchange(clientToProxyRequest).decision.target();
    // Origin from configuration, path and query from the client: an absolute-form request line
    // naming another host cannot steer the balancer anywhere else.
    return HttpURI.build(target.uri()).pathQuery(upstreamPathQuery(clientToProxyRequest));
  }

  private static String upstreamPathQuery(Request clientToProxyRequest) {
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
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "-_.!~*'();:@&=+$,/".indexOf(c) >= 0
          || (i == query)
          || (inQuery && (c == '?' || c == '[' || c == ']'))
          || (c == '%' && i + 2 < pathQuery.length() && isHex(pathQuery.charAt(i + 1)) && isHex(pathQuery.charAt(i + 2)));
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

  private static boolean isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  @Override
  protected void copyRequestHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    super.copyRequestHeaders(clientToProxyRequest, proxyToServerRequest);
    String previous = exchange(clientToProxyRequest).decision.previousTargetId();
    proxyToServerRequest.headers(headers -> {
      // Only the balancer says where a client came from.
      headers.remove(PREVIOUS_TARGET_HEADER);
      if (previous != null) {
        headers.put(PREVIOUS_TARGET_HEADER, previous);
      }
    });
  }

  @Override
  protected void addProxyHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    proxyToServerRequest.headers(headers -> addProxyHeaders(clientToProxyRequest, headers));
  }

  private void addProxyHeaders(Request clientToProxyRequest, HttpFields.Mutable headers) {
    Forwarding forwarding = forwarding(clientToProxyRequest);
    Upstream.appendValue(headers, HttpHeader.VIA, forwarding.via);
    Upstream.appendValue(headers, HttpHeader.FORWARDED, forwarding.forwarded);
    Upstream.addForwardedFor(headers, forwarding.remote, forwarding.host, forwarding.proto);
  }

  /** What this hop adds to a request's forwarding headers. */
  private record Forwarding(String via, String forwarded, String remote, String host, String proto) {}

  private Forwarding forwarding(Request clientToProxyRequest) {
    // The same Via and Forwarded values as ProxyHandler's, without its per-request String.format
    // and stream joins (4 % of a core in a profile), plus the X-Forwarded-* trio.
    String protocol = clientToProxyRequest.getConnectionMetaData().getProtocol();
    String via = (protocol.regionMatches(true, 0, "HTTP/", 0, 5) ? protocol.substring(5) : protocol) + " " + getViaHost();
    String remote = Request.getRemoteAddr(clientToProxyRequest);
    String host = clientToProxyRequest.getHeaders().get(HttpHeader.HOST);
    String scheme = clientToProxyRequest.getHttpURI().getScheme();
    String forwardedProto = scheme != null ? scheme : clientToProxyRequest.isSecure() ? "https" : "http";
    String forwarded = Upstream.forwardedElement(Request.getLocalAddr(clientToProxyRequest), remote, host, forwardedProto);
    return new Forwarding(via, forwarded, remote, host, clientToProxyRequest.isSecure() ? "https" : "http");
  }

  @Override
  protected HttpField filterServerToProxyResponseField(HttpField serverToProxyResponseField) {
    // The balancer's own server writes Date; a second one from the target would be a duplicate.
    return serverToProxyResponseField.getHeader() == HttpHeader.DATE ? null : serverToProxyResponseField;
  }

  @Override
  protected org.eclipse.jetty.client.Response.CompleteListener newServerToProxyResponseListener(
      Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      Response proxyToClientResponse, Callback proxyToClientCallback) {
    return new BalancerResponseListener(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse, proxyToClientCallback);
  }

  @Override
  protected void onProxyToClientResponseComplete(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback) {
    exchange(clientToProxyRequest).finish();
    super.onProxyToClientResponseComplete(clientToProxyRequest, proxyToServerRequest, serverToProxyResponse, proxyToClientResponse, proxyToClientCallback);
  }

  @Override
  protected void onProxyToClientResponseFailure(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback, Throwable failure) {
    exchange(clientToProxyRequest).finish();
    super.onProxyToClientResponseFailure(clientToProxyRequest, proxyToServerRequest, serverToProxyResponse, proxyToClientResponse, proxyToClientCallback, failure);
  }

  @Override
  protected void onServerToProxyResponseFailure(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
      org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse, Callback proxyToClientCallback, Throwable failure) {
    if (failedOver(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange(clientToProxyRequest), failure)) {
      resend(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback);
    }
  }

  /**
   * After a target failed a request: counts it, then either moves the exchange to another target and
   * returns {@code true} (the caller sends the request again), or answers the client (503, 504 or
   * 502; or cuts the response short if it had begun) and returns {@code false}.
   */
  private boolean failedOver(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
      Exchange exchange, Throwable failure) {
    Target failed = exchange.decision.target();
    exchange.finish();
    failed.failed();
    boolean refused = Upstream.isConnectFailure(failure);
    boolean timedOut = !refused && (failure instanceof TimeoutException || failure instanceof SocketTimeoutException);
    onTargetFailure(clientToProxyRequest, failed, failure, refused);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P failure from {}: {}", requestId(clientToProxyRequest), failed.id(), failure.toString());
    }
    if (proxyToClientResponse.isCommitted()) {
      // Part of the answer is already with the client: all that can be done is to cut it short.
      proxyToClientCallback.failed(failure);
      return false;
    }
    // Whatever the failed target's headers put on the response so far goes (a Content-Length, cookies).
    proxyToClientResponse.reset();
    if (!timedOut && !exchange.retried && isRetryable(clientToProxyRequest)) {
      RouteDecision next = exchange.router.failover(exchange.decision, exchange.cookies, exchange.secure);
      if (next != null) {
        failovers.increment();
        exchange.retried = true;
        exchange.decision = next;
        exchange.finished = false;
        next.target().started();
        onStickinessBroken(clientToProxyRequest, next);
        return true;
      }
    }
    writeFailure(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange, refused, timedOut);
    return false;
  }

  private void writeFailure(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
      Exchange exchange, boolean refused, boolean timedOut) {
    if (refused) {
      noTarget.increment();
      writeNoTarget(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange.decision);
    } else if (timedOut) {
      gatewayTimeout.increment();
      writePlain(proxyToClientResponse, proxyToClientCallback, HttpStatus.GATEWAY_TIMEOUT_504,
          "504 Gateway Timeout: the target did not answer in time.\n", null);
    } else {
      badGateway.increment();
      writePlain(proxyToClientResponse, proxyToClientCallback, HttpStatus.BAD_GATEWAY_502,
          "502 Bad Gateway: the target's answer could not be used.\n", null);
    }
  }

  private void resend(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback) {
    HttpURI rewritten = rewriteHttpURI(clientToProxyRequest);
    org.eclipse.jetty.client.Request proxyToServerRequest = newProxyToServerRequest(clientToProxyRequest, rewritten);
    proxyToServerRequest.attribute(C2P_ATTRIBUTE, clientToProxyRequest).attribute(P2C_ATTRIBUTE, proxyToClientResponse);
    copyRequestHeaders(clientToProxyRequest, proxyToServerRequest);
    addProxyHeaders(clientToProxyRequest, proxyToServerRequest);
    sendProxyToServerRequest(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse, proxyToClientCallback);
  }

  /**
   * Hook: a target failed a request. By default a refused connection ejects the target at once (the
   * active health check brings it back); other failures are only counted.
   */
  protected void onTargetFailure(Request clientToProxyRequest, Target target, Throwable failure, boolean refused) {
    if (refused) {
      Router current = router.get();
      if (target.health().ejected(current.cookies().now(), "connection refused: " + failure.getMessage())) {
        LOG.warn("target {} ({}) refused a connection and was taken out of rotation", target.id(), target.uri());
      }
    }
  }

  /** Hook: a client's pin was moved to another target (the old one failed, went away or is draining). */
  protected void onStickinessBroken(Request clientToProxyRequest, RouteDecision decision) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} re-pinned from {} to {}", requestId(clientToProxyRequest), decision.previousTargetId(), decision.target().id());
    }
  }

  /** Hook: nothing can serve the request. Writes a short plain 503 with {@code Retry-After}. */
  protected void writeNoTarget(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback, RouteDecision decision) {
    String group = decision.group() == null ? "" : " in target group " + decision.group().name();
    writePlain(proxyToClientResponse, callback, HttpStatus.SERVICE_UNAVAILABLE_503,
        "503 Service Unavailable: no target" + group + " can take this request now. Try again shortly.\n", RETRY_AFTER_SECONDS);
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

  private static boolean isRetryable(Request request) {
    String method = request.getMethod().toUpperCase(Locale.ROOT);
    boolean idempotent = switch (method) {
      case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" -> true;
      default -> false;
    };
    boolean bodyless = request.getLength() == 0
        || (request.getLength() < 0 && request.getHeaders().get(HttpHeader.TRANSFER_ENCODING) == null);
    return idempotent && bodyless;
  }

  private static Exchange exchange(Request clientToProxyRequest) {
    return (Exchange) clientToProxyRequest.getAttribute(EXCHANGE);
  }

  /** One client request's routing state, across a failover. */
  private static final class Exchange {
    final Router router;
    final JettyCookies cookies;
    final boolean secure;
    volatile RouteDecision decision;
    volatile boolean retried;
    volatile boolean finished;

    Exchange(Router router, RouteDecision decision, JettyCookies cookies, boolean secure) {
      this.router = router;
      this.decision = decision;
      this.cookies = cookies;
      this.secure = secure;
    }

    /** Ends the current attempt's in-flight count, once. */
    void finish() {
      if (!finished) {
        finished = true;
        decision.target().finished();
      }
    }
  }

  /** Adds the affinity cookies once the target's headers are in, and notices the application cookie. */
  private class BalancerResponseListener extends ProxyResponseListener {
    private final Request clientToProxyRequest;
    private final Response proxyToClientResponse;

    BalancerResponseListener(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
        Response proxyToClientResponse, Callback proxyToClientCallback) {
      super(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse, proxyToClientCallback);
      this.clientToProxyRequest = clientToProxyRequest;
      this.proxyToClientResponse = proxyToClientResponse;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse) {
      super.onHeaders(serverToProxyResponse);
      onTargetHeaders(exchange(clientToProxyRequest), serverToProxyResponse.getHeaders(), proxyToClientResponse);
    }
  }

  /** The target answered: it is serving, and the client gets its affinity cookies (both paths). */
  private static void onTargetHeaders(Exchange exchange, HttpFields targetHeaders, Response proxyToClientResponse) {
    RouteDecision decision = exchange.decision;
    decision.target().health().served(exchange.router.cookies().now());
    JettyCookies.addAll(proxyToClientResponse, decision.setCookies());
    StickinessPolicy policy = decision.group().stickiness();
    if (policy.type() == StickinessPolicy.Type.APPLICATION && setsCookie(targetHeaders, policy.applicationCookie())) {
      List<SetCookie> pin = exchange.router.onResponse(decision, true, exchange.cookies, exchange.secure);
      JettyCookies.addAll(proxyToClientResponse, pin);
    }
  }

  static boolean setsCookie(HttpFields headers, String cookieName) {
    for (HttpField field : headers) {
      if (field.getHeader() == HttpHeader.SET_COOKIE) {
        String value = field.getValue();
        if (value != null && value.length() > cookieName.length()
            && value.startsWith(cookieName) && value.charAt(cookieName.length()) == '=') {
          // A Max-Age=0 deletion is the application ending its session, not starting one.
          String lower = value.toLowerCase(Locale.ROOT);
          if (!lower.contains("max-age=0")) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
