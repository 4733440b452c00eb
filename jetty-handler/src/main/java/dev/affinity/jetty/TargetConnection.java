package dev.affinity.jetty;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * One kept-alive HTTP/1.1 connection to a target, carrying one exchange at a time, driven by the
 * selector of the server connector that accepted the client: the request head goes out in one write,
 * the answer is parsed with Jetty's {@link HttpParser} in the selector thread as it arrives and written
 * on to the client from there, the last piece with {@code last=true}.
 *
 * <p>Sharing the client's selector is the point. Nothing waits: the thread that reads the target's
 * answer is the one that writes it to the client, and no thread is handed the work in between, which
 * is how HAProxy proxies too (one thread per core, one event loop for both sides). A connection is
 * not thread-safe beyond that: {@link TargetConnections} hands it to one exchange at a time.
 *
 * <p>The endpoint's idle timeout is the upstream timeout: a target silent for longer ends the exchange
 * with a {@link SocketTimeoutException} (504). A client slow to take the answer is not the target's
 * silence: while a write to the client is pending, an idle expiry is ignored.
 */
final class TargetConnection extends AbstractConnection implements HttpParser.ResponseHandler, StrictHead.Sink {
  static final int BUFFER_SIZE = 32 * 1024;
  /** The largest answer head read strictly; a larger one is Jetty's parser's. */
  private static final int STRICT_HEAD_BYTES = 8 * 1024;
  /**
   * Where an answer's head is copied to be read strictly (the read buffer is a direct one): per thread,
   * the selector threads that run the relay, rather than per connection (thousands may be pooled).
   */
  private static final ThreadLocal<byte[]> HEAD_BYTES = ThreadLocal.withInitial(() -> new byte[STRICT_HEAD_BYTES]);

  /** The target answered with something that is not a usable HTTP/1.1 response. */
  static final class BadResponseException extends IOException {
    BadResponseException(String message) {
      super(message);
    }
  }

  /** The target's connection ended before its response did: the bytes stopped, they were not garbage. */
  static final class ClosedEarlyException extends IOException {
    ClosedEarlyException(String message) {
      super(message);
    }
  }

  /** Where one exchange's answer goes, and who hears how it ended. Called once for the end. */
  interface Relay {
    /** Writes a piece of the answer's body to the client (after {@link #onHeaders}), as {@code Response.write} does. */
    void proxyToClient(boolean last, ByteBuffer content, Callback callback);

    /** The target's status and headers are in; nothing has gone to the client yet. */
    void onHeaders(int status, HttpFields headers) throws IOException;

    /** The whole answer went to the client. A reusable connection goes back to the pool once its request's write is done too (normally already). */
    void succeeded();

    /**
     * The target failed the exchange.
     *
     * @param reused whether this connection carried an exchange before (the target may have closed it while idle)
     * @param answerReceived whether any byte of the target's answer had arrived
     */
    void failed(Throwable failure, boolean reused, boolean answerReceived);

    /** Writing to the client failed: the client went away, not the target. */
    void clientFailed(Throwable failure);
  }

  // States of a write to the client, for running the parse loop on in the writing thread when the
  // write completes at once (no recursion), or from the write's callback when it completes later.
  private static final int NOT_WRITING = 0;
  private static final int WRITING = 1;
  private static final int WRITTEN_AT_ONCE = 2;
  private static final int WRITE_PENDING = 3;

