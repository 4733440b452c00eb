package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.observe.AccessLogFormat;
import dev.affinity.observe.ExchangeObserver;
import dev.affinity.observe.ExchangeRecord;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;

/**
 * The standalone balancer's access log: a request thread queues its exchange's record, and one
 * writer thread formats what has queued and hands it to the logger every {@link #FLUSH_INTERVAL}, as
 * one event. A
 * line per logging event cost a write and a thread wake-up per request (1.42x the CPU of a sticky
 * hit, BENCHMARKS.md); batched, a busy balancer writes a few times a second whatever its rate, as
 * NGINX's {@code access_log ... buffer= flush=} does. Lines reach the file at most one interval late,
 * and none is dropped: past {@link #MAX_QUEUED} lines queued (a disk slower than the traffic), a
 * request thread writes its line itself.
 */
final class AccessLogWriter extends AbstractLifeCycle implements ExchangeObserver {
  static final Duration FLUSH_INTERVAL = Duration.ofMillis(100);
  static final int MAX_QUEUED = 65_536;

  private final AccessLogFormat format;
  private final Logger logger;
  private final ConcurrentLinkedQueue<ExchangeRecord> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private volatile Thread writer;
  private volatile boolean stopping;

  AccessLogWriter(AccessLogFormat format, Logger logger) {
    this.format = requireNonNull(format, "format");
    this.logger = requireNonNull(logger, "logger");
  }

  @Override
  public void exchangeCompleted(ExchangeRecord exchange) {
    if (writer == null || queued.get() >= MAX_QUEUED) {
      // Not started (or stopped), or the writer is behind: this thread writes, and so slows with the disk.
      String line = format.format(exchange);
      synchronized (this) {
        logger.info(line);
      }
      return;
    }
    // Records are immutable: the writer formats them, off the request's thread.
    queue.add(exchange);
    queued.incrementAndGet();
  }

  @Override
  protected void doStart() {
    stopping = false;
    Thread thread = new Thread(this::run, "affinity-access-log");
    thread.setDaemon(true);
    writer = thread;
    thread.start();
  }

  @Override
  protected void doStop() throws InterruptedException {
    stopping = true;
    Thread thread = writer;
    writer = null;
    if (thread != null) {
      LockSupport.unpark(thread);
      thread.join(Duration.ofSeconds(10).toMillis());
    }
    writeQueued();
  }

  private void run() {
    while (!stopping) {
      LockSupport.parkNanos(FLUSH_INTERVAL.toNanos());
      writeQueued();
    }
  }

  /** One logging event for everything queued, lines joined (the pattern ends the last one). */
  private synchronized void writeQueued() {
    ExchangeRecord record = queue.poll();
    if (record == null) {
      return;
    }
    String first = format.format(record);
    StringBuilder batch = new StringBuilder(first.length() * Math.max(1, queued.get()) + 16).append(first);
    int taken = 1;
    while ((record = queue.poll()) != null) {
      batch.append('\n').append(format.format(record));
      taken++;
    }
    queued.addAndGet(-taken);
    logger.info(batch.toString());
  }

  @Override
  public String toString() {
    return "AccessLogWriter{" + format + "}";
  }
}
