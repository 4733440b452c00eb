package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 * <p>The upgrade is routed exactly like an HTTP request ({@link Router#route}), and the target's
 * upgrade is completed <em>before</em> the client's: if the target refuses the connection it is
 * ejected and the client fails over once, and a client that cannot be served gets a plain 503/502
 * instead of a 101. The 101 carries the affinity cookies the decision sets. After that, frames are
 * relayed one at a time with Jetty's websocket-core in both directions: the next frame is demanded
 * from one side only once the other side has written the previous one, so a slow reader slows its
 * writer down instead of filling the balancer's memory.
 *
 * <p>Extension goes through protected hooks with one job each: {@link #onTargetFailure},
 * {@link #onStickinessBroken} and {@link #writeNoTarget}.
 */
public class WebSocketProxy extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(WebSocketProxy.class);
  private static final String RETRY_AFTER_SECONDS = "5";
  /** Request headers the balancer sets itself, or that belong to one hop of the handshake. */
  private static final Set<String> NOT_FORWARDED = Set.of(
      "connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "proxy-connection",
      "transfer-encoding", "te", "trailer", "upgrade", "content-length",
      "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept",
      "sec-websocket-protocol", AffinityBalancer.PREVIOUS_TARGET_HEADER.toLowerCase(Locale.ROOT));

  private final Supplier<Router> router;
  private final Set<WebSocketTunnel> tunnels = ConcurrentHashMap.newKeySet();
  private final Handshaker handshaker = Handshaker.newInstance();
  private volatile int maxMessageBytes = 1024 * 1024;
  private volatile Duration idleTimeout = Duration.ofMinutes(5);
  private volatile Duration connectTimeout = Duration.ofSeconds(2);
  private volatile Duration upgradeTimeout = Duration.ofSeconds(15);
  private volatile Duration drainSweepInterval = Duration.ofSeconds(1);
  private final LongAdder upgrades = new LongAdder();
  private final LongAdder failovers = new LongAdder();
  private final LongAdder noTarget = new LongAdder();
  private final LongAdder badGateway = new LongAdder();
  private final LongAdder closedForDraining = new LongAdder();
  private WebSocketCoreClient balancerToTarget;
  private WebSocketComponents components;
  private Scheduler.Task drainSweep;

  /** @param router where upgrades go; read at each upgrade, so a reload is seen at once */
  public WebSocketProxy(Supplier<Router> router) {
    this.router = requireNonNull(router, "router");
  }

  /** Largest message (all fragments together) relayed either way; larger closes both sides with 1009. Default 1 MiB. */
  public void setMaxMessageBytes(int maxMessageBytes) {
    if (maxMessageBytes < 125) {
      throw new IllegalArgumentException("websocket maxMessageBytes must be at least 125, got " + maxMessageBytes);
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
    return failovers.sum();
  }

  public long noTargetResponses() {
    return noTarget.sum();
  }

  public long badGatewayResponses() {
    return badGateway.sum();
  }

  public long closedForDraining() {
    return closedForDraining.sum();
  }

  @Override
  protected void doStart() throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool();
    threads.setName("affinity-ws-client");
    HttpClient http = new HttpClient();
    http.setExecutor(threads);
    http.setFollowRedirects(false);
    // Cookies travel in the client's own Cookie header; a shared store would leak them between clients.
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setConnectTimeout(connectTimeout.toMillis());
    http.setRequestBufferSize(32 * 1024);
    http.setResponseBufferSize(32 * 1024);
    components = new WebSocketComponents(null, null, null, null, null, threads);
    balancerToTarget = new WebSocketCoreClient(http, components);
    addBean(balancerToTarget, true);
    super.doStart();
    scheduleDrainSweep();
  }

  @Override
  protected void doStop() throws Exception {
    Scheduler.Task task = drainSweep;
    if (task != null) {
      task.cancel();
    }
    for (WebSocketTunnel tunnel : tunnels) {
      tunnel.closeBoth(org.eclipse.jetty.websocket.core.CloseStatus.SHUTDOWN, "balancer is shutting down");
    }
    super.doStop();
    removeBean(balancerToTarget);
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
    Router current = router.get();
    JettyCookies cookies = JettyCookies.of(clientToProxyRequest);
    boolean secure = clientToProxyRequest.isSecure();
    RouteDecision decision = current.route(cookies, secure);
    if (decision.target() == null) {
      noTarget.increment();
      writeNoTarget(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, decision);
      return true;
    }
    if (decision.outcome() == RouteDecision.Outcome.REPIN && decision.previousTargetId() != null) {
      onStickinessBroken(clientToProxyRequest, decision);
    }
    Upgrade upgrade = new Upgrade(current, cookies, secure, clientToProxyRequest, proxyToClientResponse, proxyToClientCallback);
    connectToTarget(upgrade, decision);
    return true;
  }

  /** An HTTP/1.1 WebSocket handshake ({@code GET}, {@code Upgrade: websocket}, version 13). */
  static boolean isWebSocketUpgrade(Request request) {
    if (!HttpMethod.GET.is(request.getMethod()) || !"13".equals(request.getHeaders().get(HttpHeader.SEC_WEBSOCKET_VERSION))) {
      return false;
    }
    for (String value : request.getHeaders().getCSV(HttpHeader.UPGRADE, false)) {
      if ("websocket".equalsIgnoreCase(value)) {
        return true;
      }
    }
    return false;
  }

  private void connectToTarget(Upgrade upgrade, RouteDecision decision) {
    Target target = decision.target();
    target.started();
    WebSocketTunnel tunnel = new WebSocketTunnel(this, decision, maxMessageBytes);
    URI uri = webSocketUri(target, upgrade.clientToProxyRequest);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} C2P upgrade {} -> {} ({})", requestId(upgrade.clientToProxyRequest), upgrade.clientToProxyRequest.getHttpURI().getPathQuery(),
          target.id(), decision);
    }
    CoreClientUpgradeRequest proxyToServerRequest = CoreClientUpgradeRequest.from(balancerToTarget, uri, tunnel.targetSide());
    proxyToServerRequest.timeout(upgradeTimeout.toMillis(), TimeUnit.MILLISECONDS);
    proxyToServerRequest.setConfiguration(sessionConfiguration());
    copyRequestHeaders(upgrade.clientToProxyRequest, proxyToServerRequest, decision);
    proxyToServerRequest.addListener(new UpgradeListener() {
      @Override
      public void onHandshakeResponse(org.eclipse.jetty.client.Request request, org.eclipse.jetty.client.Response serverToProxyResponse) {
        tunnel.serverToProxyHeaders(serverToProxyResponse.getHeaders());
      }
    });
    try {
      balancerToTarget.connect(proxyToServerRequest).whenComplete((session, failure) -> {
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

  /** Copies the client's headers (cookies included) and adds the forwarding headers, as the HTTP path does. */
  protected void copyRequestHeaders(Request clientToProxyRequest, CoreClientUpgradeRequest proxyToServerRequest, RouteDecision decision) {
    HttpFields clientHeaders = clientToProxyRequest.getHeaders();
    Set<String> connectionListed = Upstream.connectionListed(clientHeaders);
    String remote = Request.getRemoteAddr(clientToProxyRequest);
    String local = Request.getLocalAddr(clientToProxyRequest);
    String host = clientHeaders.get(HttpHeader.HOST);
    String proto = clientToProxyRequest.isSecure() ? "https" : "http";
    String previous = decision.previousTargetId();
    proxyToServerRequest.headers(headers -> {
      for (HttpField field : clientHeaders) {
        String lower = field.getLowerCaseName();
        if (!NOT_FORWARDED.contains(lower) && !connectionListed.contains(lower)) {
          headers.add(field);
        }
      }
      if (previous != null) {
        headers.put(AffinityBalancer.PREVIOUS_TARGET_HEADER, previous);
      }
      Upstream.addForwardedFor(headers, remote, host, proto);
      // The same element and joining as the HTTP paths (RFC 7239: quoted only where a value needs it).
      Upstream.appendValue(headers, HttpHeader.FORWARDED, Upstream.forwardedElement(local, remote, host, proto));
    });
    List<String> subProtocols = clientHeaders.getCSV(HttpHeader.SEC_WEBSOCKET_SUBPROTOCOL, true);
    if (!subProtocols.isEmpty()) {
      proxyToServerRequest.setSubProtocols(subProtocols);
    }
  }

  /** The target accepted: now answer the client with 101 and join the two sessions. */
  private void upgradeClient(Upgrade upgrade, WebSocketTunnel tunnel, CoreSession proxyToServerSession) {
    RouteDecision decision = tunnel.decision();
    decision.target().health().served(upgrade.router.cookies().now());
    WebSocketNegotiator negotiator = new WebSocketNegotiator.AbstractNegotiator() {
      @Override
      public org.eclipse.jetty.websocket.core.FrameHandler negotiate(ServerUpgradeRequest request, ServerUpgradeResponse proxyToClientResponse,
          Callback callback) {
        proxyToClientResponse.setAcceptedSubProtocol(proxyToServerSession.getNegotiatedSubProtocol());
        // Frames are relayed as they are: no compression on either hop.
        proxyToClientResponse.setExtensions(List.of());
        HttpFields serverHeaders = tunnel.serverToProxyHeaders();
        boolean setsApplicationCookie = false;
        if (serverHeaders != null) {
          for (HttpField field : serverHeaders) {
            if (field.getHeader() == HttpHeader.SET_COOKIE) {
              proxyToClientResponse.getHeaders().add(field);
            }
          }
          StickinessPolicy policy = decision.group().stickiness();
          setsApplicationCookie = policy.type() == StickinessPolicy.Type.APPLICATION
              && AffinityBalancer.setsCookie(serverHeaders, policy.applicationCookie());
        }
        JettyCookies.addAll(proxyToClientResponse, decision.setCookies());
        if (setsApplicationCookie) {
          List<SetCookie> pin = upgrade.router.onResponse(decision, true, upgrade.cookies, upgrade.secure);
          JettyCookies.addAll(proxyToClientResponse, pin);
        }
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

  private void onTargetUpgradeFailure(Upgrade upgrade, WebSocketTunnel tunnel, Throwable failure) {
    RouteDecision decision = tunnel.decision();
    Target failed = decision.target();
    tunnel.targetUpgradeFailed();
    failed.failed();
    boolean refused = Upstream.isConnectFailure(failure);
    onTargetFailure(upgrade.clientToProxyRequest, failed, failure, refused);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} S2P upgrade failure from {}: {}", requestId(upgrade.clientToProxyRequest), failed.id(), failure.toString());
    }
    if (refused && !upgrade.retried) {
      RouteDecision next = upgrade.router.failover(decision, upgrade.cookies, upgrade.secure);
      if (next != null) {
        upgrade.retried = true;
        failovers.increment();
        onStickinessBroken(upgrade.clientToProxyRequest, next);
        connectToTarget(upgrade, next);
        return;
      }
    }
    Response response = upgrade.proxyToClientResponse;
    Callback callback = upgrade.proxyToClientCallback;
    if (refused) {
      noTarget.increment();
      writeNoTarget(upgrade.clientToProxyRequest, response, callback, decision);
      return;
    }
    badGateway.increment();
    int status = upgradeStatus(failure);
    if (status >= 400 && status < 500) {
      // The application turned the upgrade down (not authorised, no such endpoint): say so.
      AffinityBalancer.writePlain(response, callback, status, status + " " + HttpStatus.getMessage(status)
          + ": the target refused the WebSocket upgrade.\n", null);
    } else if (rootCause(failure) instanceof TimeoutException) {
      AffinityBalancer.writePlain(response, callback, HttpStatus.GATEWAY_TIMEOUT_504,
          "504 Gateway Timeout: the target did not answer the WebSocket upgrade in time.\n", null);
    } else {
      AffinityBalancer.writePlain(response, callback, HttpStatus.BAD_GATEWAY_502,
          "502 Bad Gateway: the target's answer to the WebSocket upgrade could not be used.\n", null);
    }
  }

  /**
   * Hook: a target failed an upgrade. By default a refused connection ejects the target at once (the
   * active health check brings it back); other failures are only counted.
   */
  protected void onTargetFailure(Request clientToProxyRequest, Target target, Throwable failure, boolean refused) {
    if (refused) {
      if (target.health().ejected(router.get().cookies().now(), "connection refused: " + rootCause(failure).getMessage())) {
        LOG.warn("target {} ({}) refused a WebSocket connection and was taken out of rotation", target.id(), target.uri());
      }
    }
  }

  /** Hook: a client's pin was moved to another target (the old one failed, went away or is draining). */
  protected void onStickinessBroken(Request clientToProxyRequest, RouteDecision decision) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} WebSocket re-pinned from {} to {}", requestId(clientToProxyRequest), decision.previousTargetId(), decision.target().id());
    }
  }

  /** Hook: nothing can take the upgrade. Writes a short plain 503 with {@code Retry-After}. */
  protected void writeNoTarget(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback, RouteDecision decision) {
    String group = decision.group() == null ? "" : " in target group " + decision.group().name();
    AffinityBalancer.writePlain(proxyToClientResponse, callback, HttpStatus.SERVICE_UNAVAILABLE_503,
        "503 Service Unavailable: no target" + group + " can take this WebSocket now. Try again shortly.\n", RETRY_AFTER_SECONDS);
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

  private static URI webSocketUri(Target target, Request clientToProxyRequest) {
    URI base = target.uri();
    String scheme = "https".equalsIgnoreCase(base.getScheme()) ? "wss" : "ws";
    String pathQuery = clientToProxyRequest.getHttpURI().getPathQuery();
    // Origin from configuration, path and query from the client: nothing else can be reached.
    return URI.create(scheme + "://" + base.getRawAuthority() + (pathQuery == null || pathQuery.isEmpty() ? "/" : pathQuery));
  }

  private static int upgradeStatus(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof UpgradeException u && u.getResponseStatusCode() > 0) {
        return u.getResponseStatusCode();
      }
    }
    return 0;
  }

  private static Throwable rootCause(Throwable failure) {
    Throwable t = failure;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  static String requestId(Request request) {
    return String.valueOf(System.identityHashCode(request));
  }

  /** One client's upgrade, across a failover. */
  private static final class Upgrade {
    final Router router;
    final JettyCookies cookies;
    final boolean secure;
    final Request clientToProxyRequest;
    final Response proxyToClientResponse;
    final Callback proxyToClientCallback;
    volatile boolean retried;

    Upgrade(Router router, JettyCookies cookies, boolean secure, Request clientToProxyRequest, Response proxyToClientResponse,
        Callback proxyToClientCallback) {
      this.router = router;
      this.cookies = cookies;
      this.secure = secure;
      this.clientToProxyRequest = clientToProxyRequest;
      this.proxyToClientResponse = proxyToClientResponse;
      this.proxyToClientCallback = proxyToClientCallback;
    }
  }
}