  final URI origin;
  private final TargetConnections pool;
  private final HttpParser parser = new DetachedFieldsParser(this);
  private final ByteBufferPool buffers;
  // The pooled buffer the answer is read into, held only from a read until its bytes are parsed and
  // written to the client: an idle or waiting connection holds none, and a closed one gives it back
  // at once (not when a collection finds it). Touched only by the thread running process() or the
  // client write's callback, which take turns.
  private RetainableByteBuffer networkBuffer;
  private ByteBuffer readBuffer = BufferUtil.EMPTY_BUFFER;
  private final HttpFields.Mutable headers = HttpFields.build();
  private final StrictHead.Lines answerLines = new StrictHead.Lines();
  private final AtomicReference<Relay> relay = new AtomicReference<>();
  private final AtomicInteger writeState = new AtomicInteger();
  private final Callback contentWritten = new Step(Step.CONTENT_WRITTEN);
  private final Callback lastWritten = new Step(Step.LAST_WRITTEN);
  private final Callback fillable = new Step(Step.FILLABLE);
  private final Callback requestWritten = new Step(Step.REQUEST_WRITTEN);
  private final HeadWrite headWrite;
  // The exchange's two parts, the request's write and the answer's relay, not yet done. The last one
  // done gives the connection back: an answer can be relayed in full on another thread before the
  // request's write has returned, and a new exchange on it then failed with WritePendingException
  // (once in 1.2 million requests in bench/compare.sh).
  private final AtomicInteger partsLeft = new AtomicInteger();
  /** Whether this connection carried an exchange before (a kept-alive one the target may have closed since). */
  boolean reused;
  /** When it went back to the pool, in the pool's ticker nanoseconds. */
  long idleSince;

  // One exchange's state, reset by send and startMessage.
  private boolean headRequest;
  private int status;
  private HttpVersion version;
  private boolean interim;
  private boolean complete;
  private volatile boolean reusable;
  private IOException failure;
  private ByteBuffer pending;
  private ByteBuffer overflow;
  private long receivedBytes;
  /** Whether the next bytes begin an answer's head (which {@link StrictHead#answer} may read). */
  private boolean atHead;
  /** The body bytes still to come of an answer read by its length; -1 while Jetty's parser reads the answer. */
  private long bodyLeft;
  /** The {@code Content-Length} of an answer read strictly; -1 without one. */
  private long strictLength;

  private TargetConnection(TargetEndPoint endPoint, Executor executor, ByteBufferPool buffers, URI origin, TargetConnections pool) {
    super(endPoint, executor);
    this.buffers = buffers;
    this.headWrite = new HeadWrite(endPoint, buffers);
    this.origin = origin;
    this.pool = pool;
  }

  /** Hears how a connect to a target ended: once, with a connection or with the failure. */
  interface Opening {
    /** On the selector thread of the connection, which may be used at once. */
    void opened(TargetConnection connection);

    /** On a pool thread: refused, unreachable, timed out, or the selector stopped. */
    void failed(Throwable failure);
  }

  /**
   * Connects to {@code origin} without holding a thread while the target answers the handshake: the
   * connect is started on a pool thread of {@code connector} (resolving a host name may block) and
   * finished by {@code selector}, one of the connector's selectors, whose thread then does all the
   * connection's I/O; the connector's scheduler bounds the connect by {@code connectTimeoutMillis} and
   * times the connection, its buffer pool lends it a buffer to read into. Returns at once.
   */
  static void open(URI origin, int connectTimeoutMillis, ManagedSelector selector, Connector connector, TargetConnections pool,
      Opening opening) {
    Connecting connecting = new Connecting(origin, connectTimeoutMillis, selector, connector, pool, opening);
    try {
      connector.getExecutor().execute(connecting::start);
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      opening.failed(new IOException("the balancer is stopping", stopping));
    }
  }

  /**
   * Tells {@code opening} of {@code failure} off the selector and the scheduler: what comes next (another
   * attempt, an answer) is the pool's work. On the calling thread when the pool is stopping.
   */
  static void failOnPool(Connector connector, Opening opening, Throwable failure) {
    try {
      connector.getExecutor().execute(() -> opening.failed(failure));
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      opening.failed(failure); // the exchange ends here all the same
    }
  }

  /**
   * One connect in progress: registered for {@code OP_CONNECT} on the selector, which calls
   * {@link #onSelected} when the handshake is over; then the key gets the connection's endpoint.
   * Whichever comes first of the handshake, the time limit and the selector's stop ends it.
   */
  private static final class Connecting implements ManagedSelector.Selectable, ManagedSelector.SelectorUpdate, java.io.Closeable {
    private final URI origin;
    private final int timeoutMillis;
    private final ManagedSelector selector;
    private final Connector connector;
    private final TargetConnections pool;
    private final Opening opening;
    private final java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
    private SocketChannel channel;
    private boolean connectedAtOnce;
    private volatile SelectionKey key;
    private volatile Scheduler.Task timeout;

