package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.Rejection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The balancer's own endpoints under one path ({@code /affinity} by default): {@code status.json}
 * with every group and target, their health and counters, and the cookie codec's counters. Only
 * loopback clients are served unless configured otherwise; others get the same 404 as any unknown
 * path, so the admin surface is not advertised.
 */
public class AdminHandler extends Handler.Abstract {
  private final String path;
  private final boolean loopbackOnly;
  private final AffinityBalancer balancer;
  private final CodecCounters codecCounters;

  public AdminHandler(String path, boolean loopbackOnly, AffinityBalancer balancer, CodecCounters codecCounters) {
    requireNonNull(path, "path");
    if (!path.startsWith("/") || path.length() < 2 || path.endsWith("/")) {
      throw new IllegalArgumentException("admin path must start with / and not end with /, got \"" + path + "\"");
    }
    this.path = path;
    this.loopbackOnly = loopbackOnly;
    this.balancer = requireNonNull(balancer, "balancer");
    this.codecCounters = requireNonNull(codecCounters, "codecCounters");
  }

  public String path() {
    return path;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String pathInContext = Request.getPathInContext(request);
    if (!pathInContext.equals(path) && !pathInContext.startsWith(path + "/")) {
      return false;
    }
    if (loopbackOnly && !isLoopback(request.getConnectionMetaData().getRemoteSocketAddress())) {
      AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found\n", null);
      return true;
    }
    String sub = pathInContext.substring(path.length());
    if (sub.equals("/status.json")) {
      write(response, callback, "application/json", statusJson());
      return true;
    }
    return handleMore(sub, request, response, callback);
  }

  /** Hook for further admin endpoints; answers 404 by default. */
  protected boolean handleMore(String subPath, Request request, Response response, Callback callback) {
    AffinityBalancer.writePlain(response, callback, HttpStatus.NOT_FOUND_404,
        "404 Not Found. Try " + path + "/status.json\n", null);
    return true;
  }

  private static boolean isLoopback(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      InetAddress ip = inet.getAddress();
      return ip != null && ip.isLoopbackAddress();
    }
    return false;
  }

  static void write(Response response, Callback callback, String contentType, String body) {
    response.setStatus(HttpStatus.OK_200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType + ";charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    Content.Sink.write(response, true, body, callback);
  }

  /** The whole picture, as JSON. */
  public String statusJson() {
    Router router = balancer.router();
    Instant now = router.cookies().now();
    Json json = new Json().object();
    json.field("time", now.toString());
    json.key("groups").array();
    for (TargetGroup group : router.groups()) {
      json.object()
          .field("name", group.name())
          .field("algorithm", group.algorithm().toString())
          .field("stickiness", group.stickiness().type().name().toLowerCase(java.util.Locale.ROOT));
      json.key("targets").array();
      for (Target t : group.targets()) {
        json.object()
            .field("id", t.id())
            .field("uri", t.uri().toString())
            .field("weight", t.weight())
            .field("health", t.health().state().name().toLowerCase(java.util.Locale.ROOT))
            .field("available", t.isAvailable(now))
            .field("healthReason", t.health().lastReason())
            .field("draining", t.isDraining())
            .field("inFlight", t.inFlight())
            .field("requests", t.requests())
            .field("stickyHits", t.stickyHits())
            .field("newPins", t.newPins())
            .field("rePins", t.rePins())
            .field("failures", t.failures())
            .endObject();
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
        .endObject();
    return json.endObject().toString();
  }
}
