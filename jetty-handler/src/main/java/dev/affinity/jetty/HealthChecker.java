package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.tls.TargetTls;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Active health checks: each target of each group with checks enabled is probed with
 * {@code GET path} every interval, on Jetty's scheduler, without blocking a thread, in the group's
 * {@linkplain TargetGroup#protocol() protocol} (HTTP/1.1, or HTTP/2 as the group's requests go); a
 * {@link TargetProtocol#GRPC} group's targets get a {@code grpc.health.v1.Health/Check} call over HTTP/2
 * instead ({@link GrpcHealthProbe}), healthy when it answers {@code SERVING}. Results move the
 * target's {@link dev.affinity.balancer.TargetHealth} state machine; timestamps come from the
 * injected clock. {@link #checkAll()} runs one round on demand, and the scheduler can be injected, so
 * tests need not wait for timers: one that records the probes and runs them when told proves the
 * schedule (first probe within a quarter interval, then one interval after each answer) in no time.
 */
public final class HealthChecker extends ContainerLifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(HealthChecker.class);
  static final String USER_AGENT = "Affinity-HealthChecker/1";

  private final Supplier<Router> router;
  private final Clock clock;
  private final HttpClient httpClient;
  // Made at the first check of an HTTP2 or GRPC group, on the HTTP/1 client's threads.
  private HttpClient http2Client;
  /** Clients for groups with TLS of their own to their targets, HTTP/1 and HTTP/2 apart; made at their first check. Guarded by this. */
  private final Map<TlsClient, HttpClient> tlsClients = new HashMap<>();
  private record TlsClient(TargetTls tls, boolean http2) {}
  /** Its own until {@link #useTargetTls} shares the balancer's. */
  private TargetTlsContexts targetTls = new TargetTlsContexts();
  private final Scheduler scheduler;
  private final Set<Target> scheduled = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
  /**
   * Moves on at each stop: a probe scheduled before a stop is dropped when it fires after a restart,
   * so that a scheduler which outlives this checker (an injected one) never runs two chains per target.
   */
  private final AtomicInteger generation = new AtomicInteger();

  /** Checks on a scheduler of its own (one daemon thread), started and stopped with this checker. */
  public HealthChecker(Supplier<Router> router, Clock clock) {
    this(router, clock, new ScheduledExecutorScheduler("affinity-health", true), true);
  }

  /**
   * Checks on {@code scheduler}, which the caller owns and starts (for example the server's own), and
   * which this checker neither starts nor stops; a test passes one that runs the probes when told.
   */
  public HealthChecker(Supplier<Router> router, Clock clock, Scheduler scheduler) {
    this(router, clock, requireNonNull(scheduler, "scheduler"), false);
  }

  private HealthChecker(Supplier<Router> router, Clock clock, Scheduler scheduler, boolean ownsScheduler) {
    this.router = requireNonNull(router, "router");
    this.clock = requireNonNull(clock, "clock");
    this.httpClient = new HttpClient();
    // Probes are a few requests a second at most: a lean pool, not Jetty's 8 idle threads.
    this.httpClient.setExecutor(AffinityThreadPool.forClient("affinity-health"));
    this.httpClient.setFollowRedirects(false);
    this.httpClient.setConnectTimeout(2000);
    this.scheduler = scheduler;
    addBean(scheduler, ownsScheduler);
    addBean(httpClient, true);
    addBean(targetTls, true);
  }

  /**
   * Checks {@code https://} targets of groups with TLS of their own through {@code contexts} (the
   * balancer's, so that one poller and one session cache serve each set of targets); before start.
   */
  void useTargetTls(TargetTlsContexts contexts) {
    requireNonNull(contexts, "contexts");
    removeBean(targetTls);
    targetTls = contexts;
  }

  @Override
  protected void doStart() throws Exception {
    targetTls.reloadsUnlessSet(scheduler, clock);
    super.doStart();
    refresh();
  }

  @Override
  protected void doStop() throws Exception {
    generation.incrementAndGet();
    scheduled.clear();
    super.doStop();
    synchronized (this) {
      if (http2Client != null) {
        removeBean(http2Client);
        http2Client = null;
      }
      for (HttpClient client : tlsClients.values()) {
        removeBean(client);
      }
      tlsClients.clear();
    }
  }

  /** The client a group's checks go out on: over HTTP/2 or not, with the group's TLS to its targets or the defaults. */
  private synchronized HttpClient clientFor(TargetGroup group, boolean http2) throws Exception {
    if (group == null || group.tls() == null) {
      return http2 ? http2Client() : httpClient;
    }
    TlsClient key = new TlsClient(group.tls(), http2);
    HttpClient client = tlsClients.get(key);
    if (client == null) {
      client = newProbeClient(http2, targetTls.contextFor(key.tls()));
      tlsClients.put(key, client);
    }
    return client;
  }

  /** The client for HTTP2 groups' checks, made and started at the first one. */
  private synchronized HttpClient http2Client() throws Exception {
    if (http2Client == null) {
      http2Client = newProbeClient(true, null);
    }
    return http2Client;
  }

  /**
   * A started client beside the HTTP/1 one, on its threads, scheduler, buffers and connect timeout: over
   * HTTP/2 or not, with {@code ssl} for a group's TLS to its targets ({@code null}: Jetty's default).
   */
  private HttpClient newProbeClient(boolean http2, SslContextFactory.Client ssl) throws Exception {
    HttpClient client = http2 ? new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client())) : new HttpClient();
    client.setFollowRedirects(false);
    client.setConnectTimeout(httpClient.getConnectTimeout());
    client.setExecutor(httpClient.getExecutor());
    client.setScheduler(httpClient.getScheduler());
    client.setByteBufferPool(httpClient.getByteBufferPool());
    if (ssl != null) {
      client.setSslContextFactory(ssl);
    }
    addBean(client, true);
    if (!client.isStarted()) {
      client.start();
    }
    return client;
  }

  /** Starts checking targets that are new in the current router (after a reload). */
  public void refresh() {
    for (TargetGroup group : router.get().groups()) {
      if (!group.healthCheck().enabled()) {
        continue;
      }
      for (Target target : group.targets()) {
        if (scheduled.add(target)) {
          // Spread the first probes over the interval so that many targets do not fire at once.
          long spread = Math.floorMod(target.id().hashCode(), Math.max(1, group.healthCheck().interval().toMillis() / 4));
          int chain = generation.get();
          scheduler.schedule(() -> runAndReschedule(target, chain), spread, TimeUnit.MILLISECONDS);
        }
      }
    }
  }

  /** Probes every checked target once, now; completes when all have answered or timed out. */
  public CompletableFuture<Void> checkAll() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (TargetGroup group : router.get().groups()) {
      if (group.healthCheck().enabled()) {
        for (Target target : group.targets()) {
          all.add(check(target, group.healthCheck(), group));
        }
      }
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture[0]));
  }

  private void runAndReschedule(Target target, int chain) {
    if (!isRunning() || chain != generation.get()) {
      return;
    }
    Router current = router.get();
    Target registered = current.target(target.id());
    if (registered != target) {
      // Removed or replaced by a reload: its checks end with it.
      scheduled.remove(target);
      return;
    }
    TargetGroup group = current.groupOf(target);
    HealthCheckSettings settings = group.healthCheck();
    check(target, settings, group).whenComplete((ignored, failure) -> {
      if (isRunning() && chain == generation.get()) {
        scheduler.schedule(() -> runAndReschedule(target, chain), settings.interval().toMillis(), TimeUnit.MILLISECONDS);
      }
    });
  }

  CompletableFuture<Void> check(Target target, HealthCheckSettings settings) {
    return check(target, settings, TargetProtocol.HTTP1);
  }

  /** One probe as for a group of {@code protocol} without TLS settings of its own. */
  CompletableFuture<Void> check(Target target, HealthCheckSettings settings, TargetProtocol protocol) {
    return check(target, settings, protocol, null);
  }

  private CompletableFuture<Void> check(Target target, HealthCheckSettings settings, TargetGroup group) {
    return check(target, settings, group.protocol(), group);
  }

  /**
   * One probe, over HTTP/2 for an {@link TargetProtocol#HTTP2} group (a target that speaks only HTTP/1.1 there fails it),
   * a gRPC health call for a {@link TargetProtocol#GRPC} one.
   */
  private CompletableFuture<Void> check(Target target, HealthCheckSettings settings, TargetProtocol protocol, TargetGroup group) {
    if (protocol == TargetProtocol.GRPC) {
      return checkGrpc(target, settings, group);
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      HttpClient client = clientFor(group, protocol.overHttp2());
      client.newRequest(target.uri().resolve(settings.path()))
          .headers(h -> h.put(HttpHeader.USER_AGENT, USER_AGENT))
          .timeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS)
          .send(result -> {
            record(target, settings, result);
            done.complete(null);
          });
    } catch (Exception e) {
      target.health().checkFailed(clock.instant(), "health check could not be sent: " + e.getMessage());
      done.complete(null);
    }
    return done;
  }

  /**
   * {@code POST /grpc.health.v1.Health/Check} over HTTP/2 (h2c, or h2 to an {@code https://} target) with
   * the group's service name; the deadline is passed on as {@code grpc-timeout}, as a gRPC client does.
   */
  private CompletableFuture<Void> checkGrpc(Target target, HealthCheckSettings settings, TargetGroup group) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      long timeoutMillis = settings.timeout().toMillis();
      clientFor(group, true).newRequest(target.uri().resolve(GrpcHealthProbe.PATH))
          .method(HttpMethod.POST)
          .headers(h -> h.put(HttpHeader.USER_AGENT, USER_AGENT)
              .put(HttpHeader.TE, "trailers")
              .put("grpc-timeout", timeoutMillis + "m"))
          .body(new BytesRequestContent(GrpcHealthProbe.CONTENT_TYPE, GrpcHealthProbe.request(settings.grpcService())))
          .timeout(timeoutMillis, TimeUnit.MILLISECONDS)
          .send(new BufferingResponseListener(GrpcHealthProbe.MAX_ANSWER_BYTES) {
            @Override
            public void onComplete(Result result) {
              String reason;
              if (result.isFailed()) {
                reason = "gRPC health check failed: " + result.getFailure();
              } else {
                org.eclipse.jetty.client.Response response = result.getResponse();
                observeInstance(target, response);
                reason = GrpcHealthProbe.unhealthyReason(response.getStatus(), response.getHeaders(), response.getTrailers(), getContent());
              }
              recordGrpc(target, reason);
              done.complete(null);
            }
          });
    } catch (Exception e) {
      target.health().checkFailed(clock.instant(), "gRPC health check could not be sent: " + e.getMessage());
      done.complete(null);
    }
    return done;
  }

  private void recordGrpc(Target target, String unhealthyReason) {
    if (unhealthyReason == null) {
      if (target.health().checkPassed(clock.instant())) {
        LOG.info("target {} ({}) is healthy again", target.id(), target.uri());
      }
    } else if (target.health().checkFailed(clock.instant(), unhealthyReason)) {
      LOG.warn("target {} ({}) is unhealthy: {}", target.id(), target.uri(), unhealthyReason);
    }
  }

  /**
   * A target may say which process answers, in {@value #INSTANCE_HEADER}: when the same address answers
   * as another instance, the sessions of the old one are gone, and core moves its pins once.
   */
  static final String INSTANCE_HEADER = "X-Affinity-Instance";

  private void observeInstance(Target target, org.eclipse.jetty.client.Response response) {
    String instance = response.getHeaders().get(INSTANCE_HEADER);
    if (instance != null && instance.length() <= 128) {
      String before = target.instanceId();
      if (target.instanceSeen(instance.strip(), clock.instant())) {
        LOG.warn("target {} ({}) answers as instance {} (was {}): clients pinned to the old instance move once",
            target.id(), target.uri(), instance.strip(), before);
      }
    }
  }

  private void record(Target target, HealthCheckSettings settings, Result result) {
    if (result.getResponse() != null) {
      observeInstance(target, result.getResponse());
    }
    if (result.isSucceeded() && settings.matches(result.getResponse().getStatus())) {
      if (target.health().checkPassed(clock.instant())) {
        LOG.info("target {} ({}) is healthy again", target.id(), target.uri());
      }
      return;
    }
    String reason = result.isFailed()
        ? "health check failed: " + result.getFailure()
        : "health check answered " + result.getResponse().getStatus() + ", expected " + settings.matcherLow() + "-" + settings.matcherHigh();
    if (target.health().checkFailed(clock.instant(), reason)) {
      LOG.warn("target {} ({}) is unhealthy: {}", target.id(), target.uri(), reason);
    }
  }
}