    Connecting(URI origin, int timeoutMillis, ManagedSelector selector, Connector connector, TargetConnections pool, Opening opening) {
      this.origin = origin;
      this.timeoutMillis = timeoutMillis;
      this.selector = selector;
      this.connector = connector;
      this.pool = pool;
      this.opening = opening;
    }

    /** On a pool thread: starts the handshake and hands the channel to the selector. */
    void start() {
      try {
        channel = SocketChannel.open();
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.configureBlocking(false);
        timeout = connector.getScheduler().schedule(this::timedOut, timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        connectedAtOnce = channel.connect(new InetSocketAddress(origin.getHost(), origin.getPort()));
        selector.submit(this);
      } catch (IOException | RuntimeException e) {
        fail(e);
      }
    }

    /** On the selector thread. */
    @Override
    public void update(java.nio.channels.Selector nioSelector) {
      if (ended.get()) {
        return; // timed out or failed before the selector took it
      }
      try {
        key = channel.register(nioSelector, connectedAtOnce ? 0 : SelectionKey.OP_CONNECT, this);
        if (connectedAtOnce) {
          connected();
        }
      } catch (IOException | RuntimeException e) {
        fail(e);
      }
    }

    /** On the selector thread: the handshake is over, one way or the other. */
    @Override
    public Runnable onSelected() {
      try {
        if (channel.finishConnect()) {
          key.interestOps(0);
          connected();
        }
      } catch (IOException | RuntimeException e) {
        fail(e);
      }
      return null;
    }

    private void connected() {
      if (!end()) {
        return;
      }
      TargetEndPoint endPoint = new TargetEndPoint(channel, selector, key, connector.getScheduler());
      key.attach(endPoint);
      TargetConnection connection = new TargetConnection(endPoint, connector.getExecutor(), connector.getByteBufferPool(), origin, pool);
      endPoint.setConnection(connection);
      endPoint.onOpen();
      connection.onOpen();
      opening.opened(connection);
    }

    private void timedOut() {
      fail(new SocketTimeoutException("connect to " + origin + " timed out after " + timeoutMillis + " ms"));
    }

    private void fail(Throwable failure) {
      if (!end()) {
        return;
      }
      if (channel != null) {
        try {
          channel.close(); // cancels the key too
        } catch (IOException ignored) {
          // closing a channel that never connected
        }
      }
      failOnPool(connector, opening, failure);
    }

    /** Whether this call ends the connect (the first of the handshake, the time limit and a failure); stops the clock. */
    private boolean end() {
      if (!ended.compareAndSet(false, true)) {
        return false;
      }
      Scheduler.Task task = timeout;
      if (task != null) {
        task.cancel();
      }
      return true;
    }

    /** The selector is stopping (its attachments are closed). */
    @Override
    public void close() {
      fail(new IOException("the selector stopped before " + origin + " answered the connect"));
    }

    @Override
    public void updateKey() {
      // Interest is set once, at registration; the endpoint takes the key over when connected.
    }

    @Override
    public void replaceKey(SelectionKey newKey) {
      key = newKey;
    }

    @Override
    public String toString() {
      return "Connecting[" + origin + "]";
    }
  }

  boolean isOpen() {
    return getEndPoint().isOpen();
  }

  /**
   * Sends a bodyless request (request line and headers in one write) and relays the answer. Returns
   * at once; {@code relay} hears the end.
   */
  void send(HttpHead head, boolean headRequest, long silenceLimitMillis, Relay relay) {
    this.headRequest = headRequest;
    this.receivedBytes = 0;
    this.reusable = false;
    startMessage();
    getEndPoint().setIdleTimeout(silenceLimitMillis);
    this.relay.set(relay);
    partsLeft.set(2);
    headWrite.write(requestWritten, headWrite.buffer(head, 0).flip());
    // The idle connection may still be listening (see onExchangePartDone): then that read takes the answer.
    tryFillInterested(fillable);
  }

