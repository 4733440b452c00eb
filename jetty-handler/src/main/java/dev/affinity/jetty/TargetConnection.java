package dev.affinity.jetty;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.BufferUtil;

/**
 * One kept-alive HTTP/1.1 connection to a target, used by one request at a time with blocking I/O:
 * the relaying thread writes the request head, then reads the answer with Jetty's {@link HttpParser}
 * and writes it on to the client as it arrives.
 *
 * <p>Blocking is the point: the kernel wakes the one thread waiting for the target's answer, where an
 * asynchronous client wakes a selector that hands the answer to another thread (measured on one core:
 * 1.6 to 1.9 times the requests per second of Jetty's {@code HttpClient} proxying). Not thread-safe;
 * {@link TargetConnections} hands a connection to one thread at a time.
 *
 * <p>The socket has no read timeout: with one, the JDK turns every read into a non-blocking read, a
 * poll and a second read (without one: 1.17 times the throughput in an A/B). A silent target is cut instead by
 * {@link TargetConnections#expireSilent()}, which closes a connection whose read has waited too long.
 */
final class TargetConnection implements Closeable, HttpParser.ResponseHandler {
  static final int BUFFER_SIZE = 32 * 1024;

  /** The target answered with something that is not a usable HTTP/1.1 response. */
  static final class BadResponseException extends IOException {
    BadResponseException(String message) {
      super(message);
    }
  }

  /** Writing to the client failed: the client went away, not the target. */
  static final class ClientWriteException extends IOException {
    ClientWriteException(Throwable cause) {
      super("client write failed: " + cause, cause);
    }
  }

  /** Told once the target's status and headers are in, before any content goes to the client. */
  interface ResponseHeaders {
    void onHeaders(int status, HttpFields headers) throws IOException;
  }

  private static final long NOT_WAITING = Long.MIN_VALUE;

  final URI origin;
  private final LongSupplier nanoTicker;
  private final Socket socket;
  private final InputStream fromTarget;
  private final OutputStream toTarget;
  private final HttpParser parser = new HttpParser(this);
  private final byte[] readBytes = new byte[BUFFER_SIZE];
  private final ByteBuffer readBuffer = ByteBuffer.wrap(readBytes);
  private final HttpFields.Mutable headers = HttpFields.build();
  /** Whether this connection carried an exchange before (a kept-alive one the target may have closed since). */
  boolean reused;
  /** When it went back to the pool, in ticker nanoseconds. */
  long idleSince;
  // When the current read from the target began (ticker nanoseconds), or NOT_WAITING; read by the watchdog.
  private volatile long waitingSince = NOT_WAITING;
  private volatile long silenceLimitNanos;
  private volatile boolean timedOut;

  // One exchange's state, reset by readResponse.
  private Response proxyToClientResponse;
  private ResponseHeaders headersListener;
  private int status;
  private HttpVersion version;
  private boolean interim;
  private boolean complete;
  private IOException failure;
  private ByteBuffer pending;
  private long receivedBytes;

  private TargetConnection(URI origin, LongSupplier nanoTicker, Socket socket) throws IOException {
    this.origin = origin;
    this.nanoTicker = nanoTicker;
    this.socket = socket;
    this.fromTarget = socket.getInputStream();
    this.toTarget = socket.getOutputStream();
    readBuffer.limit(0);
  }

  static TargetConnection open(URI origin, LongSupplier nanoTicker, int connectTimeoutMillis) throws IOException {
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(origin.getHost(), origin.getPort()), connectTimeoutMillis);
      return new TargetConnection(origin, nanoTicker, socket);
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  boolean isOpen() {
    return !socket.isClosed();
  }

  /** Bytes received from the target during the current exchange. */
  long receivedBytes() {
    return receivedBytes;
  }

  /** Writes a bodyless request: request line and headers in one write. */
  void writeRequest(RequestHead head) throws IOException {
    // A new exchange: a write that fails (the target reset the idle connection) has received nothing.
    receivedBytes = 0;
    toTarget.write(head.bytes(), 0, head.length());
  }

