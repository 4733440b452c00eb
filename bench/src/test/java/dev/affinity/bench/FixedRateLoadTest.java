package dev.affinity.bench;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The fixed-rate generator's schedule arithmetic, and its latencies against a real Jetty server. */
class FixedRateLoadTest {
  private Server server;
  private final AtomicLong served = new AtomicLong();
  /** The request number (1-based, in arrival order) that the server holds for {@link #stallMillis}; 0: none. */
  private volatile long stallAt;
  private volatile long stallMillis;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
  }

  private URI start() throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        long n = served.incrementAndGet();
        if (n == stallAt) {
          Thread.sleep(stallMillis); // a server stall: every request due meanwhile waits behind it
        }
        byte[] body = ("ok " + request.getHeaders().get("X-Test") + "\n").getBytes(US_ASCII);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return true;
      }
    });
    server.start();
    return URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/x?y=1");
  }

  @Test
  void scheduleSpacesRequestsExactlyAndCountsThemBack() {
    FixedRateLoad.Schedule schedule = new FixedRateLoad.Schedule(100, 3, 2);
    assertThat(schedule.intendedNanos(0)).isEqualTo(100);
    assertThat(schedule.intendedNanos(1)).isEqualTo(100 + 333_333_333);
    assertThat(schedule.intendedNanos(2)).isEqualTo(100 + 666_666_666);
    assertThat(schedule.intendedNanos(3)).isEqualTo(100 + 1_000_000_000);
    assertThat(schedule.intendedNanos(3_000_000_000L)).as("no overflow, no drift over long runs")
        .isEqualTo(100 + 1_000_000_000_000_000_000L);
    assertThat(schedule.connectionOf(0)).isZero();
    assertThat(schedule.connectionOf(5)).isEqualTo(1);

    FixedRateLoad.Schedule fast = new FixedRateLoad.Schedule(-7_000, 25_000, 50);
    for (long i : new long[] {0, 1, 49, 50, 12_345, 25_000, 999_999}) {
      assertThat(fast.requestsBefore(fast.intendedNanos(i))).as("requests due before #%d", i).isEqualTo(i);
      assertThat(fast.requestsBefore(fast.intendedNanos(i) + 1)).isEqualTo(i + 1);
    }
    assertThat(fast.intendedNanos(25_000) - fast.intendedNanos(0)).isEqualTo(TimeUnit.SECONDS.toNanos(1));

    // Connection 1 of 3 carries requests 1, 4, 7, ...: three of them are below 8, none below 1.
    assertThat(FixedRateLoad.requestsOfConnectionBefore(1, 8, 3)).isEqualTo(3);
    assertThat(FixedRateLoad.requestsOfConnectionBefore(1, 7, 3)).isEqualTo(2);
    assertThat(FixedRateLoad.requestsOfConnectionBefore(1, 1, 3)).isZero();
    assertThatThrownBy(() -> new FixedRateLoad.Schedule(0, 0, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void sendsEveryDueRequestOnceAndMeasuresOnlyTheWindow() throws Exception {
    URI uri = start();
    FixedRateLoad load = new FixedRateLoad(uri, List.of("X-Test: t"), 400, 4, Duration.ofMillis(250),
        Duration.ofSeconds(1), System::nanoTime);

    FixedRateLoad.Result result = load.run();

    assertThat(result.scheduled).as(result.summary()).isEqualTo(400);
    assertThat(result.completed).as(result.summary()).isEqualTo(400);
    assertThat(result.errors + result.non2xx + result.unsent + result.unanswered).as(result.summary()).isZero();
    assertThat(result.heldRate()).isTrue();
    assertThat(result.latency.getTotalCount()).isEqualTo(400);
    // The warm-up's 100 requests went out too, and nothing after the window.
    assertThat(served.get()).isEqualTo(500);
    assertThat(result.answeredAll).isEqualTo(500);
    assertThat(result.latency.getValueAtPercentile(50)).as(result.summary())
        .isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    assertThat(result.line()).startsWith("FIXED_RATE rate=400 connections=4 scheduled=400 completed=400 errors=0");
  }

  @Test
  void aStallCountsForEveryRequestDueDuringItNotJustTheOneThatWaited() throws Exception {
    URI uri = start();
    stallAt = 31;
    stallMillis = 300;
    // One connection, a request every 10 ms: the 31st is held 300 ms, and the ~30 due behind it wait.
    FixedRateLoad load = new FixedRateLoad(uri, List.of(), 100, 1, Duration.ZERO, Duration.ofSeconds(1),
        System::nanoTime);

    FixedRateLoad.Result result = load.run();

    assertThat(result.completed).as(result.summary()).isEqualTo(100);
    assertThat(result.errors).isZero();
    long slow = TimeUnit.MILLISECONDS.toNanos(100);
    long slowFromIntended = result.latency.getCountBetweenValues(slow, Long.MAX_VALUE / 4);
    long slowFromSend = result.service.getCountBetweenValues(slow, Long.MAX_VALUE / 4);
    // Requests due in the stall's first 200 ms waited at least 100 ms from their intended time.
    assertThat(slowFromIntended).as(result.summary()).isGreaterThanOrEqualTo(15);
    // The closed-loop view (from the actual send) sees one slow request: coordinated omission.
    assertThat(slowFromSend).as(result.summary()).isEqualTo(1);
    assertThat(result.latency.getMaxValue()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(290));
  }

  @Test
  void rejectsWhatItCannotSend() {
    assertThatThrownBy(() -> new FixedRateLoad(URI.create("https://127.0.0.1:1/"), List.of(), 10, 1,
        Duration.ZERO, Duration.ofSeconds(1), System::nanoTime)).hasMessageContaining("http://");
    assertThatThrownBy(() -> new FixedRateLoad(URI.create("http://127.0.0.1:1/"), List.of("no colon"), 10, 1,
        Duration.ZERO, Duration.ofSeconds(1), System::nanoTime)).hasMessageContaining("Name: value");
    assertThat(FixedRateLoad.parseDuration("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(FixedRateLoad.parseDuration("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(FixedRateLoad.parseDuration("2m")).isEqualTo(Duration.ofMinutes(2));
  }
}
