package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.TrustedProxies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.observe.ExchangeObserver;
import java.net.URI;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.HTTP2Cipher;
import org.eclipse.jetty.http2.WindowRateControl;
import org.eclipse.jetty.http2.server.AbstractHTTP2ServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A ready-to-run balancer: a Jetty {@link Server} with its {@link ListenerSpec}s (plain HTTP/1.1 and h2c,
 * HTTPS with h2 over ALPN and certificates reloaded as their files change, redirects to HTTPS), the admin endpoints, the
 * {@link AffinityBalancer} and its {@link HealthChecker}, all owned by the server's lifecycle. Used
 * by the standalone launcher, the demo and the tests; embedders who already have a server add
 * {@link AffinityBalancer} to it directly.
 */
public final class AffinityServer {
  /**
   * Frames per second and HTTP/2 connection that do no work for the server (a {@code RST_STREAM}, an
   * empty {@code DATA} or {@code SETTINGS}, a {@code PING}, a {@code PRIORITY}...) before the connection
   * is closed with {@code GOAWAY ENHANCE_YOUR_CALM}: the defence against rapid reset (CVE-2023-44487),
   * where a client opens and cancels streams in a loop so that the server starts work it never finishes.
   * A browser cancels a few streams when a page is left; a flood cancels thousands.
   */
  public static final int H2_MAX_IDLE_EVENTS_PER_SECOND = 128;
  /**
   * The most direct (off-heap) memory the server's buffer pool keeps for reuse once released. Jetty's
   * default is an eighth of the maximum heap, and the JVM's default heap is a quarter of the machine's
   * memory: on a 24 GB machine the pool could keep some 750 MB of buffers from one burst of connections
   * for ever. A proxy's buffers in use at once are a few tens of kilobytes per active connection; past
   * this cap released buffers are freed instead of kept, which costs an allocation on the next burst.
   */
  public static final long MAX_POOLED_DIRECT_BYTES = 32L * 1024 * 1024;
  /** As {@link #MAX_POOLED_DIRECT_BYTES}, for the pool's heap buffers (TLS, HTTP/2 and the clients' few). */
  public static final long MAX_POOLED_HEAP_BYTES = 16L * 1024 * 1024;
  /**
   * Each listener's accept queue (the kernel caps it at {@code net.core.somaxconn}). Jetty leaves it to
   * the JDK, whose 50 a burst of new connections (clients reconnecting after a restart, a load test)
   * overflows: the kernel then drops their SYNs and the clients retry a second later, a second added
   * to their first request. HAProxy and nginx ask for more for the same reason (nginx: 511).
   */
  public static final int ACCEPT_QUEUE_SIZE = 1024;

  private final Server server;
  /** One per listener, in the builder's order. */
  private final List<ServerConnector> connectors = new ArrayList<>();
  private final List<ListenerSpec> listeners;
  private final Map<ServerConnector, ListenerSslContextFactory> tls = new HashMap<>();
  private final AffinityBalancer balancer;
  private final WebSocketProxy webSocketProxy;
  private final HealthChecker healthChecker;
  private final AdminHandler admin;
  private final ServerConnector adminConnector;
  private final Limits limits;
  private final LongAdder requestHeadTimeouts = new LongAdder();
  private final Drain drain;
  /** The system property that turns the direct front end off ({@code false}); see {@link Builder#directHttp1}. */
  public static final String DIRECT_HTTP1_PROPERTY = "affinity.directHttp1";
  private final Scheduler shutdownTimer;
  private volatile GracefulShutdown shutdown;
  private volatile GracefulShutdown.Outcome shutdownOutcome;

