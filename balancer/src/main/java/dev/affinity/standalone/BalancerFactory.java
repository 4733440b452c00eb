package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.BalancingAlgorithm;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.observe.RequestMetrics;
import dev.affinity.jetty.ListenerSpec;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.ForwardConfig;
import dev.affinity.standalone.config.HealthCheckConfig;
import dev.affinity.standalone.config.KeyConfig;
import dev.affinity.standalone.config.Listen;
import dev.affinity.standalone.config.RuleConfig;
import dev.affinity.standalone.config.StickinessConfig;
import dev.affinity.standalone.config.TargetConfig;
import dev.affinity.standalone.config.TargetGroupConfig;
import dev.affinity.standalone.config.TlsConfig;
import dev.affinity.tls.ServerCertificates;
import dev.affinity.standalone.config.UpstreamConfig;
import dev.affinity.standalone.config.WebSocketConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleSet;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Turns a validated {@link BalancerConfig} into running parts: keyring, codec, cookie policy, target
 * groups, router and server. Configuration in, core objects out; no policy of its own.
 */
public final class BalancerFactory {
  private final Clock clock;
  private final CodecCounters codecCounters;
  private final Scheduler shutdownTimer;

  public BalancerFactory(Clock clock, CodecCounters codecCounters) {
    this.clock = requireNonNull(clock, "clock");
    this.codecCounters = requireNonNull(codecCounters, "codecCounters");
    this.shutdownTimer = null;
  }

  /** As {@link #BalancerFactory(Clock, CodecCounters)}, with servers whose stops are timed on {@code shutdownTimer}. */
  public BalancerFactory(Clock clock, CodecCounters codecCounters, Scheduler shutdownTimer) {
    this.clock = requireNonNull(clock, "clock");
    this.codecCounters = requireNonNull(codecCounters, "codecCounters");
    this.shutdownTimer = requireNonNull(shutdownTimer, "shutdownTimer");
  }

  public static Keyring keyring(BalancerConfig config) {
    if (config.keys() == null || config.keys().isEmpty()) {
      return Keyring.ephemeral();
    }
    Keyring.Builder builder = Keyring.builder();
    for (KeyConfig key : config.keys()) {
      builder.addKey(key.id(), key.secret());
    }
    return builder.build();
  }

  public AffinityCookies cookies(BalancerConfig config, Keyring keyring) {
    AffinityCookieCodec codec = AffinityCookieCodec.builder()
        .keyring(keyring)
        .clock(clock)
        .metrics(codecCounters)
        .maxValueLength(config.cookies().maxTotalBytes())
        .build();
    return AffinityCookies.of(codec, config.cookies().toPolicy());
  }

  public Router router(BalancerConfig config, AffinityCookies cookies) {
    return router(config, cookies, null);
  }

  /**
   * The router for {@code config}; with {@code previous}, a reload: targets that remain keep their
   * state and pins, removed ones drain (see {@link TargetGroup.Builder#reloading}).
   */
  public Router router(BalancerConfig config, AffinityCookies cookies, Router previous) {
    Router.Builder router = Router.builder(cookies);
    Instant now = clock.instant();
    for (TargetGroupConfig group : config.targetGroups()) {
      TargetGroup before = previous == null ? null : previous.group(group.name());
      router.group(group(group, before, now));
    }
    if (config.forward() != null) {
      for (ForwardConfig forward : config.forward()) {
        router.forward(forward.group(), forward.weight());
      }
    }
    if (config.groupStickiness() != null) {
      router.groupStickiness(Expiry.sliding(config.groupStickiness()));
    }
    // A reload keeps each rule's hit count (same priority and name), as it keeps targets' counters.
    router.rules(carried(rules(config.rules()), previous == null ? null : previous.rules(null)));
    config.listenerRules().forEach((listener, rules) ->
        router.rules(listener, carried(rules(rules), previous == null ? null : previous.listenerRules().get(listener))));
    if (config.defaultAction() != null) {
      router.defaultAction(config.defaultAction());
    }
    return router.build();
  }

  private static RuleSet carried(RuleSet rules, RuleSet previous) {
    return previous == null ? rules : rules.carryHitsFrom(previous);
  }

  /** Counting rules for one router, from the rules as read. */
  static RuleSet rules(List<RuleConfig> configs) {
    List<Rule> rules = new ArrayList<>(configs.size());
    for (RuleConfig c : configs) {
      Rule.Builder rule = Rule.builder(c.priority()).when(c.when()).action(c.action()).responseHeaders(c.responseHeaders());
      if (c.name() != null) {
        rule.name(c.name());
      }
      if (c.persistence() != null) {
        rule.persistence(c.persistence().toPolicy());
      }
      rules.add(rule.build());
    }
    return RuleSet.of(rules);
  }

  static TargetGroup group(TargetGroupConfig config, TargetGroup previous, Instant now) {
    TargetGroup.Builder group = TargetGroup.builder(config.name())
        .algorithm(BalancingAlgorithm.named(config.algorithm()))
        .stickiness(stickiness(config.stickiness()))
        .healthCheck(health(config.healthCheck()))
        .slowStart(config.slowStart())
        .deregistrationDelay(config.deregistrationDelay())
        .sharedSessions(config.sharedSessions())
        .protocol(config.protocolVersion())
        .passiveHealth(config.passiveHealth())
        .timeouts(config.upstreamTimeout(), config.upstreamConnectTimeout());
    if (config.tls() != null) {
      group.tls(config.tls());
    }
    if (config.boundedLoadFactor() != null) {
      group.boundedLoad(config.boundedLoadFactor());
    }
    for (TargetConfig target : config.targets()) {
      group.target(target.id(), target.uri(), target.weight());
    }
    if (previous != null) {
      group.reloading(previous, now);
    }
    return group.build();
  }

