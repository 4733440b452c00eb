package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.admin.AdminTokens;
import dev.affinity.balancer.Forward;
import dev.affinity.balancer.PassiveHealth;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Rejection;
import dev.affinity.observe.TrafficHistory;
import dev.affinity.rules.FixedResponse;
import dev.affinity.rules.Redirect;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleSet;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The balancer's own endpoints under one path ({@code /affinity} by default): {@code status} (a
 * small HTML page that refreshes itself), {@code status.json} with every group and target, their
 * health and counters, and the cookie codec's counters, {@code metrics} through a {@link MetricsWriter}
 * when one is set (the standalone balancer sets a Prometheus one; without one it answers 404), and
 * {@code POST targets/{id}/drain|undrain}, {@code api/...} through an {@link Api} when one is set, and
 * {@code assets/} (the page's charting library, uPlot, from its webjar: the page needs nothing from another
 * origin). The page draws each target's requests per second and pinned share from the balancer's
 * {@link TrafficHistory}, and lists targets that left lately. Only
 * loopback clients are served unless configured otherwise; others get the same 404 as any unknown
 * path, so the admin surface is not advertised. The probes {@code ready} and {@code live} answer
 * everyone: they reveal a status code, and probes come from a node or a load balancer, not loopback.
 *
 * <p>With {@linkplain #setTokens tokens}, every other endpoint but the static {@code status} page needs an
 * {@code Authorization: Bearer} token whose scope covers the request ({@link AdminTokens}: reads need
 * {@code read}, changes {@code write}); loopback-only then is an extra guard, not the only one. The
 * {@code api/} paths need a token even when none is configured: they refuse everyone then.
 */
public class AdminHandler extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(AdminHandler.class);
  /** Required on admin actions (drain, undrain) when no tokens are configured. */
  public static final String ADMIN_HEADER = "X-Affinity-Admin";
  private static final String STATUS_PAGE = loadStatusPage();
  /** uPlot's files in its webjar (MIT licensed), served under {@code assets/}: the page loads nothing from elsewhere. */
  private static final String UPLOT = "/META-INF/resources/webjars/uplot/1.6.30/";
  private static final java.util.Map<String, Asset> ASSETS = java.util.Map.of(
      "uplot.iife.min.js", new Asset(UPLOT + "dist/uPlot.iife.min.js", "text/javascript"),
      "uplot.min.css", new Asset(UPLOT + "dist/uPlot.min.css", "text/css"),
      "uplot.LICENSE", new Asset(UPLOT + "LICENSE", "text/plain"));
  private final String path;
  private final String readyPath;
  private final String livePath;
  private final boolean loopbackOnly;
  private final AffinityBalancer balancer;

  /**
   * A group's TLS to its targets as in force: what the file said, and the client certificate shown now,
   * with its expiry and any rotation that is waiting for its other half.
   */
  private void writeTargetTls(Json json, dev.affinity.tls.TargetTls tls) {
    TargetSslContextFactory inForce = balancer.targetTls().find(tls);
    java.security.cert.X509Certificate client = inForce == null ? null : inForce.clientCertificate();
    json.key("tls").object()
        .field("ca", tls.ca().map(Object::toString).orElse("JDK trust store"))
        .field("serverName", tls.serverName().orElse(""))
        .field("clientCertificate", client == null ? "" : client.getSubjectX500Principal().getName())
        .field("clientCertificateNotAfter", client == null ? "" : client.getNotAfter().toInstant().toString())
        .field("pendingReload", inForce == null || inForce.pendingReloadProblem() == null ? "" : inForce.pendingReloadProblem())
        .endObject();
  }
  private final CodecCounters codecCounters;
  private volatile MetricsWriter metricsWriter;
  private volatile BooleanSupplier readiness = this::isStarted;
  private volatile AdminTokens tokens = AdminTokens.none();
  private volatile Api api;

  /**
   * The JSON API under {@code {path}/api/}: called only for a caller whose token covers the request, so
   * an implementation checks input, not access. It must complete the callback, as a handler does.
   */
  @FunctionalInterface
  public interface Api {
    /** @param subPath what follows {@code {path}/api}, e.g. {@code /groups} */
    void handle(String subPath, AdminTokens.Caller caller, Request request, Response response, Callback callback);
  }

  /**
   * Renders the counters for {@code metrics} in some exposition format. The handler itself depends on
   * no metrics library; an application that wants a scrape endpoint brings the format it needs.
   */
  @FunctionalInterface
  public interface MetricsWriter {
    /** Plain text unless overridden; Prometheus' own writer names its version. */
    String DEFAULT_CONTENT_TYPE = "text/plain;charset=utf-8";

    /**
     * The whole scrape, built in memory: it is called on the request's thread, which must not block,
     * and it reads the live counters, so nothing is counted twice.
     */
    String write(AffinityBalancer balancer, CodecCounters codecCounters);

    default String contentType() {
      return DEFAULT_CONTENT_TYPE;
    }
  }

  public AdminHandler(String path, boolean loopbackOnly, AffinityBalancer balancer, CodecCounters codecCounters) {
    requireNonNull(path, "path");
    if (!path.startsWith("/") || path.length() < 2 || path.endsWith("/")) {
      throw new IllegalArgumentException("admin path must start with / and not end with /, got \"" + path + "\"");
    }
    this.path = path;
    this.readyPath = path + "/ready";
    this.livePath = path + "/live";
    this.loopbackOnly = loopbackOnly;
    this.balancer = requireNonNull(balancer, "balancer");
    this.codecCounters = requireNonNull(codecCounters, "codecCounters");
  }

  public String path() {
    return path;
  }

  /** The bearer tokens every admin endpoint but the probes and the static page then requires; none by default. */
  public void setTokens(AdminTokens tokens) {
    this.tokens = requireNonNull(tokens, "tokens");
  }

  public AdminTokens getTokens() {
    return tokens;
  }

  /** Serves {@code {path}/api/...} with {@code api}; without one (the default) those paths answer 404 once authorized. */
  public void setApi(Api api) {
    this.api = api;
  }

  /** Serves {@code metrics} with {@code writer}; {@code null} (the default) answers it with 404. */
  public void setMetricsWriter(MetricsWriter writer) {
    this.metricsWriter = writer;
  }

  public MetricsWriter getMetricsWriter() {
    return metricsWriter;
  }

  /**
   * Non-blocking: every answer is built in memory and written asynchronously, so the balancer's server
   * stays non-blocking with the admin endpoints in it. A subclass whose {@link #handleMore} blocks
   * must return {@code BLOCKING}.
   */
  @Override
  public InvocationType getInvocationType() {
    return InvocationType.NON_BLOCKING;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String pathInContext = Request.getPathInContext(request);
    if (!pathInContext.equals(path) && !pathInContext.startsWith(path + "/")) {
      return false;
    }
    if (isProbe(pathInContext)) {
      // Before the loopback check: Kubernetes probes come from the node's address, a load balancer's health
      // check from its own; a status code is all these reveal.
      return probe(pathInContext.equals(readyPath), request, response, callback);
    }
    // The client as core's trusted-proxy rule resolves it: a request a trusted proxy on this machine
    // relays for a remote client is not a loopback one.
    if (loopbackOnly && !ClientOrigins.isLoopbackClient(request, balancer.getTrustedProxies())) {
      AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found\n", null);
      return true;
    }
    String sub = pathInContext.substring(path.length());
    boolean get = HttpMethod.GET.is(request.getMethod()) || HttpMethod.HEAD.is(request.getMethod());
    boolean apiPath = sub.equals("/api") || sub.startsWith("/api/");
    AdminTokens.Caller caller = null;
    // The page itself is static (its data comes from status.json); a browser cannot send a bearer token
    // when it navigates, so the page asks for one and sends it with its own requests.
    // Its assets (the charting library) are public files: a <script src> cannot carry a token either.
    boolean openPage = (sub.isEmpty() || sub.equals("/") || sub.equals("/status") || sub.startsWith("/assets/")) && get;
    AdminTokens tokens = this.tokens;
    if (apiPath || !tokens.isEmpty() && !openPage) {
      AdminTokens.Decision decision = tokens.authorize(request.getHeaders().get(HttpHeader.AUTHORIZATION),
          AdminTokens.Scope.neededFor(request.getMethod()));
      if (decision instanceof AdminTokens.Unauthenticated refused) {
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"affinity\"");
        return error(response, callback, HttpStatus.UNAUTHORIZED_401, refused.reason(), null);
      }
      if (decision instanceof AdminTokens.Forbidden forbidden) {
        return error(response, callback, HttpStatus.FORBIDDEN_403, "token \"" + forbidden.caller().id() + "\" has scope "
            + forbidden.caller().scope().name().toLowerCase(java.util.Locale.ROOT) + "; " + request.getMethod() + " needs write", null);
      }
      caller = ((AdminTokens.Granted) decision).caller();
    }
    if (apiPath) {
      Api api = this.api;
      if (api == null) {
        return error(response, callback, HttpStatus.NOT_FOUND_404, "no registration API on this server", null);
      }
      api.handle(sub.substring("/api".length()), caller, request, response, callback);
      return true;
    }
    switch (sub) {
      case "", "/" -> {
        // Relative links in the page resolve against the admin path itself.
        Response.sendRedirect(request, response, callback, path + "/status");
        return true;
      }
      case "/status" -> {
        return get ? write(response, callback, "text/html", statusPage()) : methodNotAllowed(response, callback);
      }
      case "/status.json" -> {
        return get ? write(response, callback, "application/json", statusJson()) : methodNotAllowed(response, callback);
      }
      case "/metrics" -> {
        MetricsWriter writer = metricsWriter;
        if (writer == null) {
          AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404,
              "404 Not Found: no metrics writer is configured. Try " + path + "/status.json\n", null);
          return true;
        }
        if (!get) {
          return methodNotAllowed(response, callback);
        }
        response.setStatus(HttpStatus.OK_200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, writer.contentType());
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        Content.Sink.write(response, true, writer.write(balancer, codecCounters), callback);
        return true;
      }
      default -> {
        if (sub.startsWith("/assets/")) {
          Asset asset = ASSETS.get(sub.substring("/assets/".length()));
          if (asset == null) {
            return notFound(response, callback);
          }
          return get ? asset.write(response, callback) : methodNotAllowed(response, callback);
        }
        if (sub.startsWith("/targets/")) {
          return targetAction(sub.substring("/targets/".length()), caller, request, response, callback);
        }
        return handleMore(sub, request, response, callback);
      }
    }
  }

  /** Whether {@code pathInContext} is {@code {path}/ready} or {@code {path}/live}. */
  boolean isProbe(String pathInContext) {
    return pathInContext.equals(readyPath) || pathInContext.equals(livePath);
  }

  /**
   * What {@code ready} answers: 200 while it says {@code true}, else 503. By default, whether this handler
   * is started; {@link AffinityServer} sets its own, which turns false the moment a stop begins.
   */
  public void setReadiness(BooleanSupplier readiness) {
    this.readiness = requireNonNull(readiness, "readiness");
  }

  /**
   * {@code ready}: 200 while serving and not stopping, 503 from the first moment of a stop (what a load
   * balancer or a Kubernetes readiness probe should follow); {@code live}: 200 while the process serves
   * (a liveness probe). Neither depends on the targets: with every target down the balancer still
   * answers (503 with {@code Retry-After}), and taking it out of rotation would only turn those answers
   * into refused connections.
   */
  private boolean probe(boolean ready, Request request, Response response, Callback callback) {
    if (!HttpMethod.GET.is(request.getMethod()) && !HttpMethod.HEAD.is(request.getMethod())) {
      return methodNotAllowed(response, callback);
    }
    if (!ready) {
      return write(response, callback, "text/plain", "live\n");
    }
    if (readiness.getAsBoolean()) {
      return write(response, callback, "text/plain", "ready\n");
    }
    response.setStatus(HttpStatus.SERVICE_UNAVAILABLE_503);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    Content.Sink.write(response, true, "stopping\n", callback);
    return true;
  }

  /**
   * {@code POST targets/{id}/drain} and {@code /undrain}. A custom header is required so that a
   * page on another origin cannot trigger it from a browser on the same machine (it would need a
   * CORS preflight, which this handler never grants).
   */
  private boolean targetAction(String rest, AdminTokens.Caller caller, Request request, Response response, Callback callback) {
    int slash = rest.indexOf('/');
    String id = slash < 0 ? "" : rest.substring(0, slash);
    String action = slash < 0 ? rest : rest.substring(slash + 1);
    if (!action.equals("drain") && !action.equals("undrain")) {
      return notFound(response, callback);
    }
    if (!HttpMethod.POST.is(request.getMethod())) {
      return methodNotAllowed(response, callback);
    }
    // A write token (checked in handle) is the guard when tokens are configured; the header only without them.
    if (caller == null && request.getHeaders().get(ADMIN_HEADER) == null) {
      AffinityBalancer.writePlain(response, callback, HttpStatus.FORBIDDEN_403,
          "403 Forbidden: admin actions need the " + ADMIN_HEADER + " header\n", null);
      return true;
    }
    Router router = balancer.router();
    Target target = router.target(id);
    if (target == null) {
      AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found: no target \"" + id + "\"\n", null);
      return true;
    }
    if (action.equals("drain")) {
      target.drain(router.cookies().now());
    } else {
      target.undrain();
    }
    LOG.info("affinity: admin {} target {} (by {})", action, id, caller == null ? "a loopback client without tokens" : "token " + caller.id());
    write(response, callback, "application/json",
        new Json().object().field("id", target.id()).field("draining", target.isDraining()).endObject().toString());
    return true;
  }

  /** Hook for further admin endpoints; answers 404 by default. */
  protected boolean handleMore(String subPath, Request request, Response response, Callback callback) {
    return notFound(response, callback);
  }

  private boolean notFound(Response response, Callback callback) {
    AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404,
        "404 Not Found. Try " + path + "/status, " + path + "/status.json"
            + (metricsWriter == null ? "" : " or " + path + "/metrics") + "\n", null);
    return true;
  }

  /**
   * A JSON error: {@code {"error": message, "field": field}} ({@code field} names the request field at fault,
   * or is left out). Used by the API too, so that every refusal has the same shape.
   */
  public static boolean error(Response response, Callback callback, int status, String message, String field) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json;charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    Json json = new Json().object().field("error", message);
    if (field != null) {
      json.field("field", field);
    }
    Content.Sink.write(response, true, json.endObject().toString() + "\n", callback);
    return true;
  }

  private static boolean methodNotAllowed(Response response, Callback callback) {
    AffinityBalancer.writePlain(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "405 Method Not Allowed\n", null);
    return true;
  }

  private static String statusPage() {
    return STATUS_PAGE;
  }

  private static String loadStatusPage() {
    try (java.io.InputStream in = AdminHandler.class.getResourceAsStream("status.html")) {
      if (in == null) {
        throw new IllegalStateException("status.html is missing from the jar");
      }
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * A file from the classpath, read on first use and kept: the same bytes for every page load. Cached by
   * browsers for a day (the version is in the jar, and a new jar comes with a restart).
   */
  private static final class Asset {
    private final String resource;
    private final String contentType;
    private volatile byte[] bytes;

    Asset(String resource, String contentType) {
      this.resource = resource;
      this.contentType = contentType;
    }

    boolean write(Response response, Callback callback) {
      byte[] body = bytes;
      if (body == null) {
        try (java.io.InputStream in = AdminHandler.class.getResourceAsStream(resource)) {
          if (in == null) {
            AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found: " + resource + " is not on the classpath\n", null);
            return true;
          }
          body = in.readAllBytes();
          bytes = body;
        } catch (java.io.IOException e) {
          AffinityBalancer.writePlain(response, callback, HttpStatus.INTERNAL_SERVER_ERROR_500, "500 cannot read " + resource + "\n", null);
          return true;
        }
      }
      response.setStatus(HttpStatus.OK_200);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType + ";charset=utf-8");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "private, max-age=86400");
      response.getHeaders().put("X-Content-Type-Options", "nosniff");
      response.write(true, java.nio.ByteBuffer.wrap(body), callback);
      return true;
    }
  }

  static boolean isLoopback(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      InetAddress ip = inet.getAddress();
      return ip != null && ip.isLoopbackAddress();
    }
    return false;
  }

  static boolean write(Response response, Callback callback, String contentType, String body) {
    response.setStatus(HttpStatus.OK_200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType + ";charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    Content.Sink.write(response, true, body, callback);
    return true;
  }

  private volatile Limits limits;
  private volatile java.util.function.LongSupplier requestHeadTimeouts;

  /** Shows the server's limits and its request head timeouts in {@code status.json}; {@link AffinityServer} calls it. */
  void serverLimits(Limits limits, java.util.function.LongSupplier requestHeadTimeouts) {
    this.limits = requireNonNull(limits, "limits");
    this.requestHeadTimeouts = requireNonNull(requestHeadTimeouts, "requestHeadTimeouts");
  }

  /**
   * The listener rules in force: {@code global} (every listener without its own), {@code listeners}
   * (by listener name, those with their own), each rule with its hit count, and {@code defaultAction}.
   * Every action carries a {@code summary} for people; the other fields are for tools.
   */
  private static void rules(Json json, Router router) {
    json.key("rules").object();
    json.key("global");
    rules(json, router.rules(null));
    json.key("listeners").object();
    router.listenerRules().forEach((listener, set) -> {
      json.key(listener);
      rules(json, set);
    });
    json.endObject();
    json.key("defaultAction");
    RuleAction fallback = router.defaultAction();
    if (fallback == null) {
      // As before rules existed: the top-level forward (and its groups' route cookies).
      json.object().field("type", "forward").field("topLevel", true).field("summary", "the top-level forward").endObject();
    } else {
      action(json, fallback);
    }
    json.endObject();
  }

  private static void rules(Json json, RuleSet set) {
    json.array();
    for (Rule rule : set.rules()) {
      json.object()
          .field("priority", rule.priority())
          .field("name", rule.name())
          .field("when", rule.when().toString());
      json.key("action");
      action(json, rule.action());
      json.field("hits", rule.hits()).endObject();
    }
    json.endArray();
  }

  private static void action(Json json, RuleAction action) {
    json.object();
    if (action instanceof RuleAction.Forward f) {
      Forward forward = f.forward();
      json.field("type", "forward");
      json.key("groups").array();
      StringBuilder summary = new StringBuilder("forward to ");
      forward.weights().forEach((group, weight) -> {
        json.object().field("name", group).field("weight", weight).endObject();
        if (summary.length() > "forward to ".length()) {
          summary.append(", ");
        }
        summary.append(group);
        if (forward.weights().size() > 1) {
          summary.append(" (weight ").append(weight).append(')');
        }
      });
      json.endArray();
      Expiry stickiness = forward.groupStickiness();
      json.field("groupStickiness", stickiness == null ? null : stickiness.duration().toString());
      if (stickiness != null) {
        summary.append(", group stickiness ").append(stickiness.duration());
      }
      json.field("summary", summary.toString());
    } else if (action instanceof Redirect r) {
      String location = r.protocol() + "://" + r.host() + ":" + r.port() + r.path() + "?" + r.query();
      json.field("type", "redirect").field("status", r.status()).field("location", location)
          .field("summary", "redirect " + r.status() + " to " + location);
    } else {
      FixedResponse fixed = (FixedResponse) action;
      json.field("type", "fixedResponse").field("status", fixed.status()).field("contentType", fixed.contentType())
          .field("summary", "fixed response " + fixed.status() + " " + fixed.contentType());
    }
    json.endObject();
  }

  /** What the page says the pinned share is: the balancer keeps no list of clients, their pins are in their cookies. */
  static final String PINNED_SHARE = "share of the group's pinned requests (sticky hits, new pins and re-pins) in each interval;"
      + " a busy client weighs more than a quiet one";

  /**
   * Where {@code t} is in its life in the group: {@code ramping} under slow start (with {@code rampPercent}),
   * {@code draining} (with when its deregistration delay ends), else its health ({@code ejected},
   * {@code unhealthy}, {@code healthy}); {@code joinedAt} when it joined while the balancer ran.
   */
  private static void lifecycle(Json json, TargetGroup group, Target t, Instant now, TrafficHistory history) {
    String state;
    Instant drainingSince = t.drainingSince();
    double ramp = group.rampFraction(t, now);
    if (drainingSince != null) {
      state = "draining";
      Instant ends = drainingSince.plus(group.deregistrationDelay());
      json.field("drainEndsAt", ends.toString())
          .field("drainSecondsLeft", Math.max(0, java.time.Duration.between(now, ends).toSeconds()));
    } else if (t.health().isEjected(now)) {
      state = "ejected";
    } else if (!t.isAvailable(now)) {
      state = "unhealthy";
    } else if (ramp < 1.0) {
      state = "ramping";
    } else {
      state = "healthy";
    }
    json.field("state", state).field("rampPercent", (long) Math.floor(ramp * 100));
    Instant joined = history.joinedAt(group.name(), t.id());
    json.field("joinedAt", joined == null ? "" : joined.toString());
  }

  /** Arrays as uPlot takes them: times in epoch seconds, requests per second, pinned share in percent (null: none pinned). */
  private static void samples(Json json, TrafficHistory.Samples samples) {
    json.object();
    json.key("t").array();
    for (long t : samples.epochSeconds()) {
      json.value(t);
    }
    json.endArray();
    json.key("requestsPerSecond").array();
    for (double r : samples.requestsPerSecond()) {
      json.value(r);
    }
    json.endArray();
    json.key("pinnedPercent").array();
    for (double share : samples.pinnedShare()) {
      json.value(share * 100);
    }
    json.endArray();
    json.endObject();
  }

  /** The whole picture, as JSON. */
  public String statusJson() {
    Router router = balancer.router();
    Instant now = router.cookies().now();
    TrafficHistory history = balancer.history();
    Json json = new Json().object();
    json.field("time", now.toString());
    json.key("history").object()
        .field("interval", history.interval().toString())
        .field("span", history.span().toString())
        .field("pinnedShare", PINNED_SHARE)
        .endObject();
    json.key("groups").array();
    for (TargetGroup group : router.groups()) {
      json.object()
          .field("name", group.name())
          .field("algorithm", group.algorithm().toString())
          .field("stickiness", group.stickiness().type().name().toLowerCase(java.util.Locale.ROOT))
          .field("slowStart", group.slowStart().toString())
          .field("deregistrationDelay", group.deregistrationDelay().toString());
      PassiveHealth passive = group.passiveHealth();
      json.key("passiveHealth").object()
          .field("enabled", passive.enabled())
          .field("consecutive5xx", passive.consecutive5xx())
          .field("consecutiveTimeouts", passive.consecutiveTimeouts())
          .field("ejectFor", passive.ejectFor().toString())
          .field("maxEjectFor", passive.maxEjectFor().toString())
          .field("maxEjectedPercent", passive.maxEjectedPercent())
          .endObject();
      if (group.tls() != null) {
        writeTargetTls(json, group.tls());
      }
      json.key("targets").array();
      for (Target t : group.targets()) {
        json.object()
            .field("id", t.id())
            .field("uri", t.uri().toString())
            .field("weight", t.weight())
            .field("health", t.health().state().name().toLowerCase(java.util.Locale.ROOT))
            .field("available", t.isAvailable(now))
            .field("healthReason", t.health().lastReason())
            .field("ejected", t.health().isEjected(now))
            .field("ejections", t.health().ejections())
            .field("ejectedUntil", t.health().ejectedUntil() == null ? "" : t.health().ejectedUntil().toString())
            .field("ejectionReason", t.health().ejectionReason() == null ? "" : t.health().ejectionReason())
            .field("consecutiveFailedAnswers", t.health().consecutiveFailedAnswers())
            .field("consecutiveTimeouts", t.health().consecutiveTimeouts())
            .field("draining", t.isDraining())
            .field("inFlight", t.inFlight())
            .field("requests", t.requests())
            .field("stickyHits", t.stickyHits())
            .field("newPins", t.newPins())
            .field("rePins", t.rePins())
            .field("failures", t.failures())
            .field("openWebSockets", t.openWebSockets());
        lifecycle(json, group, t, now, history);
        json.key("history");
        samples(json, history.samples(group.name(), t.id()));
        json.endObject();
      }
      json.endArray();
      json.key("left").array();
      for (TrafficHistory.Departure d : history.departed(group.name(), now)) {
        json.object().field("id", d.targetId()).field("uri", d.uri()).field("state", "left").field("leftAt", d.leftAt().toString());
        json.key("history");
        samples(json, history.samples(group.name(), d.targetId()));
        json.endObject();
      }
      json.endArray().endObject();
    }
    json.endArray();
    json.key("cookies").object()
        .field("sealed", codecCounters.sealedCount())
        .field("opened", codecCounters.openedCount(false))
        .field("openedFromCache", codecCounters.openedCount(true))
        .field("invalid", codecCounters.rejectedTotal());
    json.key("invalidByReason").object();
    for (Rejection reason : Rejection.values()) {
      json.field(reason.name().toLowerCase(java.util.Locale.ROOT), codecCounters.rejectedCount(reason));
    }
    json.endObject().endObject();
    json.key("balancer").object()
        .field("failovers", balancer.failovers())
        .field("noTarget503", balancer.noTargetResponses())
        .field("badGateway502", balancer.badGatewayResponses())
        .field("gatewayTimeout504", balancer.gatewayTimeoutResponses())
        .field("tooLarge413", balancer.tooLargeResponses())
        .field("ruleAnswers", balancer.ruleAnswers())
        .field("refusedPaths", balancer.refusedPaths());
    if (requestHeadTimeouts != null) {
      json.field("requestHeadTimeout408", requestHeadTimeouts.getAsLong());
    }
    json.endObject();
    rules(json, router);
    if (limits != null) {
      // The values in force: a reload changes only maxRequestBodyBytes, the rest at the next restart.
      long body = balancer.getMaxRequestBodyBytes();
      json.key("limits").object()
          .field("maxRequestBodyBytes", body == Limits.NO_BODY_LIMIT ? "none" : Long.toString(body))
          .field("idleTimeout", limits.idleTimeout().toString())
          .field("requestHeaderTimeout", limits.requestHeaderTimeout().toString())
          .field("maxConnections", limits.maxConnections())
          .field("maxRequestHeaderBytes", limits.maxRequestHeaderBytes())
          .field("threads", limits.threads())
          .field("h2MaxConcurrentStreams", limits.h2MaxConcurrentStreams())
          .endObject();
    }
    return json.endObject().toString();
  }
}