  /**
   * Reads the target's answer and writes it to the client as it comes: headers (after the listener
   * saw them), then content, the last piece with {@code last=true}. Returns whether the connection
   * can carry another exchange.
   *
   * @param silenceLimitNanos how long one wait for the target's next bytes may last
   * @throws SocketTimeoutException the target was silent for longer than that
   * @throws BadResponseException the target's answer is not HTTP, or stopped short
   * @throws ClientWriteException the client went away
   */
  boolean readResponse(boolean headRequest, long silenceLimitNanos, Response proxyToClientResponse,
      ResponseHeaders headersListener) throws IOException {
    this.proxyToClientResponse = proxyToClientResponse;
    this.headersListener = headersListener;
    this.silenceLimitNanos = silenceLimitNanos;
    startMessage(headRequest);
    while (true) {
      if (!readBuffer.hasRemaining()) {
        // The next read overwrites the buffer a held piece of content still points into.
        flushPending(false);
        int n = readFromTarget();
        if (n < 0) {
          parser.atEOF();
          parser.parseNext(BufferUtil.EMPTY_BUFFER);
          throwIfFailed();
          if (!complete) {
            throw closedEarly();
          }
          break;
        }
        readBuffer.limit(n).position(0);
        receivedBytes += n;
      }
      parser.parseNext(readBuffer);
      throwIfFailed();
      if (complete) {
        if (!interim) {
          break;
        }
        // 100 Continue and 103 Early Hints are not passed on (no request here has a body to continue).
        startMessage(headRequest);
      }
    }
    flushPending(true);
    return version == HttpVersion.HTTP_1_1 && !readBuffer.hasRemaining() && !parser.isClose() && !closes(headers);
  }

  private int readFromTarget() throws IOException {
    waitingSince = nanoTicker.getAsLong();
    try {
      return fromTarget.read(readBytes, 0, readBytes.length);
    } catch (IOException e) {
      if (timedOut) {
        throw new SocketTimeoutException("target " + origin + " sent nothing for more than "
            + silenceLimitNanos / 1_000_000 + " ms");
      }
      throw e;
    } finally {
      waitingSince = NOT_WAITING;
    }
  }

  /**
   * Closes the connection if its current read from the target has waited longer than the silence
   * limit (the blocked read then fails with a timeout). Called by the watchdog thread.
   */
  boolean expireIfSilent(long now) {
    long since = waitingSince;
    if (since != NOT_WAITING && now - since > silenceLimitNanos) {
      timedOut = true;
      close();
      return true;
    }
    return false;
  }

  private void startMessage(boolean headRequest) {
    parser.reset();
    parser.setHeadResponse(headRequest);
    headers.clear();
    status = 0;
    version = null;
    interim = false;
    complete = false;
    failure = null;
    pending = null;
  }

  private static boolean closes(HttpFields headers) {
    return headers.contains(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
  }

  private void throwIfFailed() throws IOException {
    if (failure != null) {
      IOException f = failure;
      failure = null;
      throw f;
    }
  }

  private void flushPending(boolean last) throws IOException {
    ByteBuffer content = pending;
    pending = null;
    if (content == null && !last) {
      return;
    }
    try (Blocker.Callback callback = Blocker.callback()) {
      proxyToClientResponse.write(last, content == null ? BufferUtil.EMPTY_BUFFER : content, callback);
      callback.block();
    } catch (IOException | RuntimeException e) {
      throw new ClientWriteException(e);
    }
  }

  @Override
  public void startResponse(HttpVersion version, int status, String reason) {
    this.version = version;
    this.status = status;
    this.interim = status >= 100 && status < 200 && status != 101;
  }

  @Override
  public void parsedHeader(HttpField field) {
    headers.add(field);
  }

  @Override
  public boolean headerComplete() {
    if (interim) {
      return false;
    }
    if (status == 101) {
      // Nothing here asks for an upgrade (WebSockets take another path), so a switch is not HTTP any more.
      failure = new BadResponseException("target switched protocols unasked");
      return true;
    }
    try {
      headersListener.onHeaders(status, headers);
    } catch (IOException e) {
      failure = e;
      return true;
    }
    return false;
  }

  @Override
  public boolean content(ByteBuffer content) {
    // Held back one piece, so that the last one goes out with last=true (no empty final write).
    // It points into readBuffer, which is only refilled after flushPending.
    try {
      flushPending(false);
    } catch (IOException e) {
      failure = e;
      return true;
    }
    pending = content;
    return false;
  }

  @Override
  public boolean contentComplete() {
    return false;
  }

  @Override
  public boolean messageComplete() {
    complete = true;
    return true;
  }

  @Override
  public void earlyEOF() {
    failure = closedEarly();
  }

  private static BadResponseException closedEarly() {
    return new BadResponseException("target closed the connection before the response was complete");
  }

  @Override
  public void badMessage(HttpException bad) {
    failure = new BadResponseException("target sent a bad response: " + bad.getReason());
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Closing is all that was wanted.
    }
  }

  @Override
  public String toString() {
    return "TargetConnection[" + origin + ", " + socket.getLocalPort() + "]";
  }
}
