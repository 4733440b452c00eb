package dev.affinity.jetty;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.tls.TargetTls;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.eclipse.jetty.client.HttpClient;

/**
 * The {@code HttpClient}s of target groups that set their own upstream timeouts or TLS to their
 * targets ({@link TargetGroup#tls()}: a client has one {@code SslContextFactory}). A Jetty client has
 * one connect timeout and one idle timeout for all its connections, and setting them per request
 * re-arms the connection's idle check twice on every request (about 2 % of a core in a profile), so
 * a group whose timeouts differ from the balancer's gets a client of its own, made when a router
 * that has the group comes in, on the balancer's executor, scheduler and buffers. Groups with the same
 * timeouts and protocol share one; groups with the balancer's own use the balancer's client.
 */
final class GroupClients {
  /** What tells clients apart. */
  record Settings(TargetProtocol protocol, long idleTimeoutMillis, long connectTimeoutMillis, TargetTls tls) {}

  private final Map<Settings, HttpClient> bySettings = new ConcurrentHashMap<>();
  private volatile Map<TargetGroup, HttpClient> byGroup = Map.of();

  /** The client of a group with its own timeouts or TLS, or {@code null} for the balancer's. */
  HttpClient clientFor(TargetGroup group) {
    if (usesBalancers(group)) {
      return null;
    }
    return byGroup.get(group);
  }

  private static boolean usesBalancers(TargetGroup group) {
    return group.upstreamTimeout() == null && group.connectTimeout() == null && group.tls() == null;
  }

  /**
   * Makes the clients {@code router}'s groups need (at start, at a reload, after the balancer's own
   * timeouts changed). Clients no group needs any more stay until the balancer stops: exchanges
   * routed before a reload may still be using them, and there are as many as distinct settings.
   */
  synchronized void update(Router router, Duration timeout, Duration connectTimeout, Function<Settings, HttpClient> newClient) {
    Map<TargetGroup, HttpClient> groups = new IdentityHashMap<>();
    for (TargetGroup group : router.groups()) {
      if (usesBalancers(group)) {
        continue;
      }
      // A gRPC group's clients have no idle timeout (its upstream timeout is a timer per request): only
      // a connect timeout of its own needs a client of its own.
      boolean grpc = group.protocol() == TargetProtocol.GRPC;
      long idleTimeoutMillis = (group.upstreamTimeout() != null ? group.upstreamTimeout() : timeout).toMillis();
      Settings settings = new Settings(group.protocol(), grpc ? 0 : idleTimeoutMillis,
          (group.connectTimeout() != null ? group.connectTimeout() : connectTimeout).toMillis(), group.tls());
      if ((grpc || settings.idleTimeoutMillis() == timeout.toMillis()) && settings.connectTimeoutMillis() == connectTimeout.toMillis()
          && settings.tls() == null) {
        continue;
      }
      groups.put(group, bySettings.computeIfAbsent(settings, newClient));
    }
    byGroup = groups;
  }

  /** Forgets every client (the balancer stopped them as its beans). */
  synchronized void clear(Consumer<HttpClient> remove) {
    bySettings.values().forEach(remove);
    bySettings.clear();
    byGroup = Map.of();
  }
}