  static StickinessPolicy stickiness(StickinessConfig config) {
    return config == null ? StickinessPolicy.none() : config.toPolicy();
  }

  static HealthCheckSettings health(HealthCheckConfig config) {
    if (config == null) {
      return HealthCheckSettings.defaults();
    }
    // A target that refused a connection stays out for one check interval unless checks bring it back first.
    Duration ejection = config.interval();
    return new HealthCheckSettings(config.enabled(), config.path(), config.interval(), config.timeout(),
        config.healthyThreshold(), config.unhealthyThreshold(), config.matcherLow(), config.matcherHigh(), ejection,
        config.grpcService());
  }

  /** The whole balancer, not yet started; its ports are its own (no {@code SO_REUSEPORT}). */
  public AffinityServer server(BalancerConfig config) {
    return server(config, false, true);
  }

  /**
   * The whole balancer, not yet started. {@code reusePort}: its ports are opened with {@code SO_REUSEPORT}, so
   * that another balancer can take them over; {@code acceptAtStart} {@code false}: bound at the start, accepting
   * from {@link AffinityServer#accept()} on (see {@link AffinityServer.Builder#acceptAtStart}).
   */
  public AffinityServer server(BalancerConfig config, boolean reusePort, boolean acceptAtStart) {
    Keyring keyring = keyring(config);
    AffinityCookies cookies = cookies(config, keyring);
    Router router = router(config, cookies);
    AffinityServer.Builder builder = AffinityServer.builder(router, codecCounters);
    for (Listen listen : config.listeners()) {
      builder.listener(listener(listen));
    }
    AccessLogWriter accessLog = AccessLogAppenders.install(config.accessLog());
    if (accessLog != null) {
      builder.observe(accessLog);
    }
    RequestMetrics requests = new RequestMetrics();
    PrometheusMetrics metrics = new PrometheusMetrics(requests, clock);
    builder.observe(requests);
    builder
        .admin(config.admin().path(), config.admin().loopbackOnly())
        .adminPort(config.admin().port())
        .adminTokens(config.admin().adminTokens())
        .trustedProxies(config.trustedProxies())
        .limits(config.limits())
        .clock(clock)
        .metrics(metrics)
        .shutdown(config.shutdown())
        .reusePort(reusePort)
        .acceptAtStart(acceptAtStart);
    if (shutdownTimer != null) {
      builder.shutdownTimer(shutdownTimer);
    }
    AffinityServer server = builder.build();
    metrics.server(server);
    if (accessLog != null) {
      // Started and stopped with the server: its last lines are written when the server stops.
      server.server().addManaged(accessLog);
    }
    applyLive(server, config);
    return server;
  }

  /** A {@code listen}/{@code listeners} entry as jetty-handler's listener; the loader has checked its files. */
  static ListenerSpec listener(Listen listen) {
    ListenerSpec.Builder listener = ListenerSpec.builder().host(listen.host()).port(listen.port());
    TlsConfig tls = listen.tls();
    if (tls != null) {
      ServerCertificates certificates;
      if (tls.keystore() == null) {
        certificates = ServerCertificates.pem(tls.certificates());
      } else if (tls.passwordFile() != null) {
        certificates = ServerCertificates.keyStore(tls.keystore(), tls.passwordFile());
      } else {
        certificates = ServerCertificates.keyStore(tls.keystore(), tls.password());
      }
      ListenerSpec.Tls.Builder settings = ListenerSpec.Tls.builder(certificates).protocols(tls.protocols()).provider(tls.provider());
      if (tls.clientCa() != null) {
        settings.clientCa(tls.clientCa()).clientAuth(tls.clientAuth() == TlsConfig.ClientAuth.OPTIONAL
            ? ListenerSpec.Tls.ClientAuth.OPTIONAL : ListenerSpec.Tls.ClientAuth.REQUIRED);
      }
      listener.tls(settings.build());
    }
    if (listen.redirectToHttps() != null) {
      listener.redirectToHttps(listen.redirectToHttps());
    }
    return listener.proxyProtocol(listen.proxyProtocol()).http2(listen.http2()).build();
  }

  /**
   * The {@code websocket}, {@code upstream}, {@code trustedProxies}, {@code limits.maxRequestBodyBytes} and {@code shutdown} settings, at start and again at
   * each reload: the balancer and the WebSocket proxy read them afresh for each request, connect and
   * connection, so a reload applies them to everything that starts after it.
   */
  static void applyLive(AffinityServer server, BalancerConfig config) {
    WebSocketConfig websocket = config.websocket() != null ? config.websocket() : WebSocketConfig.defaults();
    server.webSocketProxy().setMaxMessageBytes(websocket.maxMessageBytes());
    server.webSocketProxy().setIdleTimeout(websocket.idleTimeout());
    UpstreamConfig upstream = config.upstream();
    server.balancer().setUpstreamTimeout(upstream.timeout());
    server.balancer().setConnectTimeout(upstream.connectTimeout());
    server.balancer().setDirectRelay(upstream.directRelay());
    server.balancer().setTrustedProxies(config.trustedProxies());
    server.balancer().setMaxRequestBodyBytes(config.limits().maxRequestBodyBytes());
    // Read when a stop begins: a reload changes how the next one goes.
    server.setShutdown(config.shutdown());
  }

}
