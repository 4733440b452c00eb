package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.LocalConnector;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Test;

/**
 * What {@link JettyInternals} relies on, checked over a real server and real sockets, so that a
 * Jetty upgrade that changes it fails here rather than costing the balancer its speed silently.
 * ({@code AffinityThreadPoolTest} checks the pool's own rule by calling it directly; this checks
 * that Jetty still hands the pool what the rule expects.)
 */
class JettyInternalsTest extends BalancerTestBase {
  private static final int REQUESTS = 200;

  @Test
  void aClientConnectionCarriesOnInPlaceAfterEachRelayedAnswer() throws Exception {
    // Jetty's server reads the requests (what a TLS listener, h2c, or a request the direct front end hands over, gets).
    directHttp1 = false;
    startDuration("a");
    AffinityThreadPool pool = (AffinityThreadPool) balancer.server().getThreadPool();
    UserAgent browser = browser();
    browser.get("/");
    long before = pool.resumedInPlace();
    for (int i = 0; i < REQUESTS; i++) {
      ContentResponse r = browser.get("/page/" + i);
      assertThat(r.getStatus()).isEqualTo(200);
    }
    // Every sequential keep-alive request but the first few resumes its connection in place: if Jetty
    // stops giving the pool its HTTP/1 connection to resume, this count stays at 0.
    assertThat(pool.resumedInPlace() - before).isGreaterThanOrEqualTo(REQUESTS * 9 / 10);
  }

  @Test
  void theDirectRelayRidesOnTheServerConnectorsSelectors() throws Exception {
    startDuration("a");
    Connector connector = balancer.server().getConnectors()[0];
    assertThat(JettyInternals.selectors(connector)).isNotEmpty();
    // Requests answered over a target connection registered with those selectors.
    for (int i = 0; i < 20; i++) {
      assertThat(browser().get("/").getStatus()).isEqualTo(200);
    }
    assertThat(backends.get("a").requests.get()).isEqualTo(20);
    assertThat(balancer.balancer().directRelayConnections()).as("target connections opened by the direct relay").isPositive();
  }

  @Test
  void aConnectorWithoutSelectorsHasNone() throws Exception {
    Server server = new Server();
    assertThat(JettyInternals.selectors(new LocalConnector(server))).isEmpty();
  }

  @Test
  void interimResponsesReachTheClientOnTheHttpClientPath() throws Exception {
    // ProxyHandler's 102/103 handlers find the client's response through the attributes JettyInternals sets.
    startDuration("a");
    balancer.balancer().setDirectRelay(false);
    try (Socket s = new Socket("127.0.0.1", balancer.port())) {
      s.getOutputStream().write("GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(answer).startsWith("HTTP/1.1 103").contains("Link: </style.css>; rel=preload").contains("HTTP/1.1 200");
    }
  }

  @Test
  void anHttp1ConnectionIsIdleOnlyBetweenRequests() throws Exception {
    // What a drain may close: Jetty's HTTP/1 connection has no request on its channel between exchanges.
    HeldTarget target = new HeldTarget("a");
    try {
      startBalancer(TargetPath.DIRECT_RELAY, b -> { }, java.util.Map.of("a", target.uri()));
      org.eclipse.jetty.server.ServerConnector connector = (org.eclipse.jetty.server.ServerConnector) balancer.server().getConnectors()[0];
      try (Http1Connection c = new Http1Connection(balancer.port())) {
        Eventually.await(() -> connector.getConnectedEndPoints().size() == 1);
        org.eclipse.jetty.io.EndPoint endPoint = connector.getConnectedEndPoints().iterator().next();
        assertThat(JettyInternals.isIdleHttp1(endPoint)).as("connected, nothing sent").isTrue();
        c.send("/held");
        Eventually.await(() -> target.arrived.get() == 1);
        assertThat(JettyInternals.isIdleHttp1(endPoint)).as("a request at the target").isFalse();
        target.release();
        assertThat(c.read().status()).isEqualTo(200);
        Eventually.await(() -> JettyInternals.isIdleHttp1(endPoint));
      }
    } finally {
      target.stop();
    }
  }
}
