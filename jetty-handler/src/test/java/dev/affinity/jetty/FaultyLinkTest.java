package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The test proxy itself, against an echo server over real loopback sockets. */
class FaultyLinkTest {
  private ServerSocket echo;
  private Thread echoThread;
  private FaultyLink link;

  @BeforeEach
  void startEcho() throws IOException {
    echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    echoThread = new Thread(() -> {
      while (!echo.isClosed()) {
        try {
          Socket s = echo.accept();
          Thread t = new Thread(() -> {
            try (s) {
              s.getInputStream().transferTo(s.getOutputStream());
            } catch (IOException gone) {
              // the link closed or reset it
            }
          }, "echo-connection");
          t.setDaemon(true);
          t.start();
        } catch (IOException closed) {
          return;
        }
      }
    }, "echo");
    echoThread.setDaemon(true);
    echoThread.start();
    link = FaultyLink.to("127.0.0.1", echo.getLocalPort());
  }

  @AfterEach
  void stop() throws Exception {
    link.close();
    assertThat(link.threads()).as("no thread of the link outlives close()").isZero();
    echo.close();
  }

  private Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", link.port());
    s.setSoTimeout(3_000);
    return s;
  }

  private static String roundTrip(Socket s, String text) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(text.getBytes());
    out.flush();
    InputStream in = s.getInputStream();
    return new String(in.readNBytes(text.length()));
  }

  @Test
  void forwardsBothWaysInOrder() throws Exception {
    try (Socket s = connect()) {
      StringBuilder all = new StringBuilder();
      for (int i = 0; i < 200; i++) {
        all.append("chunk-").append(i).append(';');
      }
      assertThat(roundTrip(s, all.toString())).isEqualTo(all.toString());
    }
    assertThat(link.accepted()).isEqualTo(1);
    // The link counts a chunk after writing it on, so the client can have read the echo first.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    // Both directions count after writing on: wait until both counts are in (CI once read the target's as 0).
    while ((link.bytesToClient() != link.bytesToTarget() || link.bytesToTarget() == 0) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(link.bytesToTarget()).isEqualTo(link.bytesToClient()).isPositive();
  }

  @Test
  void latencyDelaysEachDirection() throws Exception {
    try (Socket s = connect()) {
      roundTrip(s, "warm");
      link.latency(Duration.ofMillis(200), Duration.ofMillis(100));
      long start = System.nanoTime();
      assertThat(roundTrip(s, "slow")).isEqualTo("slow");
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(millis).as("200 ms there and 100 ms back").isBetween(300L, 1_500L);
      // Many small writes in a row are not serialised on the latency: the delay is per chunk, not per
      // chunk plus every chunk before it.
      start = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        s.getOutputStream().write(("m" + (i % 10)).getBytes());
      }
      assertThat(new String(s.getInputStream().readNBytes(40))).isEqualTo("m0m1m2m3m4m5m6m7m8m9m0m1m2m3m4m5m6m7m8m9");
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(2_000L);
    }
  }

  @Test
  void silentHoldsEverythingWithoutClosingAndHealLetsItThrough() throws Exception {
    try (Socket open = connect()) {
      assertThat(roundTrip(open, "before")).isEqualTo("before");
      link.silent();
      open.getOutputStream().write("held".getBytes());
      open.setSoTimeout(500);
      assertThatThrownBy(() -> open.getInputStream().read()).as("no answer, no FIN, no RST")
          .isInstanceOf(SocketTimeoutException.class);
      // New connections are still accepted (the kernel's backlog, then the link) but reach nothing.
      try (Socket during = connect()) {
        during.getOutputStream().write("new".getBytes());
        during.setSoTimeout(500);
        assertThatThrownBy(() -> during.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
        link.heal();
        during.setSoTimeout(3_000);
        assertThat(new String(during.getInputStream().readNBytes(3))).isEqualTo("new");
      }
      open.setSoTimeout(3_000);
      assertThat(new String(open.getInputStream().readNBytes(4))).as("what was held goes on after the heal").isEqualTo("held");
    }
  }

  @Test
  void refuseClosesTheListenerAndResetsOpenConnectionsUntilHealed() throws Exception {
    Socket open = connect();
    assertThat(roundTrip(open, "x")).isEqualTo("x");
    link.refuse();
    assertThatThrownBy(() -> open.getInputStream().read()).isInstanceOf(IOException.class).hasMessageContaining("reset");
    open.close();
    assertThatThrownBy(() -> new Socket("127.0.0.1", link.port()).close()).isInstanceOf(ConnectException.class);
    link.heal();
    try (Socket again = connect()) {
      assertThat(roundTrip(again, "back")).isEqualTo("back");
    }
  }
}
