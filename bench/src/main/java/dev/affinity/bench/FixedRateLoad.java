package dev.affinity.bench;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;

/**
 * A constant-rate HTTP/1.1 load generator that does not suffer from coordinated omission: request
 * {@code i} is due at {@code start + i / rate} whatever happened before it, and its latency counts
 * from that intended time, not from when it could be sent. A server that stalls for 100 ms therefore
 * shows 100 ms of latency on every request that was due during the stall, as a real client population
 * would see it, instead of one slow request and a lull (what a closed-loop tool such as wrk reports).
 *
 * <p>{@code connections} kept-alive connections, one request in flight on each; request {@code i} goes
 * on connection {@code i % connections}, so each connection carries {@code rate / connections} requests
 * a second (the model of wrk2). A request due while its connection still waits for the previous answer
 * is sent as soon as that answer is in, and its latency includes the wait. One thread drives every
 * connection with one selector; the time a due request actually left is recorded too ({@code sendLag},
 * the generator's own scheduling error when its connection was free, a check on the tool itself).
 *
 * <p>Answers must carry {@code Content-Length} (chunked answers count as errors); a {@code Connection:
 * close} answer or a dropped connection makes the connection reconnect.
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar dev.affinity.bench.FixedRateLoad --rate 10000
 * [--connections 50] [--duration 10s] [--warmup 3s] [--header 'Cookie: a=b']... http://127.0.0.1:8080/}.
 * Prints a human summary and one {@code FIXED_RATE key=value ...} line (microseconds) for scripts.
 */
public final class FixedRateLoad {
  private static final long HIGHEST_NANOS = TimeUnit.SECONDS.toNanos(60);
  /** How long to wait, once the run is over, for the answers still in flight. */
  private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(5);
  /** Below this the selector's millisecond timeout is too coarse: poll and park briefly instead. */
  private static final long SPIN_BELOW_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
  private static final long PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
  private static final int HEADER_LIMIT = 64 * 1024;

  /**
   * When each request is due and which connection carries it: request {@code i} at
   * {@code startNanos + i * 1e9 / rate} (exact integer arithmetic, no drift), on connection
   * {@code i % connections}; the {@code k}-th request of connection {@code c} is request
   * {@code c + k * connections}.
   */
  static final class Schedule {
    final long startNanos;
    final long ratePerSecond;
    final int connections;

    Schedule(long startNanos, long ratePerSecond, int connections) {
      if (ratePerSecond <= 0) {
        throw new IllegalArgumentException("rate must be positive, got " + ratePerSecond);
      }
      if (connections <= 0) {
        throw new IllegalArgumentException("connections must be positive, got " + connections);
      }
      this.startNanos = startNanos;
      this.ratePerSecond = ratePerSecond;
      this.connections = connections;
    }

    long intendedNanos(long request) {
      // Split to keep request * 1e9 from overflowing on long runs at high rates.
      long whole = request / ratePerSecond;
      long rest = request % ratePerSecond;
      return startNanos + whole * 1_000_000_000L + rest * 1_000_000_000L / ratePerSecond;
    }

    int connectionOf(long request) {
      return (int) (request % connections);
    }

    long firstRequestOf(int connection) {
      return connection;
    }

    long nextRequestOf(long request) {
      return request + connections;
    }

    /** The number of requests due before {@code nanos} (those with an intended time earlier than it). */
    long requestsBefore(long nanos) {
      if (nanos <= startNanos) {
        return 0;
      }
      long elapsed = nanos - startNanos;
      long whole = elapsed / 1_000_000_000L;
      long rest = elapsed % 1_000_000_000L;
      // ceil(elapsed * rate / 1e9), split like intendedNanos.
      return whole * ratePerSecond + (rest * ratePerSecond + 999_999_999L) / 1_000_000_000L;
    }
  }

  /** What a run measured. Latencies in nanoseconds; only requests due within the measured window count. */
  public static final class Result {
    /** From the intended send time to the last byte of the answer: what a user at this rate sees. */
    public final Histogram latency = new Histogram(HIGHEST_NANOS, 3);
    /** From the time the request was written to the last byte of the answer (what wrk would report). */
    public final Histogram service = new Histogram(HIGHEST_NANOS, 3);
    /** How late the generator wrote a request whose connection was free when it was due. */
    public final Histogram sendLag = new Histogram(HIGHEST_NANOS, 3);
    public long ratePerSecond;
    public int connections;
    public long measuredNanos;
    /** Requests due in the measured window. */
    public long scheduled;
    public long completed;
    public long errors;
    public long non2xx;
    /** Requests due in the window that never left (their connection was still busy when the run ended). */
    public long unsent;
    /** Requests sent in the window whose answer had not come {@code DRAIN_NANOS} after the end. */
    public long unanswered;
    /** Every answer of the run, the warm-up's included (to divide the server's CPU time over the whole run). */
    public long answeredAll;