  private AffinityServer(Builder b) {
    this.limits = b.limits;
    QueuedThreadPool threads = new AffinityThreadPool(limits.threads());
    threads.setName("affinity");
    this.shutdown = b.shutdown;
    this.shutdownTimer = b.shutdownTimer;
    this.server = new Server(threads, null, bufferPool(Runtime.getRuntime().maxMemory())) {
      @Override
      protected void doStop() throws Exception {
        // Whoever stops the server (stop(), the JVM's shutdown hook, the launcher's SIGTERM) drains first;
        // Jetty's own graceful stop (setStopTimeout) is not used: it would close the admin port with the
        // rest and cut in-flight requests whose client is silent for a second.
        try {
          shutdownOutcome = drain.run(shutdown, shutdownTimer != null ? shutdownTimer : getScheduler());
        } finally {
          super.doStop();
        }
      }
    };
    server.setStopAtShutdown(true);
    HttpConfiguration http = new HttpConfiguration();
    http.setRequestHeaderSize(limits.maxRequestHeaderBytes());
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    // No per-connection cache of request header fields. Each header line is looked up in it character
    // by character, and even in its best case (wrk sends the same affinity cookie on a connection over
    // and over) that cost more than parsing the line afresh: off, the balancer measured 1.09-1.13x the
    // throughput and 0.88-0.92x the CPU per request (two A/Bs of 8 pairs, BENCHMARKS.md). It also matches
    // values ignoring case unless told otherwise, and would read a sealed cookie as an earlier line that
    // differs from it only in case.
    http.setHeaderCacheSize(0);
    this.balancer = new AffinityBalancer(b.router);
    if (b.historyScheduler != null) {
      balancer.setHistoryScheduler(b.historyScheduler);
    }
    balancer.setTrustedProxies(b.trustedProxies);
    balancer.setMaxRequestBodyBytes(limits.maxRequestBodyBytes());
    this.listeners = b.listeners();
    Scheduler certificateScheduler = b.certificateScheduler != null ? b.certificateScheduler : server.getScheduler();
    // TLS to targets: the same polling as the listeners' certificates, shared by proxying, WebSockets and health checks.
    balancer.setTargetTlsReloads(certificateScheduler, b.certificatePollInterval, b.clock);
    Map<Connector, Integer> redirects = new LinkedHashMap<>();
    for (ListenerSpec listener : listeners) {
      List<ConnectionFactory> factories = new ArrayList<>(3);
      ListenerSslContextFactory ssl = null;
      if (listener.proxyProtocol()) {
        // PROXY protocol first, before TLS: the proxy in front passes the client's bytes through untouched.
        factories.add(new ProxyProtocolGate(balancer::getTrustedProxies));
      }
      if (listener.tls().isPresent()) {
        ssl = new ListenerSslContextFactory(listener.toString(), listener.tls().get(),
            certificateScheduler, b.clock, b.certificatePollInterval);
        HttpConfiguration https = new HttpConfiguration(http);
        https.setSecureScheme("https");
        // No SNI host check: a client without SNI (an IP address, an old client) gets the first certificate,
        // whatever Host it then sends, as on ALB; routing is by cookie, not by host.
        https.addCustomizer(new SecureRequestCustomizer(false));
        if (listener.http2()) {
          // h2 or http/1.1 by ALPN (RFC 7301); a client that offers neither, or no ALPN at all, gets HTTP/1.1.
          // HTTP/2 over TLS 1.2 needs the AEAD ciphers first (RFC 7540 section 9.2.2).
          ssl.setCipherComparator(HTTP2Cipher.COMPARATOR);
          // ALPN protocol ids are case-sensitive (RFC 7301): "http/1.1", not HttpVersion's "HTTP/1.1".
          ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
          alpn.setDefaultProtocol("http/1.1");
          factories.add(new SslConnectionFactory(ssl, alpn.getProtocol()));
          factories.add(alpn);
          factories.add(limitHttp2(new HTTP2ServerConnectionFactory(https), limits.h2MaxConcurrentStreams()));
          factories.add(http1(https, b.requestHeadTimer));
        } else {
          factories.add(new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()));
          factories.add(http1(https, b.requestHeadTimer));
        }
      } else {
        HttpConfiguration plain = http;
        if (listener.proxyProtocol()) {
          // The TLS was the proxy's: a PROXY v2 SSL TLV makes the request https.
          plain = new HttpConfiguration(http);
          plain.addCustomizer(new ProxiedTls());
        }
        if (b.directHttp1 && !listener.proxyProtocol() && listener.redirectToHttps().isEmpty()) {
          // First, so that it is the connector's default: it hands whatever it does not serve to the next one.
          String adminPath = b.adminPath;
          String underAdmin = adminPath + "/";
          factories.add(new DirectHttp1(plain, balancer, b.observers,
              path -> path.equals(adminPath) || path.startsWith(underAdmin), this::isDraining));
        }
        factories.add(http1(plain, b.requestHeadTimer));
        if (listener.http2()) {
          factories.add(limitHttp2(new HTTP2CServerConnectionFactory(plain), limits.h2MaxConcurrentStreams()));
        }
      }
      ServerConnector connector = clientConnector(server, factories.toArray(new ConnectionFactory[0]));
      if (ssl != null) {
        tls.put(connector, ssl);
      }
      connector.setHost(listener.host());
      connector.setPort(listener.port());
      connector.setName(listener.name());
      // Restarts on every byte: a client trickling its request head is cut by the request head timeout.
      connector.setIdleTimeout(limits.idleTimeout().toMillis());
      // Drain decides which connections to hurry (the idle ones); Jetty would shorten every one's timeout.
      connector.setShutdownIdleTimeout(-1);
      connector.setReusePort(b.reusePort);
      connector.setAcceptQueueSize(ACCEPT_QUEUE_SIZE);
      if (!b.acceptAtStart) {
        // Bound and listening from the start (the kernel queues new connections), accepted from accept() on.
        connector.setAccepting(false);
      }
      server.addConnector(connector);
      connectors.add(connector);
      listener.redirectToHttps().ifPresent(port -> redirects.put(connector, port));
    }
    // On the server's scheduler, as the connection sweeper is: a test injects one with the Server.
    this.healthChecker = new HealthChecker(balancer::router, b.clock, server.getScheduler());
    healthChecker.useTargetTls(balancer.targetTls());
    this.admin = requireNonNull(b.adminHandlerFactory.create(b.adminPath, b.adminLoopbackOnly, balancer, b.codecCounters),
        "the admin handler factory returned null");
    if (b.metricsWriter != null) {
      admin.setMetricsWriter(b.metricsWriter);
    }
    admin.setTokens(b.adminTokens);
    admin.serverLimits(limits, requestHeadTimeouts::sum);
    admin.setReadiness(this::isReady);
    // WebSocket upgrades first: ProxyHandler cannot proxy them; everything else falls through.
    this.webSocketProxy = new WebSocketProxy(balancer);
    this.drain = new Drain(connectors, webSocketProxy, b.adminPath + "/ready");
    Handler root;
    if (b.adminPort == null) {
      this.adminConnector = null;
      root = new Handler.Sequence(admin, webSocketProxy, balancer);
    } else {
      // Admin on its own listener: the public port never serves it, the admin port serves nothing else.
      this.adminConnector = new ServerConnector(server, http1(http, b.requestHeadTimer));
      adminConnector.setHost(listeners.get(0).host());
      adminConnector.setPort(b.adminPort);
      adminConnector.setReusePort(b.reusePort);
      server.addConnector(adminConnector);
      Handler publicSide = new Handler.Sequence(webSocketProxy, balancer);
      // The public side is the wrapped handler, not just a bean, so that its handlers know their
      // Server like they do when there is no admin port.
      root = new Handler.Wrapper(publicSide) {
        @Override
        public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
            org.eclipse.jetty.util.Callback callback) throws Exception {
          if (request.getConnectionMetaData().getConnector() == adminConnector) {
            if (!admin.handle(request, response, callback)) {
              AffinityBalancer.writePlain(response, callback, 404, "404 Not Found\n", null);
            }
            return true;
          }
          // The probes, and only they, on the public port too: a load balancer's health check goes to the
          // port it sends traffic to, and that port's readiness is what it needs to know.
          if (admin.isProbe(org.eclipse.jetty.server.Request.getPathInContext(request))) {
            return admin.handle(request, response, callback);
          }
          return super.handle(request, response, callback);
        }
      };
      server.addBean(admin, true);
    }
    Handler served = redirects.isEmpty() ? root : new HttpsRedirect(redirects, root);
    server.setHandler(new Handler.Wrapper(served) {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
          org.eclipse.jetty.util.Callback callback) throws Exception {
        if (drain.isDraining()) {
          Drain.keepIdleTimeout(request);
        }
        return super.handle(request, response, callback);
      }
    });
    // Over the public listeners only: a full balancer still answers on its admin port. Past the limit
    // Jetty stops accepting (the kernel's backlog holds new clients) until a connection closes.
    server.addBean(new NetworkConnectionLimit(limits.maxConnections(), connectors.toArray(new Connector[0])));
    server.addBean(healthChecker, true);
    if (!b.observers.isEmpty()) {
      server.setRequestLog(new ExchangeRecorder(b.observers));
    }
  }

  /**
   * The connection factories of a plain listener: HTTP/1.1 first, then, with {@code http2}, h2c, so
   * that one port takes HTTP/1.1 (and its WebSocket upgrades), HTTP/2 with prior knowledge (Jetty's
   * HTTP/1 connection sees the {@code PRI * HTTP/2.0} preface and hands over) and HTTP/2 after
   * {@code Upgrade: h2c}. A TLS listener puts {@code SslConnectionFactory(ssl, "alpn")} and an ALPN
   * factory offering {@code h2, http/1.1} in front instead, with an {@code HTTP2ServerConnectionFactory}
   * under {@link #limitHttp2} (see jetty-handler/README.md, "HTTP/2").
   */
  /** A listener's connector, whose connections skip the reads and interest changes they know are idle (see ClientEndPoint). */
  private static ServerConnector clientConnector(Server server, ConnectionFactory... factories) {
    return new ServerConnector(server, factories) {
      @Override
      protected SocketChannelEndPoint newEndPoint(SocketChannel channel, ManagedSelector selector, SelectionKey key) {
        ClientEndPoint endPoint = new ClientEndPoint(channel, selector, key, getScheduler());
        endPoint.setIdleTimeout(getIdleTimeout());
        return endPoint;
      }
    };
  }

  public static ConnectionFactory[] httpFactories(HttpConfiguration http, boolean http2) {
    requireNonNull(http, "http");
    HttpConnectionFactory http1 = new HttpConnectionFactory(http);
    if (!http2) {
      return new ConnectionFactory[] {http1};
    }
    return new ConnectionFactory[] {http1, limitHttp2(new HTTP2CServerConnectionFactory(http), Limits.DEFAULT_H2_MAX_CONCURRENT_STREAMS)};
  }

  private boolean isDraining() {
    return drain != null && drain.isDraining();
  }

  /** HTTP/1.1 with the request head timeout of {@link Limits#requestHeaderTimeout()}. */
  private HttpConnectionFactory http1(HttpConfiguration http, Scheduler timer) {
    return new RequestHeadTimeout(http, limits.requestHeaderTimeout(), timer, requestHeadTimeouts);
  }

  /**
   * The balancer's HTTP/2 limits on a server connection factory (h2c here, h2 on a TLS listener): at
   * most {@code maxConcurrentStreams} concurrent streams per connection ({@link Limits#h2MaxConcurrentStreams()}), and at most
   * {@value #H2_MAX_IDLE_EVENTS_PER_SECOND} frames per second that do no work (see
   * {@link #H2_MAX_IDLE_EVENTS_PER_SECOND}) before the connection is closed.
   */
  public static <F extends AbstractHTTP2ServerConnectionFactory> F limitHttp2(F factory, int maxConcurrentStreams) {
    requireNonNull(factory, "factory");
    if (maxConcurrentStreams < 1) {
      throw new IllegalArgumentException("maxConcurrentStreams must be at least 1, got " + maxConcurrentStreams);
    }
    factory.setMaxConcurrentStreams(maxConcurrentStreams);
    // RFC 8441 (WebSockets over HTTP/2): SETTINGS_ENABLE_CONNECT_PROTOCOL, so browsers open WebSockets on
    // an h2 connection with an extended CONNECT, which WebSocketProxy takes like an HTTP/1.1 upgrade. (It
    // was off for a while: a first message lost now and then under load was Jetty's WebSocket client over
    // HTTP/2 in the test, not the relay: see WebSocketOverHttp2Test.)
    factory.setConnectProtocolEnabled(true);
    factory.setRateControlFactory(new WindowRateControl.Factory(H2_MAX_IDLE_EVENTS_PER_SECOND));
    return factory;
  }

  public static Builder builder(Router router, CodecCounters codecCounters) {
    return new Builder(router, codecCounters);
  }

  public AffinityServer start() throws Exception {
    server.start();
    return this;
  }

  /**
   * Stops gracefully, as {@link #shutdown()} says; returns when the server has stopped. The JVM's
   * shutdown hook stops it the same way. {@link #shutdownOutcome()} then tells whether anything was cut.
   */
  public void stop() throws Exception {
    server.stop();
  }

  /**
   * Starts accepting on the public listeners of a server built with {@link Builder#acceptAtStart
   * acceptAtStart(false)}: the connections the kernel queued meanwhile are taken first. Does nothing when
   * they already accept.
   */
  public void accept() {
    for (ServerConnector connector : connectors) {
      connector.setAccepting(true);
    }
  }

  /** Whether every public listener accepts connections (false before {@link #accept()} with {@code acceptAtStart(false)}). */
  public boolean isAccepting() {
    return connectors.stream().allMatch(ServerConnector::isAccepting);
  }

  /** Whether the listening sockets are opened with {@code SO_REUSEPORT} ({@link Builder#reusePort}). */
  public boolean reusePort() {
    return connectors.get(0).isReusePort();
  }

  /** How the last stop went: drained, or connections cut when the grace ran out; {@code null} before any stop. */
  public GracefulShutdown.Outcome shutdownOutcome() {
    return shutdownOutcome;
  }

  /** How a stop goes: the grace and the unready delay. */
  public GracefulShutdown shutdown() {
    return shutdown;
  }

  /** Changes how the next stop goes (a configuration reload); a stop already under way keeps its settings. */
  public void setShutdown(GracefulShutdown shutdown) {
    this.shutdown = requireNonNull(shutdown, "shutdown");
  }

  /**
   * What {@code {admin.path}/ready} answers: started and not stopping. It turns false the moment a stop
   * begins, before the listeners close.
   */
  public boolean isReady() {
    // Jetty turns STOPPING (isStarted() false) a moment before doStop begins the drain, which times the
    // unready delay: keyed on the drain alone, whoever sees the 503 knows the delay is already timed.
    return (server.isStarted() || server.isStopping()) && !drain.isStopping();
  }

  /**
   * The server's buffer pool, also the balancer's {@code HttpClient}'s: Jetty's default buckets, keeping
   * at most {@link #MAX_POOLED_DIRECT_BYTES} and {@link #MAX_POOLED_HEAP_BYTES} (less with a heap under
   * 256 MB: an eighth of it, Jetty's own rule).
   */
  static ArrayByteBufferPool bufferPool(long maxHeapBytes) {
    long eighth = Math.max(1, maxHeapBytes / 8);
    return new ArrayByteBufferPool(0, -1, -1, Integer.MAX_VALUE,
        Math.min(MAX_POOLED_HEAP_BYTES, eighth), Math.min(MAX_POOLED_DIRECT_BYTES, eighth));
  }

  public Server server() {
    return server;
  }

  public AffinityBalancer balancer() {
    return balancer;
  }

  /** Proxies WebSocket upgrades; its setters take the {@code websocket} settings. */
  public WebSocketProxy webSocketProxy() {
    return webSocketProxy;
  }

  /** The limits this server was built with. */
  public Limits limits() {
    return limits;
  }

  /** Connections closed with {@code 408} because a request head was not complete within {@link Limits#requestHeaderTimeout()}. */
  public long requestHeadTimeouts() {
    return requestHeadTimeouts.sum();
  }

  public HealthChecker healthChecker() {
    return healthChecker;
  }

  public AdminHandler admin() {
    return admin;
  }

  /** The first listener's bound port. */
  public int port() {
    return port(0);
  }

  /** The bound port of listener {@code index} (in the builder's order). */
  public int port(int index) {
    return connectors.get(index).getLocalPort();
  }

  public List<ListenerSpec> listeners() {
    return listeners;
  }

  /**
   * When the certificates in service on each TLS listener run out (the earliest of a listener's
   * certificates), by the listener's {@code https://host:port}; empty without TLS listeners. For an
   * expiry gauge: a rotation shows at once.
   */
  public Map<URI, java.time.Instant> certificateExpiries() {
    Map<URI, java.time.Instant> out = new LinkedHashMap<>();
    for (int i = 0; i < connectors.size(); i++) {
      ListenerSslContextFactory ssl = tls.get(connectors.get(i));
      if (ssl != null && ssl.earliestNotAfter() != null) {
        out.put(uri(i), ssl.earliestNotAfter());
      }
    }
    return out;
  }

  /** Client connections open now over the public listeners. */
  public int openConnections() {
    return drain.openConnections();
  }

  /** Listener {@code index}'s TLS context, or null for a plain listener; tests look at its reloads. */
  ListenerSslContextFactory tls(int index) {
    return tls.get(connectors.get(index));
  }

  /** Where the admin endpoints are served: the admin port when one is configured, else the main listener. */
  public java.net.URI adminUri() {
    if (adminConnector == null) {
      return uri().resolve(admin.path());
    }
    return URI.create("http://" + uri().getHost() + ":" + adminConnector.getLocalPort() + admin.path());
  }

  /** {@code http://host:port} or {@code https://host:port} of the first listener, as it is bound. */
  public URI uri() {
    return uri(0);
  }

  /** {@code http://host:port} or {@code https://host:port} of listener {@code index}, as it is bound. */
  public URI uri(int index) {
    ServerConnector connector = connectors.get(index);
    String host = connector.getHost() == null || connector.getHost().isEmpty() ? "127.0.0.1" : connector.getHost();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return URI.create((tls.containsKey(connector) ? "https://" : "http://") + host + ":" + connector.getLocalPort());
  }

  /**
   * Creates the admin handler from the builder's admin settings; pass a subclass's constructor to add
   * endpoints through {@link AdminHandler#handleMore}.
   */
  @FunctionalInterface
  public interface AdminHandlerFactory {
    AdminHandler create(String path, boolean loopbackOnly, AffinityBalancer balancer, CodecCounters codecCounters);
  }

  /** Listener, admin and thread settings; the routing itself comes in as a {@link Router}. */
  public static final class Builder {
    /** How often TLS listeners look at their certificate files for a rotation, by default. */
    public static final Duration DEFAULT_CERTIFICATE_POLL_INTERVAL = Duration.ofSeconds(5);

    private final Router router;
    private final CodecCounters codecCounters;
    private String host = "127.0.0.1";
    private int port;
    private boolean hostOrPortSet;
    private final List<ListenerSpec> listeners = new ArrayList<>();
    private Scheduler certificateScheduler;
    private Duration certificatePollInterval = DEFAULT_CERTIFICATE_POLL_INTERVAL;
    private String adminPath = "/affinity";
    private boolean adminLoopbackOnly = true;
    private Integer adminPort;
    private dev.affinity.admin.AdminTokens adminTokens = dev.affinity.admin.AdminTokens.none();
    private Limits limits = Limits.defaults();
    private final List<ExchangeObserver> observers = new ArrayList<>();
    private Scheduler requestHeadTimer;
    private Clock clock = Clock.systemUTC();
    private AdminHandlerFactory adminHandlerFactory = AdminHandler::new;
    private AdminHandler.MetricsWriter metricsWriter;
    private TrustedProxies trustedProxies = TrustedProxies.none();
    private boolean proxyProtocol;
    private boolean http2 = true;
    private GracefulShutdown shutdown = GracefulShutdown.defaults();
    private Scheduler shutdownTimer;
    private Scheduler historyScheduler;
    private boolean reusePort;
    private boolean acceptAtStart = true;
    private boolean directHttp1 = !"false".equals(System.getProperty(DIRECT_HTTP1_PROPERTY));

    private Builder(Router router, CodecCounters codecCounters) {
      this.router = requireNonNull(router, "router");
      this.codecCounters = requireNonNull(codecCounters, "codecCounters");
    }

    /** The one plain listener's interface, default 127.0.0.1; for several listeners, or TLS, use {@link #listener}. */
    public Builder host(String host) {
      this.host = requireNonNull(host, "host");
      refuseBoth();
      hostOrPortSet = true;
      return this;
    }

    /** The one plain listener's port; 0 picks a free port. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
      }
      this.port = port;
      refuseBoth();
      hostOrPortSet = true;
      return this;
    }

    /**
     * Adds a listener (in order: the first is {@link AffinityServer#uri()}); instead of
     * {@link #host}/{@link #port}. Ports other than 0 must be unique, and a redirect listener's
     * target must be a TLS listener's port.
     */
    public Builder listener(ListenerSpec listener) {
      requireNonNull(listener, "listener");
      if (hostOrPortSet) {
        throw new IllegalStateException("host/port already set the one plain listener (" + host + ":" + port
            + "); describe every listener with listener(...) instead");
      }
      for (ListenerSpec other : listeners) {
        if (listener.port() != 0 && other.port() == listener.port()) {
          throw new IllegalArgumentException("port " + listener.port() + " is used by two listeners: " + other + " and " + listener);
        }
      }
      listeners.add(listener);
      return this;
    }

    private void refuseBoth() {
      if (!listeners.isEmpty()) {
        throw new IllegalStateException("listeners are already set (" + listeners + "); host/port describe the one plain listener"
            + " when there is no listener(...)");
      }
    }

    /**
     * Where TLS listeners look at their certificate files for a rotation: default the server's own
     * scheduler, every {@link #DEFAULT_CERTIFICATE_POLL_INTERVAL}.
     */
    public Builder certificateReloads(Scheduler scheduler, Duration pollInterval) {
      this.certificateScheduler = requireNonNull(scheduler, "scheduler");
      requireNonNull(pollInterval, "pollInterval");
      if (pollInterval.compareTo(Duration.ofMillis(10)) < 0) {
        throw new IllegalArgumentException("certificate pollInterval must be at least 10 ms, got " + pollInterval);
      }
      this.certificatePollInterval = pollInterval;
      return this;
    }

    List<ListenerSpec> listeners() {
      if (listeners.isEmpty()) {
        return List.of(ListenerSpec.builder().host(host).port(port).proxyProtocol(proxyProtocol).http2(http2).build());
      }
      if (proxyProtocol || !http2) {
        throw new IllegalStateException("proxyProtocol(...) and http2(...) are for the one listener of host()/port(); with "
            + "listener(...), set them on each ListenerSpec");
      }
      for (ListenerSpec listener : listeners) {
        if (listener.redirectToHttps().isPresent()) {
          int target = listener.redirectToHttps().getAsInt();
          boolean tlsTarget = listeners.stream().anyMatch(l -> l.tls().isPresent() && l.port() == target);
          if (!tlsTarget) {
            throw new IllegalArgumentException("listener " + listener + " redirects to port " + target
                + ", which is not the port of a TLS listener of this server");
          }
        }
      }
      return List.copyOf(listeners);
    }

    public Builder admin(String path, boolean loopbackOnly) {
      this.adminPath = requireNonNull(path, "path");
      this.adminLoopbackOnly = loopbackOnly;
      return this;
    }

    /**
     * The bearer tokens the admin endpoints require (see {@link AdminHandler}); default none: the status
     * endpoints are guarded by {@link #admin loopbackOnly} alone and the {@code api/} paths refuse everyone.
     */
    public Builder adminTokens(dev.affinity.admin.AdminTokens tokens) {
      this.adminTokens = requireNonNull(tokens, "tokens");
      return this;
    }

    /** Serves the admin endpoints on their own port (0 picks a free one) instead of the public listener. */
    public Builder adminPort(Integer port) {
      if (port != null && (port < 0 || port > 65535)) {
        throw new IllegalArgumentException("admin port must be between 0 and 65535, got " + port);
      }
      this.adminPort = port;
      return this;
    }

    /**
     * Told of every finished request, whoever answered it: the access log ({@link dev.affinity.observe.AccessLog}),
     * request metrics. Called in the order added, on the thread that finished the exchange.
     */
    public Builder observe(ExchangeObserver observer) {
      observers.add(requireNonNull(observer, "observer"));
      return this;
    }

    /** Timeouts, connection, size and thread limits; default {@link Limits#defaults()}. */
    public Builder limits(Limits limits) {
      this.limits = requireNonNull(limits, "limits");
      return this;
    }

    /** Where request head timeouts are timed: default each connector's own scheduler (tests inject a manual one). */
    public Builder requestHeadTimer(Scheduler scheduler) {
      this.requestHeadTimer = requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Whether the listener also speaks HTTP/2 without TLS (h2c: prior knowledge and {@code Upgrade: h2c}),
     * beside HTTP/1.1. Default {@code true}. The admin port, when there is one, speaks HTTP/1.1 only.
     */
    public Builder http2(boolean http2) {
      this.http2 = http2;
      return this;
    }

    /** The clock health results are stamped with, and certificate expiry is judged by (the codec has its own, usually the same). */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** The admin handler to use, for instance {@code MyAdminHandler::new}; default {@link AdminHandler}. */
    public Builder adminHandler(AdminHandlerFactory factory) {
      this.adminHandlerFactory = requireNonNull(factory, "factory");
      return this;
    }

    /** Serves {@code {admin.path}/metrics} with {@code writer}; without one that path answers 404. */
    public Builder metrics(AdminHandler.MetricsWriter writer) {
      this.metricsWriter = requireNonNull(writer, "writer");
      return this;
    }

    /**
     * The proxies in front whose forwarding headers (and PROXY headers) are believed; default none.
     * The balancer's {@link AffinityBalancer#setTrustedProxies} swaps them while running.
     */
    public Builder trustedProxies(TrustedProxies trustedProxies) {
      this.trustedProxies = requireNonNull(trustedProxies, "trustedProxies");
      return this;
    }

    /**
     * Whether the listener takes PROXY protocol (v1 and v2, as AWS NLB and HAProxy's
     * {@code send-proxy-v2} send it): required from trusted proxies, and a connection from any other
     * peer that sends one is closed. Needs {@link #trustedProxies}: nobody could send one otherwise.
     */
    public Builder proxyProtocol(boolean proxyProtocol) {
      this.proxyProtocol = proxyProtocol;
      return this;
    }

    /** How a stop drains; default {@link GracefulShutdown#defaults()} (30 s grace, no unready delay). */
    public Builder shutdown(GracefulShutdown shutdown) {
      this.shutdown = requireNonNull(shutdown, "shutdown");
      return this;
    }

    /** What times a stop's unready delay and grace: default the server's own scheduler (tests inject a manual one). */
    public Builder shutdownTimer(Scheduler scheduler) {
      this.shutdownTimer = requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** What samples the status page's traffic history: default the server's own scheduler (tests inject a manual one). */
    public Builder historyScheduler(Scheduler scheduler) {
      this.historyScheduler = requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Opens the public listeners and the admin port with {@code SO_REUSEPORT} (Linux 3.9+, the BSDs), so that
     * a second process can bind the same ports while this one runs and take its place without a moment
     * where nobody listens; the kernel spreads new connections over every socket bound there. Default
     * {@code false}: binding a port another socket listens on fails, which is what an embedder expects.
     * The kernel lets only processes of the same effective user share a port this way.
     */
    public Builder reusePort(boolean reusePort) {
      this.reusePort = reusePort;
      return this;
    }

    /**
     * {@code false}: {@link AffinityServer#start()} binds the public listeners but accepts no connection
     * until {@link AffinityServer#accept()}; meanwhile the kernel queues them (up to the listen backlog),
     * so a process taking over a port can finish getting ready without refusing anyone. Default {@code true}.
     */
    public Builder acceptAtStart(boolean acceptAtStart) {
      this.acceptAtStart = acceptAtStart;
      return this;
    }

    /**
     * Whether cleartext HTTP/1.1 listeners (without the PROXY protocol or an HTTPS redirect) read the plain
     * request (a bodyless {@code GET} or {@code HEAD} for a plain HTTP/1.1 target) with the balancer's own
     * front end instead of Jetty's server (see {@code DirectHttp1} and jetty-handler/README.md). The same
     * policy, headers, records and answers either way; it costs less CPU per request. Default {@code true},
     * or the system property {@value #DIRECT_HTTP1_PROPERTY} ({@code false} to measure without it).
     */
    public Builder directHttp1(boolean directHttp1) {
      this.directHttp1 = directHttp1;
      return this;
    }

    public AffinityServer build() {
      boolean anyProxyProtocol = proxyProtocol || listeners.stream().anyMatch(ListenerSpec::proxyProtocol);
      if (anyProxyProtocol && trustedProxies.isEmpty()) {
        throw new IllegalStateException("proxyProtocol needs trustedProxies: with none, no peer may send a PROXY header"
            + " and every connection that does is closed");
      }
      return new AffinityServer(this);
    }
  }
}