  @Override
  public void onOpen() {
    super.onOpen();
    tryFillInterested(fillable);
  }

  @Override
  public void onFillInterestedFailed(Throwable cause) {
    fail(cause);
  }

  @Override
  public void onFillable() {
    process();
  }

  // Reads, parses and writes to the client until it has to wait for the target or for the client.
  private void process() {
    while (true) {
      Relay current = relay.get();
      if (current == null) {
        idleRead();
        return;
      }
      if (complete && !interim) {
        finish(current);
        return;
      }
      if (pending != null && (overflow != null || !readBuffer.hasRemaining())) {
        // The next fill overwrites the buffer this content points into: out with it first.
        ByteBuffer content = pending;
        pending = overflow;
        overflow = null;
        if (!writeToClient(current, false, content, contentWritten)) {
          return;
        }
        continue;
      }
      if (!readBuffer.hasRemaining()) {
        // Nothing points into the buffer now (pending content went out above): it can be refilled.
        int n;
        try {
          n = fill();
        } catch (IOException e) {
          releaseBuffer();
          fail(e);
          return;
        }
        if (n == 0) {
          releaseBuffer();
          tryFillInterested(fillable);
          return;
        }
        if (n < 0) {
          releaseBuffer();
          parser.atEOF();
          parser.parseNext(BufferUtil.EMPTY_BUFFER);
          if (failure == null && !complete) {
            failure = closedEarly();
          }
          if (failure != null) {
            fail(failure);
            return;
          }
          continue;
        }
        receivedBytes += n;
      }
      if (atHead) {
        atHead = false;
        readHeadStrictly();
      }
      if (bodyLeft >= 0) {
        readBodyByLength();
      } else {
        parser.parseNext(readBuffer);
      }
      if (failure != null) {
        releaseBuffer();
        fail(failure);
        return;
      }
      if (complete && interim) {
        // 100 Continue and 103 Early Hints are not passed on (no request here has a body to continue).
        startMessage();
      }
    }
  }

  // A read with no exchange: the target closed the idle connection, or sent what nobody asked for.
  private void idleRead() {
    int n = -1;
    try {
      n = fill();
    } catch (IOException ignored) {
      // Closed below, like any idle connection the target gave up on.
    }
    releaseBuffer();
    if (n == 0) {
      tryFillInterested(fillable);
      return;
    }
    close();
  }

  /** Reads into the emptied buffer, borrowing one from the pool first when none is held. */
  private int fill() throws IOException {
    if (networkBuffer == null) {
      networkBuffer = buffers.acquire(BUFFER_SIZE, true);
      readBuffer = networkBuffer.getByteBuffer();
    }
    BufferUtil.clear(readBuffer);
    return getEndPoint().fill(readBuffer);
  }

  private void releaseBuffer() {
    if (networkBuffer != null) {
      readBuffer = BufferUtil.EMPTY_BUFFER;
      networkBuffer.release();
      networkBuffer = null;
    }
  }

  /** Writes to the client; returns whether the write completed at once (the caller carries on). */
  private boolean writeToClient(Relay current, boolean last, ByteBuffer content, Callback callback) {
    writeState.set(WRITING);
    current.proxyToClient(last, content, callback);
    // The callback ran already if the state moved to WRITTEN_AT_ONCE; otherwise it runs process() later.
    if (writeState.compareAndSet(WRITING, WRITE_PENDING)) {
      return false;
    }
    writeState.set(NOT_WRITING);
    return true;
  }

  private void onContentWritten() {
    if (!writeState.compareAndSet(WRITING, WRITTEN_AT_ONCE)) {
      writeState.set(NOT_WRITING);
      process();
    }
  }

  private void finish(Relay current) {
    reusable = version == HttpVersion.HTTP_1_1 && !readBuffer.hasRemaining() && !parser.isClose() && !closes(headers);
    ByteBuffer content = pending == null ? BufferUtil.EMPTY_BUFFER : pending;
    pending = null;
    // Not through writeToClient: once the last write is done the connection may already be carrying
    // the next exchange, whose write state this thread must not touch.
    writeState.set(WRITE_PENDING);
    current.proxyToClient(true, content, lastWritten);
  }