    double us(Histogram h, double percentile) {
      return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    /** True when the generator kept the rate: nearly every due request left and was answered. */
    public boolean heldRate() {
      return scheduled > 0 && (unsent + unanswered) <= Math.max(1, scheduled / 200);
    }

    public String line() {
      return String.format(Locale.ROOT,
          "FIXED_RATE rate=%d connections=%d scheduled=%d completed=%d errors=%d non2xx=%d unsent=%d unanswered=%d"
              + " achieved=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
              + " service_p50_us=%.1f service_p99_us=%.1f send_lag_p99_us=%.1f send_lag_max_us=%.1f answered_all=%d held=%s",
          ratePerSecond, connections, scheduled, completed, errors, non2xx, unsent, unanswered,
          measuredNanos == 0 ? 0.0 : completed * 1e9 / measuredNanos,
          us(latency, 50), us(latency, 90), us(latency, 99), us(latency, 99.9), latency.getMaxValue() / 1000.0,
          us(service, 50), us(service, 99), us(sendLag, 99), sendLag.getMaxValue() / 1000.0, answeredAll, heldRate());
    }

    public String summary() {
      return String.format(Locale.ROOT,
          "%d req/s on %d connections for %.1f s: %d due, %d answered, %d errors, %d non-2xx, %d never sent,"
              + " %d unanswered%n  latency from the intended time: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms,"
              + " p99.9 %.3f ms, max %.3f ms%n  from the actual send (closed-loop view): p50 %.3f ms, p99 %.3f ms%n"
              + "  generator send lag with a free connection: p99 %.3f ms, max %.3f ms%s",
          ratePerSecond, connections, measuredNanos / 1e9, scheduled, completed, errors, non2xx, unsent, unanswered,
          us(latency, 50) / 1000, us(latency, 90) / 1000, us(latency, 99) / 1000, us(latency, 99.9) / 1000,
          latency.getMaxValue() / 1e6, us(service, 50) / 1000, us(service, 99) / 1000,
          us(sendLag, 99) / 1000, sendLag.getMaxValue() / 1e6,
          heldRate() ? "" : String.format("%n  WARNING: the rate was not held (the server fell behind)"));
    }
  }

  private final InetSocketAddress address;
  private final byte[] request;
  private final long ratePerSecond;
  private final int connections;
  private final long warmupNanos;
  private final long durationNanos;
  private final LongSupplier nanoTicker;

