package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Router;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Keyring;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.client.HttpClient;
import org.junit.jupiter.api.Test;

/** Which groups get a client of their own for their upstream timeouts, and which share one. */
class GroupClientsTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final Duration CONNECT = Duration.ofSeconds(2);
  private final AffinityCookies cookies = AffinityCookies.of(
      AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).build(), CookiePolicy.defaults());
  private final List<GroupClients.Settings> made = new ArrayList<>();

  private HttpClient newClient(GroupClients.Settings settings) {
    made.add(settings);
    return new HttpClient();
  }

  private static TargetGroup group(String name, int port, Duration timeout, Duration connect, TargetProtocol protocol) {
    return TargetGroup.builder(name).timeouts(timeout, connect).protocol(protocol)
        .target(name + "-1", URI.create("http://127.0.0.1:" + port), 1).build();
  }

  @Test
  void groupsWithTheSameTimeoutsShareAClientAndTheBalancersOwnNeedNone() {
    TargetGroup plain = group("plain", 9001, null, null, TargetProtocol.HTTP1);
    TargetGroup sameAsTop = group("same", 9002, TIMEOUT, CONNECT, TargetProtocol.HTTP1);
    TargetGroup fast1 = group("fast1", 9003, Duration.ofSeconds(5), null, TargetProtocol.HTTP1);
    TargetGroup fast2 = group("fast2", 9004, Duration.ofSeconds(5), CONNECT, TargetProtocol.HTTP1);
    TargetGroup fastH2 = group("fastH2", 9005, Duration.ofSeconds(5), null, TargetProtocol.HTTP2);
    Router router = Router.builder(cookies).group(plain).group(sameAsTop).group(fast1).group(fast2).group(fastH2).build();
    GroupClients clients = new GroupClients();
    clients.update(router, TIMEOUT, CONNECT, this::newClient);

    assertThat(clients.clientFor(plain)).isNull();
    assertThat(clients.clientFor(sameAsTop)).as("the top-level values: the balancer's client").isNull();
    assertThat(clients.clientFor(fast1)).isNotNull().isSameAs(clients.clientFor(fast2));
    assertThat(clients.clientFor(fastH2)).isNotNull().isNotSameAs(clients.clientFor(fast1));
    assertThat(made).containsExactlyInAnyOrder(
        new GroupClients.Settings(TargetProtocol.HTTP1, 5000, 2000, null), new GroupClients.Settings(TargetProtocol.HTTP2, 5000, 2000, null));

    // The balancer's connect timeout changes: groups that inherit it get clients with the new value.
    clients.update(router, TIMEOUT, Duration.ofSeconds(3), this::newClient);
    assertThat(clients.clientFor(fast1)).isNotSameAs(clients.clientFor(fast2));
    assertThat(clients.clientFor(sameAsTop)).as("now differs from the top level").isNotNull();
    assertThat(made).contains(new GroupClients.Settings(TargetProtocol.HTTP1, 5000, 3000, null),
        new GroupClients.Settings(TargetProtocol.HTTP1, 60000, 2000, null));
  }
}