  private void onLastWritten() {
    writeState.set(NOT_WRITING);
    // Before the connection can go back to the pool and another thread read into it.
    releaseBuffer();
    Relay done = relay.getAndSet(null);
    if (done == null) {
      return;
    }
    // Back in the pool (normally) before the client's exchange completes, for the client's next request.
    onExchangePartDone();
    done.succeeded();
  }

  private void onExchangePartDone() {
    if (partsLeft.decrementAndGet() != 0) {
      return;
    }
    if (reusable) {
      // Idle, it still listens: a target that closes it is noticed, and it leaves the pool.
      tryFillInterested(fillable);
      pool.release(this);
    } else {
      close();
    }
  }

  private void onClientWriteFailed(Throwable x) {
    writeState.set(NOT_WRITING);
    releaseBuffer();
    Relay done = relay.getAndSet(null);
    close();
    if (done != null) {
      done.clientFailed(x);
    }
  }

  private void onRequestWriteFailed(Throwable x) {
    fail(x);
  }

  private void fail(Throwable x) {
    Relay done = relay.getAndSet(null);
    close();
    if (done != null) {
      done.failed(x, reused, receivedBytes > 0);
    }
  }

  @Override
  public boolean onIdleExpired(TimeoutException timeout) {
    if (relay.get() == null) {
      // Idle in the pool past the upstream timeout: closed (the pool's own age limit is shorter).
      return true;
    }
    if (writeState.get() != NOT_WRITING) {
      // Waiting for the client to take the answer, not for the target.
      return false;
    }
    fail(new SocketTimeoutException("target " + origin + " sent nothing for more than " + getEndPoint().getIdleTimeout() + " ms"));
    return true;
  }

  @Override
  public void onClose(Throwable cause) {
    super.onClose(cause);
    pool.closed(this);
    if (relay.get() != null) {
      fail(cause != null ? cause : new IOException("connection to target " + origin + " closed"));
    }
  }

  /**
   * Reads the answer's head with {@link StrictHead#answer} when it is a plain one whose body is known
   * by its length (or has none): its body is then passed on as it comes, without Jetty's parser, which
   * cost about a tenth of a sticky hit's CPU time with the request's own parse (bench/
   * profile-attribution.py). Any other answer (chunks, no length, an interim status, anything the strict
   * reader does not take) is left untouched for Jetty's parser.
   */
  private void readHeadStrictly() {
    int available = Math.min(readBuffer.remaining(), STRICT_HEAD_BYTES);
    byte[] headBytes = HEAD_BYTES.get();
    readBuffer.get(readBuffer.position(), headBytes, 0, available);
    strictLength = -1;
    int end = StrictHead.answer(headBytes, 0, available, STRICT_HEAD_BYTES, this, answerLines);
    boolean bodyless = headRequest || status == 204 || status == 304;
    if (end < 0 || (!bodyless && strictLength < 0)) {
      headers.clear();
      status = 0;
      return;
    }
    readBuffer.position(readBuffer.position() + end);
    version = HttpVersion.HTTP_1_1;
    bodyLeft = bodyless ? 0 : strictLength;
    if (headerComplete()) {
      return;
    }
    if (bodyLeft == 0) {
      messageComplete();
    }
  }

  @Override
  public void statusLine(int answerStatus) {
    status = answerStatus;
  }

  @Override
  public void field(HttpField field) {
    headers.add(field);
    if (field.getHeader() == HttpHeader.CONTENT_LENGTH) {
      strictLength = Long.parseLong(field.getValue());
    }
  }

  /** Passes on the body bytes of an answer read by its length that the buffer holds. */
  private void readBodyByLength() {
    if (complete || failure != null) {
      return;
    }
    int n = (int) Math.min(bodyLeft, readBuffer.remaining());
    if (n > 0) {
      ByteBuffer content = readBuffer.slice(readBuffer.position(), n);
      readBuffer.position(readBuffer.position() + n);
      bodyLeft -= n;
      content(content);
    }
    if (bodyLeft == 0) {
      messageComplete();
    }
  }

