package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.Forwarder;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;
import org.eclipse.jetty.websocket.core.Configuration;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.WebSocketComponents;
import org.eclipse.jetty.websocket.core.client.CoreClientUpgradeRequest;
import org.eclipse.jetty.websocket.core.client.UpgradeListener;
import org.eclipse.jetty.websocket.core.client.WebSocketCoreClient;
import org.eclipse.jetty.websocket.core.exception.UpgradeException;
import org.eclipse.jetty.websocket.core.server.Handshaker;
import org.eclipse.jetty.websocket.core.server.ServerUpgradeRequest;
import org.eclipse.jetty.websocket.core.server.ServerUpgradeResponse;
import org.eclipse.jetty.websocket.core.server.WebSocketNegotiator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proxies WebSocket upgrades to the target the affinity cookies name, for the life of the
 * connection. Placed before {@link AffinityBalancer} (whose {@code ProxyHandler} cannot proxy
 * upgrades): it handles {@code GET} requests that ask for a WebSocket upgrade and returns
 * {@code false} for everything else.
 *
 * <p>The upgrade is an exchange like any HTTP request (core's {@link Attempt}: the same routing,
 * retry rule, ejection, cookies and 503; the same request headers, {@code Upstream.toTarget}), and the
 * target's upgrade is completed <em>before</em> the client's: if the target refuses the connection it
 * is ejected and the client fails over, and a client that cannot be served gets a plain 503/502
 * instead of a 101. The 101 carries the affinity cookies the decision sets. After that, frames are
 * relayed one at a time with Jetty's websocket-core in both directions: the next frame is demanded
 * from one side only once the other side has written the previous one, so a slow reader slows its
 * writer down instead of filling the balancer's memory.
 *
 * <p>Extension goes through the {@link AffinityBalancer}'s hooks, which upgrades call too.
 */
