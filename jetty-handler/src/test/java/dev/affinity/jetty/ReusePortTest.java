package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code AffinityServer.Builder.reusePort}: two servers bind one port (what a takeover needs), and without it
 * the second is refused as before; {@code acceptAtStart(false)}: the port is bound and connections wait in the
 * kernel's queue, unanswered, until {@code accept()}, then are served.
 */
class ReusePortTest extends BalancerTestBase {
  private AffinityServer first;
  private AffinityServer second;

  @AfterEach
  void stopServers() throws Exception {
    for (AffinityServer s : new AffinityServer[] {first, second}) {
      if (s != null) {
        s.stop();
      }
    }
  }

  private AffinityServer server(int port, boolean reusePort, boolean acceptAtStart) {
    return AffinityServer.builder(rawRouter(Map.of("t1", java.net.URI.create("http://127.0.0.1:9"))), counters).clock(clock)
        .port(port).reusePort(reusePort).acceptAtStart(acceptAtStart).build();
  }

  private static int freePort() throws IOException {
    try (ServerSocket free = new ServerSocket(0)) {
      return free.getLocalPort();
    }
  }

  @Test
  void twoServersShareAPortOnlyWithReusePort() throws Exception {
    int port = freePort();
    first = server(port, true, true).start();
    assertThat(first.reusePort()).isTrue();
    second = server(port, true, true).start();
    assertThat(second.port()).isEqualTo(port);
    second.stop();
    second = null;

    AffinityServer plain = server(port, false, true);
    assertThat(plain.reusePort()).isFalse();
    assertThatThrownBy(plain::start).isInstanceOf(IOException.class);
    plain.stop();
  }

  @Test
  void aServerThatDoesNotAcceptAtStartAnswersOnlyFromAccept() throws Exception {
    first = server(0, false, false).start();
    assertThat(first.isAccepting()).isFalse();
    try (Http1Connection waiting = new Http1Connection(first.port())) {
      // Connected by the kernel's backlog; nobody reads the request yet.
      waiting.send("/affinity/live");
      waiting.socket.setSoTimeout(300);
      assertThatThrownBy(waiting::read).isInstanceOf(SocketTimeoutException.class);
      first.accept();
      assertThat(first.isAccepting()).isTrue();
      waiting.socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(20));
      assertThat(waiting.read().status()).isEqualTo(200);
    }
  }
}