  public FixedRateLoad(URI uri, List<String> headers, long ratePerSecond, int connections, Duration warmup,
      Duration duration, LongSupplier nanoTicker) {
    requireNonNull(uri, "uri");
    requireNonNull(headers, "headers");
    requireNonNull(warmup, "warmup");
    requireNonNull(duration, "duration");
    this.nanoTicker = requireNonNull(nanoTicker, "nanoTicker");
    if (!"http".equals(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException("an http:// URL with a host is needed, got " + uri);
    }
    if (duration.isNegative() || duration.isZero() || warmup.isNegative()) {
      throw new IllegalArgumentException("duration must be positive and warmup not negative");
    }
    int port = uri.getPort() == -1 ? 80 : uri.getPort();
    this.address = new InetSocketAddress(uri.getHost(), port);
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    if (uri.getRawQuery() != null) {
      path += "?" + uri.getRawQuery();
    }
    StringBuilder head = new StringBuilder()
        .append("GET ").append(path).append(" HTTP/1.1\r\n")
        .append("Host: ").append(uri.getHost()).append(':').append(port).append("\r\n");
    for (String header : headers) {
      if (header.indexOf(':') <= 0 || header.contains("\r") || header.contains("\n")) {
        throw new IllegalArgumentException("a header must be 'Name: value' on one line, got " + header);
      }
      head.append(header).append("\r\n");
    }
    this.request = head.append("\r\n").toString().getBytes(US_ASCII);
    this.ratePerSecond = ratePerSecond;
    this.connections = connections;
    new Schedule(0, ratePerSecond, connections); // validates rate and connections
    this.warmupNanos = warmup.toNanos();
    this.durationNanos = duration.toNanos();
  }

  /** One kept-alive connection with at most one request in flight. */
  private final class Connection {
    final int index;
    SocketChannel channel;
    SelectionKey key;
    final ByteBuffer in = ByteBuffer.allocateDirect(HEADER_LIMIT);
    final ByteBuffer out = ByteBuffer.wrap(request);
    long next; // the next request this connection sends
    boolean inFlight;
    long inFlightRequest;
    long inFlightSentNanos;
    long freeSinceNanos = Long.MIN_VALUE; // when the last answer was in (the connection became free)
    // The answer being read.
    boolean headersDone;
    long bodyRemaining;
    int status;
    boolean closeAfter;

    Connection(int index, long first) {
      this.index = index;
      this.next = first;
    }

    void open(Selector selector) throws IOException {
      channel = SocketChannel.open();
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      channel.connect(address); // blocking connect, then non-blocking I/O
      channel.configureBlocking(false);
      key = channel.register(selector, SelectionKey.OP_READ, this);
      in.clear();
      headersDone = false;
      inFlight = false;
    }

    void close() {
      if (key != null) {
        key.cancel();
      }
      try {
        if (channel != null) {
          channel.close();
        }
      } catch (IOException ignored) {
        // Closing a connection we are done with: nothing to do about a failure.
      }
      channel = null;
      key = null;
    }
  }

  /** Runs the warm-up and the measured window, then waits for the answers in flight; blocks until done. */
  public Result run() throws IOException {
    Result result = new Result();
    result.ratePerSecond = ratePerSecond;
    result.connections = connections;
    try (Selector selector = Selector.open()) {
      List<Connection> all = new ArrayList<>(connections);
      // The schedule starts after every connection is open, so connecting is not part of any latency.
      for (int c = 0; c < connections; c++) {
        all.add(new Connection(c, c));
      }
      for (Connection connection : all) {
        connection.open(selector);
      }
      Schedule schedule = new Schedule(nanoTicker.getAsLong(), ratePerSecond, connections);
      long measureFrom = schedule.startNanos + warmupNanos;
      long end = measureFrom + durationNanos;
      long firstMeasured = schedule.requestsBefore(measureFrom);
      long pastLast = schedule.requestsBefore(end);
      result.measuredNanos = durationNanos;
      result.scheduled = pastLast - firstMeasured;
      long drainUntil = end + DRAIN_NANOS;
      try {
        loop(selector, all, schedule, firstMeasured, pastLast, drainUntil, result);
      } finally {
        for (Connection connection : all) {
          if (connection.inFlight && measured(connection.inFlightRequest, firstMeasured, pastLast)) {
            result.unanswered++;
          }
          // Due in the window but never sent: the connection was still busy when the run ended.
          long from = Math.max(connection.next, firstMeasured);
          result.unsent += Math.max(0, requestsOfConnectionBefore(connection.index, pastLast, connections)
              - requestsOfConnectionBefore(connection.index, from, connections));
          connection.close();
        }
      }
    }
    return result;
  }

  /** How many of connection {@code c}'s requests ({@code c, c + n, c + 2n, ...}) are below {@code x}. */
  static long requestsOfConnectionBefore(int c, long x, int n) {
    return x <= c ? 0 : (x - c - 1) / n + 1;
  }

  private static boolean measured(long request, long firstMeasured, long pastLast) {
    return request >= firstMeasured && request < pastLast;
  }

  private void loop(Selector selector, List<Connection> all, Schedule schedule, long firstMeasured, long pastLast,
      long drainUntil, Result result) throws IOException {
    while (true) {
      long now = nanoTicker.getAsLong();
      long nextDue = Long.MAX_VALUE;
      boolean anyInFlight = false;
      for (Connection connection : all) {
        if (connection.channel == null) {
          reconnect(selector, connection, result);
        }
        if (!connection.inFlight && connection.next < pastLast && connection.channel != null) {
          long due = schedule.intendedNanos(connection.next);
          if (due <= now) {
            send(connection, due, now, firstMeasured, pastLast, result);
          } else {
            nextDue = Math.min(nextDue, due);
          }
        }
        anyInFlight |= connection.inFlight;
      }
      if (nextDue == Long.MAX_VALUE && !anyInFlight) {
        return; // every request of the window was sent and answered
      }
      if (now >= drainUntil) {
        return;
      }
      long wait = Math.min(nextDue, drainUntil) - now;
      int ready;
      if (wait >= SPIN_BELOW_NANOS) {
        ready = selector.select(TimeUnit.NANOSECONDS.toMillis(wait));
      } else {
        ready = selector.selectNow();
        if (ready == 0 && wait > 0) {
          LockSupport.parkNanos(Math.min(wait, PARK_NANOS));
        }
      }
      if (ready > 0) {
        long readAt = nanoTicker.getAsLong();
        var keys = selector.selectedKeys();
        for (SelectionKey key : keys) {
          read((Connection) key.attachment(), readAt, schedule, firstMeasured, pastLast, result);
        }
        keys.clear();
      }
    }
  }

  private void send(Connection connection, long due, long now, long firstMeasured, long pastLast, Result result) {
    long request = connection.next;
    connection.next = request + connections;
    connection.out.clear();
    try {
      while (connection.out.hasRemaining()) {
        connection.channel.write(connection.out); // a few hundred bytes into an empty socket buffer
      }
    } catch (IOException e) {
      if (measured(request, firstMeasured, pastLast)) {
        result.errors++;
      }
      connection.close();
      return;
    }
    connection.inFlight = true;
    connection.inFlightRequest = request;
    connection.inFlightSentNanos = now;
    if (measured(request, firstMeasured, pastLast) && connection.freeSinceNanos <= due) {
      // The connection was free when the request became due: any delay is the generator's own.
      result.sendLag.recordValue(Math.min(HIGHEST_NANOS, Math.max(0, now - due)));
    }
  }

  private void read(Connection connection, long now, Schedule schedule, long firstMeasured, long pastLast,
      Result result) {
    if (connection.channel == null) {
      return;
    }
    int n;
    try {
      n = connection.channel.read(connection.in);
    } catch (IOException e) {
      n = -1;
    }
    if (n < 0) {
      fail(connection, firstMeasured, pastLast, result);
      return;
    }
    if (!connection.inFlight) {
      if (n > 0) {
        fail(connection, firstMeasured, pastLast, result); // bytes nobody asked for
      }
      return;
    }
    ByteBuffer in = connection.in;
    if (!connection.headersDone) {
      int end = headerEnd(in);
      if (end < 0) {
        if (!in.hasRemaining()) {
          fail(connection, firstMeasured, pastLast, result); // headers over HEADER_LIMIT
        }
        return;
      }
      if (!parseHead(connection, in, end)) {
        fail(connection, firstMeasured, pastLast, result);
        return;
      }
      connection.headersDone = true;
      connection.bodyRemaining -= in.position() - end;
    } else {
      connection.bodyRemaining -= in.position();
    }
    in.clear();
    if (connection.bodyRemaining > 0) {
      return;
    }
    if (connection.bodyRemaining < 0) {
      fail(connection, firstMeasured, pastLast, result); // more bytes than Content-Length
      return;
    }
    long request = connection.inFlightRequest;
    result.answeredAll++;
    if (measured(request, firstMeasured, pastLast)) {
      result.completed++;
      if (connection.status < 200 || connection.status > 299) {
        result.non2xx++;
      }
      result.latency.recordValue(Math.min(HIGHEST_NANOS, now - schedule.intendedNanos(request)));
      result.service.recordValue(Math.min(HIGHEST_NANOS, now - connection.inFlightSentNanos));
    }
    connection.inFlight = false;
    connection.headersDone = false;
    connection.freeSinceNanos = now;
    if (connection.closeAfter) {
      connection.close();
    }
  }

  private static void fail(Connection connection, long firstMeasured, long pastLast, Result result) {
    if (connection.inFlight && measured(connection.inFlightRequest, firstMeasured, pastLast)) {
      result.errors++;
    }
    connection.inFlight = false;
    connection.close();
  }

  private void reconnect(Selector selector, Connection connection, Result result) {
    try {
      connection.open(selector);
    } catch (IOException e) {
      connection.close();
      throw new UncheckedIOException("cannot reconnect to " + address, e);
    }
  }

  /** The index just past the blank line ending the head, or -1 when it is not all in yet. */
  static int headerEnd(ByteBuffer in) {
    int limit = in.position();
    for (int i = 3; i < limit; i++) {
      if (in.get(i) == '\n' && in.get(i - 1) == '\r' && in.get(i - 2) == '\n' && in.get(i - 3) == '\r') {
        return i + 1;
      }
    }
    return -1;
  }

  private static final byte[] CONTENT_LENGTH = "content-length:".getBytes(US_ASCII);
  private static final byte[] TRANSFER_ENCODING = "transfer-encoding:".getBytes(US_ASCII);
  private static final byte[] CONNECTION = "connection:".getBytes(US_ASCII);
  private static final byte[] CLOSE = "close".getBytes(US_ASCII);

  /**
   * Reads the status and the body framing from the head in {@code in[0, end)}, without allocating (the
   * generator must not make garbage whose collection would show up as latency); false for an answer this
   * generator cannot frame.
   */
  static boolean parseHead(Connection connection, ByteBuffer in, int end) {
    // "HTTP/1.1 200 ..."
    if (end < 14 || in.get(0) != 'H' || in.get(5) != '1' || in.get(6) != '.' || in.get(8) != ' ') {
      return false;
    }
    int status = 0;
    for (int i = 9; i < 12; i++) {
      byte b = in.get(i);
      if (b < '0' || b > '9') {
        return false;
      }
      status = status * 10 + (b - '0');
    }
    long length = -1;
    boolean close = in.get(7) == '0'; // HTTP/1.0 closes unless told otherwise
    int line = 0;
    while (true) {
      while (line < end && in.get(line) != '\n') {
        line++;
      }
      line++; // the first byte of the next header line
      if (line >= end - 2) {
        break; // the blank line
      }
      if (startsWithIgnoreCase(in, line, end, CONTENT_LENGTH)) {
        int i = skipSpaces(in, line + CONTENT_LENGTH.length, end);
        length = 0;
        int digits = 0;
        for (byte b; i < end && (b = in.get(i)) >= '0' && b <= '9'; i++, digits++) {
          length = length * 10 + (b - '0');
        }
        if (digits == 0 || digits > 15) {
          return false;
        }
      } else if (startsWithIgnoreCase(in, line, end, TRANSFER_ENCODING)) {
        return false; // chunked: not needed for the benchmarks' fixed answers
      } else if (startsWithIgnoreCase(in, line, end, CONNECTION)) {
        int i = skipSpaces(in, line + CONNECTION.length, end);
        close = startsWithIgnoreCase(in, i, end, CLOSE);
      }
    }
    if (length < 0 && (status == 204 || status == 304)) {
      length = 0;
    }
    if (length < 0) {
      return false;
    }
    connection.status = status;
    connection.bodyRemaining = length;
    connection.closeAfter = close;
    return true;
  }

  private static boolean startsWithIgnoreCase(ByteBuffer in, int from, int end, byte[] lowerCase) {
    if (from + lowerCase.length > end) {
      return false;
    }
    for (int i = 0; i < lowerCase.length; i++) {
      byte b = in.get(from + i);
      if (b >= 'A' && b <= 'Z') {
        b += 'a' - 'A';
      }
      if (b != lowerCase[i]) {
        return false;
      }
    }
    return true;
  }

  private static int skipSpaces(ByteBuffer in, int i, int end) {
    while (i < end && (in.get(i) == ' ' || in.get(i) == '\t')) {
      i++;
    }
    return i;
  }

  static Duration parseDuration(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      }
      if (t.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * 60);
      }
      return Duration.ofSeconds(Long.parseLong(t));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("a duration such as 10s or 500ms is needed, got " + text);
    }
  }

  public static void main(String[] args) throws Exception {
    long rate = -1;
    int connections = 50;
    Duration duration = Duration.ofSeconds(10);
    Duration warmup = Duration.ofSeconds(3);
    List<String> headers = new ArrayList<>();
    String url = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--rate" -> rate = Long.parseLong(args[++i]);
          case "--connections" -> connections = Integer.parseInt(args[++i]);
          case "--duration" -> duration = parseDuration(args[++i]);
          case "--warmup" -> warmup = parseDuration(args[++i]);
          case "--header" -> headers.add(args[++i]);
          default -> {
            if (args[i].startsWith("--") || url != null) {
              throw new IllegalArgumentException("unknown argument " + args[i]);
            }
            url = args[i];
          }
        }
      }
      if (rate <= 0 || url == null) {
        throw new IllegalArgumentException("--rate and a URL are needed");
      }
      FixedRateLoad load = new FixedRateLoad(URI.create(url), headers, rate, connections, warmup, duration,
          System::nanoTime);
      Result result = load.run();
      System.out.println(result.summary());
      System.out.println(result.line());
      System.exit(result.errors == 0 && result.heldRate() ? 0 : 1);
    } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException e) {
      System.err.println("FixedRateLoad: " + e.getMessage());
      System.err.println("usage: FixedRateLoad --rate REQ_PER_S [--connections 50] [--duration 10s] [--warmup 3s]"
          + " [--header 'Name: value']... http://HOST:PORT/PATH");
      System.exit(2);
    }
  }
}
