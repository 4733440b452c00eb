package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/1 connections whose request heads must be complete within a total time from their first byte
 * (HAProxy's {@code timeout http-request}). The connection's idle timeout restarts on every byte, so
 * a client that trickles its headers a byte at a time (slowloris) would otherwise hold a connection,
 * and a thread's worth of buffers, for ever. Past the deadline the client gets {@code 408} and the
 * connection is closed.
 *
 * <p>A head that arrives whole in one read, which is nearly every head, arms nothing: the timer is
 * scheduled only when a read ends in the middle of a head, so the hot path pays nothing for it.
 *
 * <p>Jetty has no hook at "first byte of a request": this subclasses Jetty's internal
 * {@code HttpConnection} to give it a parser that says when a head starts and ends (see
 * {@link JettyInternals}).
 */
final class RequestHeadTimeout extends HttpConnectionFactory {
  private static final Logger LOG = LoggerFactory.getLogger(RequestHeadTimeout.class);
  private static final byte[] REQUEST_TIMEOUT =
      "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private final long timeoutNanos;
  private final Scheduler scheduler;
  private final LongAdder expired;

  /**
   * @param scheduler the timer's scheduler, or {@code null} for the connector's
   * @param expired counts the connections closed for a slow head
   */
  RequestHeadTimeout(HttpConfiguration http, Duration timeout, Scheduler scheduler, LongAdder expired) {
    super(http);
    this.timeoutNanos = requireNonNull(timeout, "timeout").toNanos();
    this.scheduler = scheduler;
    this.expired = requireNonNull(expired, "expired");
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    Deadline deadline = new Deadline(endPoint, scheduler != null ? scheduler : connector.getScheduler());
    HttpConnection connection = new HttpConnection(getHttpConfiguration(), connector, endPoint) {
      @Override
      protected HttpParser newHttpParser(HttpCompliance compliance) {
        // The request handler is private to HttpConnection; Jetty's own parser hands it over.
        HttpParser jettys = super.newHttpParser(compliance);
        TimedParser parser = new TimedParser((HttpParser.RequestHandler) jettys.getHandler(),
            getHttpConfiguration().getRequestHeaderSize(), compliance, deadline);
        parser.setHeaderCacheSize(jettys.getHeaderCacheSize());
        parser.setHeaderCacheCaseSensitive(jettys.isHeaderCacheCaseSensitive());
        return parser;
      }
    };
    connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
    return configure(connection, connector, endPoint);
  }

  private static final class TimedParser extends HttpParser {
    private final Deadline deadline;

    TimedParser(RequestHandler handler, int maxHeaderBytes, HttpCompliance compliance, Deadline deadline) {
      super(handler, maxHeaderBytes, compliance);
      this.deadline = deadline;
    }

    @Override
    public boolean parseNext(ByteBuffer buffer) {
      boolean headBegins = isStart() && buffer.hasRemaining();
      boolean handle = super.parseNext(buffer);
      if (headBegins) {
        // Blank lines between requests leave the parser at its start: no head has begun yet.
        if (inHeaderState() && !isStart()) {
          deadline.arm();
        }
      } else if (!inHeaderState()) {
        deadline.disarm();
      }
      return handle;
    }
  }

  /** One connection's timer; armed and disarmed on the thread that parses, fired on the scheduler's. */
  private final class Deadline implements Runnable {
    private final EndPoint endPoint;
    private final Scheduler scheduler;
    private volatile Scheduler.Task task;

    Deadline(EndPoint endPoint, Scheduler scheduler) {
      this.endPoint = endPoint;
      this.scheduler = scheduler;
    }

    void arm() {
      task = scheduler.schedule(this, timeoutNanos, TimeUnit.NANOSECONDS);
    }

    void disarm() {
      Scheduler.Task armed = task;
      if (armed != null) {
        task = null;
        armed.cancel();
      }
    }

    @Override
    public void run() {
      if (task == null || !endPoint.isOpen()) {
        return;
      }
      task = null;
      expired.increment();
      if (LOG.isDebugEnabled()) {
        LOG.debug("closing {}: request head not complete within {} ms", endPoint, TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
      }
      TimeoutException timeout = new TimeoutException("request head not complete in time");
      Callback close = Callback.from(() -> endPoint.close(timeout), x -> endPoint.close(timeout));
      try {
        // No answer of this connection can be on its way: the next request's head is only read once
        // the previous exchange is complete.
        endPoint.write(close, ByteBuffer.wrap(REQUEST_TIMEOUT));
      } catch (RuntimeException x) {
        endPoint.close(timeout);
      }
    }
  }
}