  private void startMessage() {
    atHead = true;
    bodyLeft = -1;
    parser.reset();
    parser.setHeadResponse(headRequest);
    headers.clear();
    status = 0;
    version = null;
    interim = false;
    complete = false;
    failure = null;
    pending = null;
    overflow = null;
  }

  private static boolean closes(HttpFields headers) {
    return headers.contains(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
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
      relay.get().onHeaders(status, headers);
    } catch (IOException | RuntimeException e) {
      failure = e instanceof IOException io ? io : new IOException(e);
      return true;
    }
    return false;
  }

  @Override
  public boolean content(ByteBuffer content) {
    // One piece is held back, so that the last one goes out with last=true (no empty final write).
    // It points into readBuffer, which is refilled only after it has been written.
    if (pending == null) {
      pending = content;
      return false;
    }
    overflow = content;
    return true;
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

  private static ClosedEarlyException closedEarly() {
    return new ClosedEarlyException("target closed the connection before the response was complete");
  }

  @Override
  public void badMessage(HttpException bad) {
    failure = new BadResponseException("target sent a bad response: " + bad.getReason());
  }

  @Override
  public String toConnectionString() {
    return "TargetConnection[" + origin + ", " + getEndPoint().getLocalSocketAddress() + "]";
  }

  /**
   * A parser whose header fields refer to nothing. Jetty's own are an inner class of the parser:
   * copied onto the client's response they would keep this connection reachable (its parser, its
   * buffer) for as long as the client's connection keeps its last response's headers, which is until
   * its next request (see {@link Upstream#detached}).
   */
  static final class DetachedFieldsParser extends HttpParser {
    DetachedFieldsParser(ResponseHandler handler) {
      super(handler);
    }

    @Override
    public HttpField newHttpField(HttpHeader header, String name, String value) {
      return new HttpField(header, name, value);
    }
  }

  /**
   * The connection's callbacks, all of one class. A callback made by {@code Callback.from} calls its
   * {@code Runnable} through a call site that every such callback in the process shares, an interface
   * call that is never inlined (0.6 % of a sticky hit's CPU time, bench/profile.sh); with one class, the
   * places that call these ({@link HeadWrite}, the relay) see one receiver.
   */
  private final class Step implements Callback {
    static final int CONTENT_WRITTEN = 0;
    static final int LAST_WRITTEN = 1;
    static final int FILLABLE = 2;
    static final int REQUEST_WRITTEN = 3;

    private final int step;

    Step(int step) {
      this.step = step;
    }

    @Override
    public void succeeded() {
      switch (step) {
        case CONTENT_WRITTEN -> onContentWritten();
        case LAST_WRITTEN -> onLastWritten();
        case FILLABLE -> onFillable();
        default -> onExchangePartDone();
      }
    }

    @Override
    public void failed(Throwable x) {
      switch (step) {
        case CONTENT_WRITTEN, LAST_WRITTEN -> onClientWriteFailed(x);
        case FILLABLE -> onFillInterestedFailed(x);
        default -> onRequestWriteFailed(x);
      }
    }

    @Override
    public InvocationType getInvocationType() {
      return InvocationType.NON_BLOCKING;
    }
  }

  /** The target side of the balancer, on the server connector's selector but not its connection. */
  private static final class TargetEndPoint extends SocketChannelEndPoint {
    TargetEndPoint(SocketChannel channel, ManagedSelector selector, SelectionKey key, Scheduler scheduler) {
      super(channel, selector, key, scheduler);
    }

    @Override
    public boolean flush(ByteBuffer... buffers) throws IOException {
      return buffers.length == 1 ? ClientEndPoint.flushOne(this, buffers[0]) : super.flush(buffers);
    }

    @Override
    public Object getTransport() {
      // When this endpoint closes, the selector tells the connector's accept listeners about its
      // transport; a channel they never saw accepted must not reach them (a ConnectionLimit would
      // count it off).
      return null;
    }
  }
}
