package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.ByteArrayEndPoint;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.LocalConnector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The one shortcut the balancer's server pool takes, and only that one. */
class AffinityThreadPoolTest {
  private final AffinityThreadPool pool = new AffinityThreadPool(8);
  private Server server;
  private LocalConnector connector;

  @BeforeEach
  void start() throws Exception {
    server = new Server(pool);
    connector = new LocalConnector(server);
    server.addConnector(connector);
    server.start();
  }

  @AfterEach
  void stop() throws Exception {
    server.stop();
  }

  @Test
  void aClientConnectionResumedWhileARelayedExchangeCompletesRunsOnTheSameThread() throws Exception {
    FillRecordingEndPoint endPoint = new FillRecordingEndPoint();
    HttpConnection connection = new HttpConnection(new HttpConfiguration(), connector, endPoint);
    endPoint.setConnection(connection);
    AffinityThreadPool.completing(() -> pool.execute(connection));
    // Jetty's resume runs the connection, which reads from its endpoint: here, in place.
    assertThat(endPoint.filledBy.getNow(null)).isSameAs(Thread.currentThread());
  }

  @Test
  void outsideACompletionTheConnectionIsDispatchedAsUsual() throws Exception {
    FillRecordingEndPoint endPoint = new FillRecordingEndPoint();
    HttpConnection connection = new HttpConnection(new HttpConfiguration(), connector, endPoint);
    endPoint.setConnection(connection);
    pool.execute(connection);
    assertThat(endPoint.filledBy.get(5, TimeUnit.SECONDS)).isNotSameAs(Thread.currentThread());
  }

  @Test
  void otherJobsAreDispatchedEvenWhileCompleting() throws Exception {
    CompletableFuture<Thread> ranOn = new CompletableFuture<>();
    AffinityThreadPool.completing(() -> pool.execute(() -> ranOn.complete(Thread.currentThread())));
    assertThat(ranOn.get(5, TimeUnit.SECONDS)).isNotSameAs(Thread.currentThread());
  }

  @Test
  void onlyTheFirstResumeRunsInPlace() throws Exception {
    FillRecordingEndPoint first = new FillRecordingEndPoint();
    FillRecordingEndPoint second = new FillRecordingEndPoint();
    HttpConnection a = new HttpConnection(new HttpConfiguration(), connector, first);
    HttpConnection b = new HttpConnection(new HttpConfiguration(), connector, second);
    first.setConnection(a);
    second.setConnection(b);
    AffinityThreadPool.completing(() -> {
      pool.execute(a);
      pool.execute(b);
    });
    assertThat(first.filledBy.getNow(null)).isSameAs(Thread.currentThread());
    assertThat(second.filledBy.get(5, TimeUnit.SECONDS)).isNotSameAs(Thread.currentThread());
  }

  /** An endpoint with nothing to read that remembers which thread asked first. */
  private static final class FillRecordingEndPoint extends ByteArrayEndPoint {
    final CompletableFuture<Thread> filledBy = new CompletableFuture<>();

    @Override
    public int fill(ByteBuffer buffer) throws java.io.IOException {
      filledBy.complete(Thread.currentThread());
      return super.fill(buffer);
    }
  }
}