public class WebSocketProxy extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(WebSocketProxy.class);
  /** The smallest {@link #setMaxMessageBytes} limit: a control frame's largest payload (RFC 6455 section 5.5). */
  public static final int MIN_MAX_MESSAGE_BYTES = 125;

  private final AffinityBalancer balancer;
  private final Supplier<Router> router;
  private final Forwarder forwarder;
  private final Set<WebSocketTunnel> tunnels = ConcurrentHashMap.newKeySet();
  private final Handshaker handshaker = Handshaker.newInstance();
  private volatile int maxMessageBytes = 1024 * 1024;
  private volatile Duration idleTimeout = Duration.ofMinutes(5);
  private volatile Duration connectTimeout = Duration.ofSeconds(2);
  private volatile Duration upgradeTimeout = Duration.ofSeconds(15);
  private volatile Duration drainSweepInterval = Duration.ofSeconds(1);
  private final LongAdder upgrades = new LongAdder();
  private final LongAdder closedForDraining = new LongAdder();
  private WebSocketCoreClient balancerToTarget;
  // Clients for target groups whose connect timeout differs, by that timeout in milliseconds (a Jetty
  // client has one connect timeout): made at the first upgrade that needs one, kept until stop.
  /** Clients of groups with a connect timeout or TLS of their own, one per distinct pair. */
  private final Map<ClientSettings, WebSocketCoreClient> groupClients = new ConcurrentHashMap<>();

  private record ClientSettings(long connectTimeoutMillis, dev.affinity.tls.TargetTls tls) {}
  private WebSocketComponents components;
  private Scheduler.Task drainSweep;

  /**
   * @param balancer the balancer beside it, whose router (read at each upgrade, so a reload is seen
   *     at once), {@code Via} host and hooks the upgrades share
   */
  public WebSocketProxy(AffinityBalancer balancer) {
    this.balancer = requireNonNull(balancer, "balancer");
    this.router = balancer::router;
    this.forwarder = new Forwarder(router);
  }

  /** Largest message (all fragments together) relayed either way; larger closes both sides with 1009. Default 1 MiB. */
  public void setMaxMessageBytes(int maxMessageBytes) {
    if (maxMessageBytes < MIN_MAX_MESSAGE_BYTES) {
      throw new IllegalArgumentException("websocket maxMessageBytes must be at least " + MIN_MAX_MESSAGE_BYTES + ", got " + maxMessageBytes);
    }
    this.maxMessageBytes = maxMessageBytes;
  }

  public int getMaxMessageBytes() {
    return maxMessageBytes;
  }

  /** How long either side of a WebSocket may be silent before both are closed with 1001. Default 5 minutes. */
  public void setIdleTimeout(Duration idleTimeout) {
    this.idleTimeout = positive(idleTimeout, "websocket idleTimeout");
  }

  public Duration getIdleTimeout() {
    return idleTimeout;
  }

  /** How long connecting to a target may take before it counts as refused. Default 2 s; set before start. */
  public void setConnectTimeout(Duration connectTimeout) {
    this.connectTimeout = positive(connectTimeout, "websocket connectTimeout");
  }

  /** How long the target may take to answer the upgrade before the client gets 504. Default 15 s. */
  public void setUpgradeTimeout(Duration upgradeTimeout) {
    this.upgradeTimeout = positive(upgradeTimeout, "websocket upgradeTimeout");
  }

  /** How often WebSockets to targets whose deregistration delay ran out are looked for. Default 1 s; set before start. */
  public void setDrainSweepInterval(Duration interval) {
    this.drainSweepInterval = positive(interval, "websocket drainSweepInterval");
  }

  private static Duration positive(Duration d, String option) {
    requireNonNull(d, option);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(option + " must be positive, got " + d);
    }
    return d;
  }

  /** WebSocket connections relayed now, across all targets. */
  public int openConnections() {
    return tunnels.size();
  }

  public long upgrades() {
    return upgrades.sum();
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

  public long closedForDraining() {
    return closedForDraining.sum();
  }

  @Override
  protected void doStart() throws Exception {
    // Jetty's default pool (8 threads while idle): see AffinityBalancer.newHttpClient for why not 2 yet.
    QueuedThreadPool threads = new QueuedThreadPool();
    threads.setName("affinity-ws-client");
    components = new WebSocketComponents(null, null, null, null, null, threads);
    balancerToTarget = new WebSocketCoreClient(newUpgradeHttpClient(threads, connectTimeout.toMillis()), components);
    addBean(balancerToTarget, true);
    super.doStart();
    scheduleDrainSweep();
  }

  private static HttpClient newUpgradeHttpClient(java.util.concurrent.Executor threads, long connectTimeoutMillis) {
    HttpClient http = new HttpClient();
    http.setExecutor(threads);
    http.setFollowRedirects(false);
    // Cookies travel in the client's own Cookie header; a shared store would leak them between clients.
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setConnectTimeout(connectTimeoutMillis);
    http.setRequestBufferSize(32 * 1024);
    http.setResponseBufferSize(32 * 1024);
    return http;
  }

  /** The client that connects to {@code group}'s targets: its own when the group sets a connect timeout or TLS of its own. */
  private WebSocketCoreClient clientFor(TargetGroup group) {
    Duration own = group.connectTimeout();
    if ((own == null || own.equals(connectTimeout)) && group.tls() == null) {
      return balancerToTarget;
    }
    ClientSettings settings = new ClientSettings((own != null ? own : connectTimeout).toMillis(), group.tls());
    return groupClients.computeIfAbsent(settings, s -> {
      HttpClient http = newUpgradeHttpClient(balancerToTarget.getHttpClient().getExecutor(), s.connectTimeoutMillis());
      if (s.tls() != null) {
        // The balancer's contexts: one poller and one TLS session cache per set of targets, whoever connects.
        http.setSslContextFactory(balancer.targetTls().contextFor(s.tls()));
      }
      WebSocketCoreClient client = new WebSocketCoreClient(http, components);
      addBean(client, true);
      try {
        if (!client.isStarted()) {
          client.start();
        }
      } catch (Exception e) {
        throw new IllegalStateException("cannot start the WebSocket client with " + s + ": " + e, e);
      }
      return client;
    });
  }

  @Override
  protected void doStop() throws Exception {
    Scheduler.Task task = drainSweep;
    if (task != null) {
      task.cancel();
    }
    closeAll(org.eclipse.jetty.websocket.core.CloseStatus.SHUTDOWN, "the balancer is shutting down");
    super.doStop();
    removeBean(balancerToTarget);
    for (WebSocketCoreClient client : groupClients.values()) {
      removeBean(client);
    }
    groupClients.clear();
  }

  /**
   * Closes every relayed WebSocket, both sides, with {@code code} and {@code reason}: a graceful stop
   * does it (1001 Going Away) when the listeners close, so that clients reconnect elsewhere.
   *
   * @return how many were still open
   */
  int closeAll(int code, String reason) {
    int closed = 0;
    for (WebSocketTunnel tunnel : tunnels) {
      if (tunnel.closeBoth(code, reason)) {
        closed++;
      }
    }
    return closed;
  }

  private void scheduleDrainSweep() {
    Scheduler scheduler = getServer() == null ? null : getServer().getScheduler();
    if (scheduler == null || !isRunning()) {
      return;
    }
    drainSweep = scheduler.schedule(() -> {
      try {
        closeDrainedConnections();
      } catch (Throwable x) {
        LOG.warn("WebSocket drain sweep failed", x);
      }
      scheduleDrainSweep();
    }, drainSweepInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Closes, with 1001, the WebSockets to draining targets whose group's deregistration delay has run
   * out (by the router's clock). Runs periodically; public so that it can be run at once.
   *
   * @return how many connections were closed
   */
  public int closeDrainedConnections() {
    Router current = router.get();
    Instant now = current.cookies().now();
    int closed = 0;
    for (WebSocketTunnel tunnel : tunnels) {
      Target target = tunnel.target();
      Instant since = target.drainingSince();
      if (since == null) {
        continue;
      }
      TargetGroup group = current.groupOf(target);
      Duration delay = (group != null ? group : tunnel.group()).deregistrationDelay();
      if (!now.isBefore(since.plus(delay)) && tunnel.closeBoth(org.eclipse.jetty.websocket.core.CloseStatus.SHUTDOWN,
          "target " + target.id() + " is draining")) {
        closedForDraining.increment();
        closed++;
      }
    }
    return closed;
  }

  /** Non-blocking: the upgrade connects to the target asynchronously and answers from its callback. */
  @Override
  public InvocationType getInvocationType() {
    return InvocationType.NON_BLOCKING;
  }

  @Override
  public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback) {
    if (!isWebSocketUpgrade(clientToProxyRequest)) {
      return false;
    }
    if (!isUriSafe(clientToProxyRequest)) {
      // Jetty's server accepts a query with '|' or '>' or a stray '%' that its own WebSocket handshake
      // then cannot complete: refused before any target is contacted or counted.
      AffinityBalancer.writePlain(proxyToClientResponse, proxyToClientCallback, HttpStatus.BAD_REQUEST_400,
          "400 Bad Request: the WebSocket upgrade's path or query is not a valid URI.\n", null);
      return true;
    }
    ClientOrigin relayed = balancer.relayedOrigin(clientToProxyRequest);
    boolean secure = relayed != null ? relayed.isSecure() : clientToProxyRequest.isSecure();
    ExchangeNote note = ExchangeNote.start(clientToProxyRequest, relayed);
    JettyCookies view = JettyCookies.of(clientToProxyRequest, relayed);
    // The same listener rules as any request: an upgrade can be redirected, answered or refused by them.
    Attempt attempt = forwarder.begin(view, view, JettyCookies.listener(clientToProxyRequest), secure, true);
    note.decided(attempt);
    if (attempt.target() == null) {
      RuleHeaders.apply(attempt, proxyToClientResponse);
      balancer.answer(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, attempt.unavailable());
      return true;
    }
    if (attempt.movedClient()) {
      balancer.onStickinessBroken(clientToProxyRequest, attempt.decision());
    }
    connectToTarget(new Upgrade(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, relayed, note), attempt);
    return true;
  }

  /**
   * A WebSocket handshake, version 13: an HTTP/1.1 {@code GET} with {@code Upgrade: websocket}, or an
   * HTTP/2 extended {@code CONNECT} with {@code :protocol websocket} (RFC 8441), which Jetty's
   * handshaker completes on the client's stream as it completes the HTTP/1.1 one on its connection.
   */
  static boolean isWebSocketUpgrade(Request request) {
    if (!"13".equals(request.getHeaders().get(HttpHeader.SEC_WEBSOCKET_VERSION))) {
      return false;
    }
    if (HttpMethod.CONNECT.is(request.getMethod())) {
      // The :protocol pseudo-header is not a field: Jetty hands it over as the stream's tunnel protocol.
      org.eclipse.jetty.server.TunnelSupport tunnel = request.getTunnelSupport();
      return request.getConnectionMetaData().getHttpVersion() == org.eclipse.jetty.http.HttpVersion.HTTP_2
          && tunnel != null && "websocket".equals(tunnel.getProtocol());
    }
    if (!HttpMethod.GET.is(request.getMethod())) {
      return false;
    }
    for (String value : request.getHeaders().getCSV(HttpHeader.UPGRADE, false)) {
      if ("websocket".equalsIgnoreCase(value)) {
        return true;
      }
    }
    return false;
  }

  private static boolean isUriSafe(Request request) {
    try {
      request.getHttpURI().toURI();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private void connectToTarget(Upgrade upgrade, Attempt attempt) {
    Request clientToProxyRequest = upgrade.clientToProxyRequest;
    WebSocketTunnel tunnel = new WebSocketTunnel(this, attempt, maxMessageBytes);
    upgrade.note().sending(attempt);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} C2P upgrade {} -> {}", requestId(clientToProxyRequest), clientToProxyRequest.getHttpURI().getPathQuery(), attempt);
    }
    try {
      // Everything from here to the connect is inside the try: whatever fails ends the attempt (and
      // its in-flight count) through onTargetUpgradeFailure, never leaves it raised.
      WebSocketCoreClient client = clientFor(attempt.group());
      CoreClientUpgradeRequest proxyToServerRequest = CoreClientUpgradeRequest.from(client,
          webSocketUri(attempt.target(), clientToProxyRequest), tunnel.targetSide());
      // A group's own upstream timeout bounds the target's silence on the upgrade too.
      Duration groupTimeout = attempt.group().upstreamTimeout();
      Duration answerWithin = groupTimeout != null && groupTimeout.compareTo(upgradeTimeout) < 0 ? groupTimeout : upgradeTimeout;
      proxyToServerRequest.timeout(answerWithin.toMillis(), TimeUnit.MILLISECONDS);
      proxyToServerRequest.setConfiguration(sessionConfiguration());
      proxyToServerRequest.headers(headers -> Upstream.toTarget(clientToProxyRequest, upgrade.relayed, upgrade.note().trace, attempt,
          balancer.getViaHost(), true, headers::add));
      List<String> subProtocols = clientToProxyRequest.getHeaders().getCSV(HttpHeader.SEC_WEBSOCKET_SUBPROTOCOL, true);
      if (!subProtocols.isEmpty()) {
        proxyToServerRequest.setSubProtocols(subProtocols);
      }
      proxyToServerRequest.addListener(new UpgradeListener() {
        @Override
        public void onHandshakeResponse(org.eclipse.jetty.client.Request request, org.eclipse.jetty.client.Response serverToProxyResponse) {
          upgrade.note().answered(serverToProxyResponse.getStatus());
          tunnel.serverToProxyHeaders(serverToProxyResponse.getHeaders());
        }
      });
      client.connect(proxyToServerRequest).whenComplete((session, failure) -> {
        if (failure == null) {
          upgradeClient(upgrade, tunnel, session);
        } else {
          onTargetUpgradeFailure(upgrade, tunnel, failure);
        }
      });
    } catch (Throwable x) {
      onTargetUpgradeFailure(upgrade, tunnel, x);
    }
  }

  /** The target accepted: now answer the client with 101 and join the two sessions. */
  private void upgradeClient(Upgrade upgrade, WebSocketTunnel tunnel, CoreSession proxyToServerSession) {
    Attempt attempt = tunnel.attempt();
    WebSocketNegotiator negotiator = new WebSocketNegotiator.AbstractNegotiator() {
      @Override
      public org.eclipse.jetty.websocket.core.FrameHandler negotiate(ServerUpgradeRequest request, ServerUpgradeResponse proxyToClientResponse,
          Callback callback) {
        proxyToClientResponse.setAcceptedSubProtocol(proxyToServerSession.getNegotiatedSubProtocol());
        // Frames are relayed as they are: no compression on either hop.
        proxyToClientResponse.setExtensions(List.of());
        HttpFields serverHeaders = tunnel.serverToProxyHeaders();
        if (serverHeaders == null) {
          serverHeaders = HttpFields.EMPTY;
        }
        // The target's own cookies (a session it started on the upgrade) reach the client, then the balancer's.
        for (HttpField field : serverHeaders) {
          if (field.getHeader() == HttpHeader.SET_COOKIE) {
            proxyToClientResponse.getHeaders().add(field);
          }
        }
        JettyCookies.addPins(proxyToClientResponse, attempt, attempt.answered(HttpStatus.SWITCHING_PROTOCOLS_101, JettyCookies.answerCookies(attempt, serverHeaders)));
        return tunnel.clientSide();
      }
    };
    Callback upgraded = Callback.from(upgrade.proxyToClientCallback::succeeded, x -> {
      tunnel.clientUpgradeFailed(x);
      upgrade.proxyToClientCallback.failed(x);
    });
    try {
      if (!handshaker.upgradeRequest(negotiator, upgrade.clientToProxyRequest, upgrade.proxyToClientResponse, upgraded, components, sessionConfiguration())) {
        tunnel.clientUpgradeFailed(new IllegalStateException("the client's upgrade request was not valid"));
        AffinityBalancer.writePlain(upgrade.proxyToClientResponse, upgrade.proxyToClientCallback, HttpStatus.BAD_REQUEST_400,
            "400 Bad Request: not a valid WebSocket upgrade.\n", null);
        return;
      }
      upgrades.increment();
    } catch (Throwable x) {
      tunnel.clientUpgradeFailed(x);
      if (!upgrade.proxyToClientResponse.isCommitted()) {
        AffinityBalancer.writePlain(upgrade.proxyToClientResponse, upgrade.proxyToClientCallback, HttpStatus.BAD_REQUEST_400,
            "400 Bad Request: the WebSocket upgrade could not be completed.\n", null);
      } else {
        upgrade.proxyToClientCallback.failed(x);
      }
    }
  }

  /** The target did not upgrade: core's retry rule decides, as for any request. */
  private void onTargetUpgradeFailure(Upgrade upgrade, WebSocketTunnel tunnel, Throwable failure) {
    Attempt attempt = tunnel.attempt();
    tunnel.targetUpgradeFailed();
    int status = upgradeStatus(failure);
    // Nothing of a refused upgrade's answer is relayed, so no answer byte counts as received here.
    Attempt.Failure classified = status > 0 ? Attempt.Failure.upgradeRefused(status) : Upstream.classify(failure, true, false);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P upgrade failure from {} ({}): {}", requestId(upgrade.clientToProxyRequest), attempt.target().id(), classified,
          failure.toString());
    }
    Attempt.Next next = attempt.failed(classified, upgrade.proxyToClientResponse.isCommitted());
    balancer.onTargetFailure(upgrade.clientToProxyRequest, attempt.target(), failure, classified.isRefused());
    switch (next.action()) {
      case RETRY -> {
        Attempt retry = next.attempt();
        if (retry.target() != attempt.target()) {
          balancer.onStickinessBroken(upgrade.clientToProxyRequest, retry.decision());
        }
        connectToTarget(upgrade, retry);
      }
      case ANSWER -> balancer.answer(upgrade.clientToProxyRequest, upgrade.proxyToClientResponse, upgrade.proxyToClientCallback, next);
      default -> upgrade.proxyToClientCallback.failed(failure);
    }
  }

  /** Settings for both sessions of a connection, read afresh for each. */
  private Configuration.ConfigurationCustomizer sessionConfiguration() {
    Configuration.ConfigurationCustomizer c = new Configuration.ConfigurationCustomizer();
    c.setIdleTimeout(idleTimeout);
    // A frame can never be larger than the largest message; the relay counts messages itself.
    c.setMaxFrameSize(maxMessageBytes);
    c.setMaxTextMessageSize(maxMessageBytes);
    c.setMaxBinaryMessageSize(maxMessageBytes);
    c.setAutoFragment(true);
    c.setInputBufferSize(16 * 1024);
    c.setOutputBufferSize(16 * 1024);
    return c;
  }

  void opened(WebSocketTunnel tunnel) {
    tunnels.add(tunnel);
  }

  void closed(WebSocketTunnel tunnel) {
    tunnels.remove(tunnel);
  }

  /**
   * Origin from configuration, path and query from the client (made safe for {@code java.net.URI},
   * as on the HTTP paths): nothing else can be reached.
   */
  static URI webSocketUri(Target target, Request clientToProxyRequest) {
    URI base = target.uri();
    String scheme = "https".equalsIgnoreCase(base.getScheme()) ? "wss" : "ws";
    return URI.create(scheme + "://" + base.getRawAuthority() + AffinityBalancer.upstreamPathQuery(clientToProxyRequest));
  }

  private static int upgradeStatus(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof UpgradeException u && u.getResponseStatusCode() > 0) {
        return u.getResponseStatusCode();
      }
    }
    return 0;
  }

  static String requestId(Request request) {
    return String.valueOf(System.identityHashCode(request));
  }

  /** One client's upgrade, across its attempts. */
  /** One upgrade across its attempts; {@code relayed} is the client as a trusted proxy described it, else {@code null}. */
  private record Upgrade(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback, ClientOrigin relayed,
      ExchangeNote note) {}
}
