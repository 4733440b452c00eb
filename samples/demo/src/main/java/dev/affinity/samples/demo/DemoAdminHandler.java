package dev.affinity.samples.demo;

import dev.affinity.cookie.CodecCounters;
import dev.affinity.jetty.AdminHandler;
import dev.affinity.jetty.AffinityBalancer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The balancer's admin endpoints plus the demo's own, through {@link AdminHandler#handleMore}:
 *
 * <pre>
 *   GET  /affinity/demo/targets                the demo's targets: id, container, running
 *   POST /affinity/demo/targets/{id}/kill      stop that target's container (header X-Affinity-Admin: 1)
 *   POST /affinity/demo/targets/{id}/restart   start it again on the same port
 * </pre>
 *
 * Killing does not tell the balancer anything: it finds out as a real balancer would, from the refused
 * connection, and fails the client over.
 */
final class DemoAdminHandler extends AdminHandler {
  private static final String PREFIX = "/demo/targets";
  private final Supplier<List<CartTarget>> targets;

  DemoAdminHandler(String path, boolean loopbackOnly, AffinityBalancer balancer, CodecCounters codecCounters,
      Supplier<List<CartTarget>> targets) {
    super(path, loopbackOnly, balancer, codecCounters);
    this.targets = targets;
  }

  @Override
  protected boolean handleMore(String subPath, Request request, Response response, Callback callback) {
    if (subPath.equals(PREFIX)) {
      if (!HttpMethod.GET.is(request.getMethod())) {
        return plain(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "405 Method Not Allowed\n");
      }
      return json(response, callback, HttpStatus.OK_200, targetsJson());
    }
    if (!subPath.startsWith(PREFIX + "/")) {
      return super.handleMore(subPath, request, response, callback);
    }
    String rest = subPath.substring(PREFIX.length() + 1);
    int slash = rest.indexOf('/');
    String id = slash < 0 ? rest : rest.substring(0, slash);
    String action = slash < 0 ? "" : rest.substring(slash + 1);
    if (!action.equals("kill") && !action.equals("restart")) {
      return super.handleMore(subPath, request, response, callback);
    }
    if (!HttpMethod.POST.is(request.getMethod())) {
      return plain(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "405 Method Not Allowed\n");
    }
    if (request.getHeaders().get(ADMIN_HEADER) == null) {
      return plain(response, callback, HttpStatus.FORBIDDEN_403,
          "403 Forbidden: admin actions need the " + ADMIN_HEADER + " header\n");
    }
    CartTarget target = targets.get().stream().filter(t -> t.id().equals(id)).findFirst().orElse(null);
    if (target == null) {
      return plain(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found: no demo target \"" + id + "\"\n");
    }
    // Stopping or starting a container takes a moment: not on the balancer's request thread.
    CompletableFuture.runAsync(() -> {
      try {
        if (action.equals("kill")) {
          target.kill();
        } else {
          target.start();
        }
      } catch (Exception e) {
        throw new IllegalStateException(action + " " + id + " failed: " + e.getMessage(), e);
      }
    }).whenComplete((ignored, failure) -> {
      if (failure == null) {
        json(response, callback, HttpStatus.OK_200, targetsJson());
      } else {
        plain(response, callback, HttpStatus.INTERNAL_SERVER_ERROR_500, failure.getCause().getMessage() + "\n");
      }
    });
    return true;
  }

  private String targetsJson() {
    StringBuilder json = new StringBuilder("{\"targets\":[");
    boolean first = true;
    for (CartTarget t : targets.get()) {
      json.append(first ? "" : ",")
          .append("{\"id\":\"").append(t.id()).append('"')
          .append(",\"container\":\"").append(t.container()).append('"')
          .append(",\"uri\":\"").append(t.uri()).append('"')
          .append(",\"running\":").append(t.running())
          .append('}');
      first = false;
    }
    return json.append("]}").toString();
  }

  private static boolean json(Response response, Callback callback, int status, String body) {
    return write(response, callback, status, "application/json;charset=utf-8", body);
  }

  private static boolean plain(Response response, Callback callback, int status, String body) {
    return write(response, callback, status, "text/plain;charset=utf-8", body);
  }

  private static boolean write(Response response, Callback callback, int status, String contentType, String body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    Content.Sink.write(response, true, body, callback);
    return true;
  }
}
