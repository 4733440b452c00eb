package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.ClientRequest;
import dev.affinity.balancer.Forwarder;
import dev.affinity.observe.ExchangeObserver;
import dev.affinity.rules.RuleRequest;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.eclipse.jetty.http.CookieCache;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.AbstractConnectionFactory;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.HostPort;
import org.eclipse.jetty.util.NanoTime;
import org.eclipse.jetty.util.thread.Invocable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The balancer's own HTTP/1.1 front end for the request nearly all of a balancer's traffic is: a
 * kept-alive {@code GET} or {@code HEAD} without a body, relayed to a plain HTTP/1.1 target on the
 * direct relay. Jetty's server reads such a request through its whole machinery (its connection,
 * channel state, request and response objects, generator and their callbacks) for a proxy that needs
 * none of it; that machinery was about a fifth of the balancer's CPU per request (bench/
 * profile-attribution.py), the gap between it and HAProxy.
 *
 * <p>A connection of this factory reads the request head itself, strictly ({@link StrictHead#request}:
 * whatever it does not take as it is goes to Jetty's parser, with the listener's compliance rules and
 * error answers), within the listener's header-size limit, decides with core's {@link Forwarder} and the
 * balancer's one header policy ({@link Upstream}), sends on the direct relay ({@link TargetConnection})
 * and writes the target's answer head and body to the client itself. Anything else is Jetty's: a head
 * that is not whole in one read, bad, pipelined or not plainly a bodyless {@code GET}/{@code HEAD}
 * (a body, {@code Upgrade}, {@code Expect}, HTTP/1.0, HTTP/2's preface, a path Jetty's URI rules must
 * judge, the admin paths), and any decision the direct relay cannot carry out (a rule's answer, a 503,
 * a target over TLS or HTTP/2, a 502 after the retries). The connection then hands itself, and the
 * bytes it read, to Jetty's HTTP/1.1 connection for good ({@link Connection.UpgradeFrom}, as Jetty's
 * own PROXY-protocol and protocol-detecting factories do), with the decision already taken
 * ({@link HandOver}): Jetty's server parses the same bytes again and the balancer carries on the
 * same exchange there, so a request is decided, counted and logged once whichever side serves it.
 *
 * <p>Only {@link AffinityServer} installs it, on cleartext listeners without the PROXY protocol or an
 * HTTPS redirect, in front of {@link RequestHeadTimeout}'s HTTP/1.1 factory.
 */
final class DirectHttp1 extends AbstractConnectionFactory {
  static final String PROTOCOL = "affinity-direct-http/1.1";
  private static final Logger LOG = LoggerFactory.getLogger(DirectHttp1.class);
  private static final byte[] CRLF = {'\r', '\n'};
  // Requests are read into the reading thread's direct buffer (the selector threads'), and what came is
  // copied out, a few hundred bytes: nothing is borrowed from the pool per request, the JDK does not read
  // through a temporary direct buffer of its own, and an idle connection holds no buffer.
  private static final ThreadLocal<ByteBuffer[]> READ_BUFFER = ThreadLocal.withInitial(() -> new ByteBuffer[1]);

  /** This thread's read buffer, empty (in flush mode, as a fill wants it), with room for {@code capacity} bytes. */
  private static ByteBuffer readBuffer(int capacity) {
    ByteBuffer[] holder = READ_BUFFER.get();
    if (holder[0] == null || holder[0].capacity() < capacity) {
      holder[0] = ByteBuffer.allocateDirect(capacity);
    }
    BufferUtil.clear(holder[0]);
    return holder[0];
  }

  /** A body up to this long goes out in the answer head's buffer (a copy this short costs less than a second buffer's write). */
  private static final int BODY_BYTES_WITH_HEAD = 4096;
  private static final byte[] LAST_CHUNK = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  /** A request handed to Jetty's server with its exchange under way: what the balancer carries on with. */
  record HandOver(String method, String pathQuery, ExchangeNote note, Attempt attempt, Attempt.Next answer, boolean ruleHeaders,
      boolean sameTarget) {}

  private final HttpConfiguration http;
  private final AffinityBalancer balancer;
  private final List<ExchangeObserver> observers;
  private final Predicate<String> servedElsewhere;
  private final BooleanSupplier draining;
  private final java.util.concurrent.atomic.LongAdder served = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder handedOver = new java.util.concurrent.atomic.LongAdder();

  /**
   * @param servedElsewhere paths that other handlers of the server answer (the admin endpoints)
   * @param draining whether the server is draining: Jetty's server then answers, with {@code Connection: close}
   */
  DirectHttp1(HttpConfiguration http, AffinityBalancer balancer, List<ExchangeObserver> observers, Predicate<String> servedElsewhere,
      BooleanSupplier draining) {
    super(PROTOCOL);
    this.http = requireNonNull(http, "http");
    this.balancer = requireNonNull(balancer, "balancer");
    this.observers = List.copyOf(observers);
    this.servedElsewhere = requireNonNull(servedElsewhere, "servedElsewhere");
    this.draining = requireNonNull(draining, "draining");
    if (http.getSendServerVersion() || http.getSendXPoweredBy() || !http.getCustomizers().isEmpty()) {
      // Jetty's server would add or change what this front end does not: refused rather than answered differently.
      throw new IllegalArgumentException("the direct front end writes answers without Server, X-Powered-By or customizers");
    }
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    return configure(new Client(connector, endPoint), connector, endPoint);
  }

  /**
   * The request the direct front end handed over on this request's connection, if this is it (the
   * first request Jetty's server reads there, the same method and path); {@code null} otherwise.
   */
  static HandOver takeHandOver(org.eclipse.jetty.server.Request request) {
    if (!(request.getConnectionMetaData().getConnection().getEndPoint() instanceof ClientEndPoint endPoint)) {
      return null;
    }
    HandOver handOver = endPoint.handOver;
    if (handOver == null) {
      return null;
    }
    endPoint.handOver = null;
    if (!handOver.method().equals(request.getMethod()) || !handOver.pathQuery().equals(request.getHttpURI().getPathQuery())) {
      return null;
    }
    return handOver;
  }

  /** Requests this front end served to the end itself. */
  long served() {
    return served.sum();
  }

  /** Connections handed to Jetty's server (each with the request that did not fit, decided or not). */
  long handedOver() {
    return handedOver.sum();
  }

  /** Whether {@code connection} is this front end's and waits for a request (for {@link Drain}). */
  static boolean isIdle(Connection connection) {
    return connection instanceof Client client && !client.exchanging;
  }

  /**
   * One client connection. Everything runs on the selector thread that reads the client (the target
   * connection shares it), except starting a connect to a target, on a pool thread (resolving its host may block).
   */
  private final class Client extends AbstractConnection implements Connection.UpgradeFrom, StrictHead.Sink,
      TargetConnection.Relay, Upstream.ClientHead, ClientRequest, RuleRequest {
    private final Connector connector;
    private final CookieCache cookieCache;
    private final ConnectionNote connectionNote;
    private final String remoteAddr;
    private final String localAddr;
    private final InetAddress peer;
    private final HttpFields.Mutable headers = HttpFields.build();
    private final HttpFields.Mutable answerHeaders = HttpFields.build();
    /** The bytes read of the request under way: Jetty's server gets them if the exchange is handed over. */
    private byte[] request;

    // One request, reset by read().
    private String method;
    private String pathQuery;
    private boolean plain;
    private String host;
    /** The Host field's host and port as Jetty's parser reads them (StrictHead made it so); null for an empty Host. */
    private HostPort hostPort;
    private boolean closeAfter;
    private List<HttpCookie> cookies;
    private long beginNanos;
    private long timeStampMillis;

    // One exchange.
    volatile boolean exchanging;
    private ExchangeNote note;
    private ClientOrigin relayed;
    private Attempt attempt;
    private int status;
    private boolean chunked;
    private boolean bodyless;
    private boolean committed;
    private final StrictHead.Lines requestLines = new StrictHead.Lines();
    private final HeadWrite headWrite;
    // This connection's last Via and Forwarded elements, and what they were made of.
    private String via;
    private String viaFor;
    private String forwarded;
    private String forwardedHost;
    private String forwardedProto;
    private long bodyBytes;

    Client(Connector connector, EndPoint endPoint) {
      super(endPoint, connector.getExecutor());
      this.connector = connector;
      this.headWrite = new HeadWrite(endPoint, connector.getByteBufferPool());
      this.cookieCache = new CookieCache(http.getRequestCookieCompliance());
      this.connectionNote = new ConnectionNote(endPoint.getRemoteSocketAddress(), endPoint.getLocalSocketAddress());
      SocketAddress remote = endPoint.getRemoteSocketAddress();
      this.peer = remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
      this.remoteAddr = hostAddress(remote);
      this.localAddr = hostAddress(endPoint.getLocalSocketAddress());
    }

    // Nothing here blocks (a connect to a target is done on a pool thread): run by the selector's thread.
    private final Callback fillable = Callback.from(Invocable.InvocationType.NON_BLOCKING, this::onFillable, this::onFillInterestedFailed);

    @Override
    public void onOpen() {
      super.onOpen();
      fillInterested(fillable);
    }

    @Override
    public void onFillable() {
      ByteBuffer bytes = readBuffer(http.getInputBufferSize());
      int filled;
      try {
        filled = getEndPoint().fill(bytes);
      } catch (java.io.IOException e) {
        getEndPoint().close(e);
        return;
      }
      if (filled == 0) {
        fillInterested(fillable);
        return;
      }
      if (filled < 0) {
        getEndPoint().close();
        return;
      }
      request = new byte[bytes.remaining()];
      bytes.get(request);
      read(request);
    }

    /** Reads one request out of {@code bytes} (the whole of what came) and serves it, or hands over. */
    private void read(byte[] bytes) {
      beginNanos = NanoTime.now();
      timeStampMillis = System.currentTimeMillis();
      headers.clear();
      method = null;
      pathQuery = null;
      plain = true;
      host = null;
      hostPort = null;
      closeAfter = false;
      cookies = null;
      int available = bytes.length;
      int end = StrictHead.request(bytes, 0, available, http.getRequestHeaderSize(), this, requestLines);
      // Nothing after the head: a pipelined request, or a body, is for Jetty's server.
      if (end != available || !plain || host.isEmpty() || !isDirectPath(pathQuery)
          || servedElsewhere.test(rawPath()) || draining.getAsBoolean() || isShutdown() || !balancer.isDirectRelay()) {
        handOver(null);
        return;
      }
      exchanging = true;
      // The bytes are kept until the exchange is over: a hand-over gives Jetty's server the very bytes read.
      relayed = ClientOrigins.relayed(peer, false, headers, serverPort(), balancer.getTrustedProxies());
      note = ExchangeNote.direct(headers, relayed);
      boolean secure = relayed != null && relayed.isSecure();
      Attempt decided = balancer.forwarder().begin(this, this, connector.getName(), secure, Forwarder.isReplayable(method, true));
      note.decided(decided);
      if (decided.target() == null) {
        handOver(new HandOver(method, pathQuery, note, decided, decided.unavailable(), true, false));
        return;
      }
      if (decided.movedClient()) {
        rePinned(decided);
      }
      send(decided, false);
    }

    private void rePinned(Attempt moved) {
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} re-pinned from {} to {}", note.trace.requestId(), moved.decision().previousTargetId(), moved.decision().target().id());
      }
    }

    /** Sends the attempt on the direct relay, or hands the exchange to Jetty's server when it cannot carry it. */
    private void send(Attempt current, boolean sameTarget) {
      attempt = current;
      ClientEndPoint endPoint = getEndPoint() instanceof ClientEndPoint c ? c : null;
      if (endPoint == null || !AffinityBalancer.isDirectlyRelayable(current)) {
        handOver(new HandOver(method, pathQuery, note, current, null, false, sameTarget));
        return;
      }
      TargetConnection kept = sameTarget ? null : balancer.keptConnection(current);
      if (kept == null && !balancer.mayConnect()) {
        // A flood of connects in progress (AffinityBalancer.MAX_CONNECTING): Jetty's client queues this one.
        handOver(new HandOver(method, pathQuery, note, current, null, false, sameTarget));
        return;
      }
      note.sending(current);
      HttpHead requestHead = new HttpHead(method, pathQuery, HttpHead.sizeOf(headers));
      Upstream.toTarget(this, relayed, note.trace, current, balancer.getViaHost(), false, requestHead);
      requestHead.end();
      balancer.sendDirect(current, requestHead, HttpMethod.HEAD.is(method), endPoint.selector, connector, kept, this);
    }

    /**
     * Gives the connection to Jetty's HTTP/1.1 connection with every byte read of the request, so that
     * Jetty's server reads it as if it had from the start; with {@code decided}, the balancer carries on
     * that exchange instead of deciding again. Only before anything was written to the client.
     */
    private void handOver(HandOver decided) {
      if (decided != null && getEndPoint() instanceof ClientEndPoint endPoint) {
        endPoint.handOver = decided;
      }
      exchanging = false;
      handedOver.increment();
      ConnectionFactory next = http1();
      getEndPoint().upgrade(next.newConnection(connector, getEndPoint()));
    }

    private ConnectionFactory http1() {
      return connector.getConnectionFactory(HttpVersion.HTTP_1_1.asString());
    }

    @Override
    public ByteBuffer onUpgradeFrom() {
      byte[] read = request;
      request = null;
      return read == null ? null : ByteBuffer.wrap(read);
    }

    private boolean isShutdown() {
      return connector instanceof AbstractConnector c && c.isShutdown();
    }

    /** The port the client asked for (Jetty's {@code Request.getServerPort} for an HTTP/1.1 request with a Host). */
    private int serverPort() {
      int port = hostPort == null ? 0 : hostPort.getPort();
      return port > 0 ? port : 80;
    }

    // The target's answer, through TargetConnection.

    @Override
    public void onHeaders(int targetStatus, HttpFields targetHeaders) {
      status = targetStatus;
      answerHeaders.clear();
      if (http.getSendDateHeader()) {
        answerHeaders.add(connector.getServer().getDateField());
      }
      AffinityBalancer.answerHeaders(note, attempt, targetStatus, targetHeaders, answerHeaders);
      bodyless = HttpMethod.HEAD.is(method) || targetStatus == HttpStatus.NO_CONTENT_204 || targetStatus == HttpStatus.NOT_MODIFIED_304
          || (targetStatus >= 100 && targetStatus < 200);
    }

    @Override
    public void proxyToClient(boolean last, ByteBuffer content, Callback callback) {
      int length = content == null ? 0 : content.remaining();
      bodyBytes += length;
      ByteBuffer body = content == null ? BufferUtil.EMPTY_BUFFER : content;
      if (committed) {
        if (chunked) {
          getEndPoint().write(callback, chunkSize(length), body, chunkEnd(length), lastChunk(last));
        } else {
          getEndPoint().write(callback, body);
        }
        return;
      }
      committed = true;
      HttpHead head = answerHead(last, length);
      // The head, and a small body after it, in one direct buffer: one write, no copy by the JDK.
      boolean together = !chunked && length <= BODY_BYTES_WITH_HEAD;
      ByteBuffer out = headWrite.buffer(head, together ? length : 0);
      if (together) {
        out.put(body);
      }
      out.flip();
      if (together) {
        headWrite.write(callback, out);
      } else if (!chunked) {
        headWrite.write(callback, out, body);
      } else {
        headWrite.write(callback, out, chunkSize(length), body, chunkEnd(length), lastChunk(last));
      }
    }

    private static ByteBuffer chunkSize(int length) {
      return length == 0 ? BufferUtil.EMPTY_BUFFER : ByteBuffer.wrap((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static ByteBuffer chunkEnd(int length) {
      return length == 0 ? BufferUtil.EMPTY_BUFFER : ByteBuffer.wrap(CRLF);
    }

    private static ByteBuffer lastChunk(boolean last) {
      return last ? ByteBuffer.wrap(LAST_CHUNK) : BufferUtil.EMPTY_BUFFER;
    }

    /**
     * The answer head, framed and ordered as Jetty's generator writes it: the fields in order, then the
     * framing (the target's {@code Content-Length}; without one, the length of a body that came whole
     * in its first write, else chunked), then {@code Connection: close} when the connection ends.
     */
    private HttpHead answerHead(boolean last, int length) {
      HttpField lengthField = answerHeaders.getField(HttpHeader.CONTENT_LENGTH);
      chunked = false;
      String contentLength = null;
      closeAfter |= isShutdown();
      if (lengthField != null) {
        contentLength = lengthField.getValue();
      } else if (status == HttpStatus.NOT_MODIFIED_304 && last) {
        // Jetty's server says how long the body it had was (none) on a 304, and only there among answers without one.
        contentLength = Integer.toString(length);
      } else if (!bodyless) {
        if (last) {
          contentLength = Integer.toString(length);
        } else {
          // A connection that ends with this answer ends its body too: no chunks needed (nor sent by Jetty's server).
          chunked = !closeAfter;
        }
      }
      HttpHead answer = HttpHead.answer(status, HttpHead.sizeOf(answerHeaders) + 48);
      for (int i = 0, n = answerHeaders.size(); i < n; i++) {
        HttpField field = answerHeaders.getField(i);
        if (field.getHeader() != HttpHeader.CONTENT_LENGTH) {
          answer.header(field);
        }
      }
      if (contentLength != null) {
        answer.header(HttpHeader.CONTENT_LENGTH.asString(), contentLength);
      }
      if (chunked) {
        answer.header(HttpHeader.TRANSFER_ENCODING.asString(), HttpHeaderValue.CHUNKED.asString());
      }
      if (closeAfter) {
        answer.header(HttpHeader.CONNECTION.asString(), HttpHeaderValue.CLOSE.asString());
      }
      return answer.end();
    }

    @Override
    public void succeeded() {
      attempt.finished();
      completed(status);
      if (closeAfter) {
        getEndPoint().close();
        return;
      }
      fillInterested(fillable);
    }

    @Override
    public void failed(Throwable failure, boolean reused, boolean answerReceived) {
      Attempt failedAttempt = attempt;
      Attempt.Failure classified = Upstream.classify(failure, reused, answerReceived);
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} S2P failure from {} ({}): {}", note.trace.requestId(), failedAttempt.target().id(), classified, failure.toString());
      }
      Attempt.Next next = failedAttempt.failed(classified, committed);
      switch (next.action()) {
        case RETRY -> {
          Attempt retry = next.attempt();
          boolean sameTarget = retry.target() == failedAttempt.target();
          if (!sameTarget) {
            rePinned(retry);
          }
          send(retry, sameTarget);
        }
        case ANSWER -> handOver(new HandOver(method, pathQuery, note, failedAttempt, next, false, false));
        default -> {
          // The answer was on its way: it is cut, as Jetty's server cuts a response it cannot finish.
          completed(status);
          getEndPoint().close(failure);
        }
      }
    }

    @Override
    public void clientFailed(Throwable failure) {
      attempt.finished();
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} P2C write failed: {}", note.trace.requestId(), failure.toString());
      }
      completed(status);
      getEndPoint().close(failure);
    }

    /** The exchange is over: its record, then the connection's state for the next request. */
    private void completed(int answered) {
      served.increment();
      if (!observers.isEmpty()) {
        ExchangeRecorder.tell(observers, ExchangeRecorder.record(note, beginNanos, NanoTime.now(), timeStampMillis, connectionNote, method,
            pathQuery, HttpVersion.HTTP_1_1.asString(), headers, null, answered, 0, bodyBytes, null));
      }
      exchanging = false;
      request = null;
      note = null;
      attempt = null;
      relayed = null;
      committed = false;
      chunked = false;
      bodyBytes = 0;
      status = 0;
    }

    @Override
    public boolean onIdleExpired(TimeoutException timeout) {
      // While the target answers, its own silence limit times the exchange, not the client's idleness.
      return !exchanging;
    }

    // The request, read by StrictHead.

    @Override
    public void requestLine(String requestMethod, String target) {
      method = requestMethod;
      pathQuery = target;
    }

    @Override
    public void field(HttpField field) {
      headers.add(field);
      HttpHeader header = field.getHeader();
      if (header == null) {
        return;
      }
      switch (header) {
        // StrictHead.request took exactly one Host and no Content-Length or Transfer-Encoding.
        case HOST -> {
          host = field.getValue();
          hostPort = field instanceof HostPortHttpField read ? read.getHostPort() : null;
        }
        case UPGRADE, EXPECT, HTTP2_SETTINGS -> plain = false;
        case CONNECTION -> {
          for (String token : field.getValues()) {
            if ("close".equalsIgnoreCase(token.trim())) {
              closeAfter = true;
            }
          }
        }
        default -> { }
      }
    }

    // The request as core's policy and Upstream's header rules read it.

    @Override
    public HttpFields headers() {
      return headers;
    }

    @Override
    public String remoteAddr() {
      return remoteAddr;
    }

    @Override
    public String localAddr() {
      return localAddr;
    }

    @Override
    public String protocol() {
      return HttpVersion.HTTP_1_1.asString();
    }

    @Override
    public String via(String viaHost) {
      if (!viaHost.equals(viaFor)) {
        via = Upstream.via(protocol(), viaHost);
        viaFor = viaHost;
      }
      return via;
    }

    @Override
    public String forwardedElement(String host, String proto) {
      if (forwarded == null || !java.util.Objects.equals(host, forwardedHost) || !proto.equals(forwardedProto)) {
        forwarded = Upstream.forwardedElement(localAddr, remoteAddr, host, proto);
        forwardedHost = host;
        forwardedProto = proto;
      }
      return forwarded;
    }

    @Override
    public boolean isSecure() {
      return false;
    }

    @Override
    public boolean isHttp2() {
      return false;
    }

    @Override
    public String authority() {
      return host;
    }

    @Override
    public String scheme() {
      return "http";
    }

    @Override
    public String forwardedClientCert() {
      return null;
    }

    @Override
    public String value(String name) {
      List<HttpCookie> parsed = cookies;
      if (parsed == null) {
        try {
          parsed = cookieCache.getCookies(headers);
        } catch (RuntimeException e) {
          // As JettyCookies: a cookie header that cannot be parsed is no cookies, never a 500.
          parsed = List.of();
        }
        cookies = parsed;
      }
      return JettyCookies.value(parsed, name);
    }

    @Override
    public String header(String name) {
      return headers.get(name);
    }

    @Override
    public String host() {
      return relayed != null && relayed.host() != null ? relayed.host() : host;
    }

    @Override
    public String method() {
      return method;
    }

    @Override
    public String rawPath() {
      int query = pathQuery.indexOf('?');
      return query < 0 ? pathQuery : pathQuery.substring(0, query);
    }

    @Override
    public String rawQuery() {
      int query = pathQuery.indexOf('?');
      return query < 0 ? null : pathQuery.substring(query + 1);
    }

    @Override
    public List<String> headers(String name) {
      return headers.getValuesList(name);
    }

    @Override
    public InetAddress sourceAddress() {
      return relayed != null ? relayed.address() : peer;
    }

    @Override
    public String toConnectionString() {
      return "DirectHttp1[" + (exchanging ? method + " " + pathQuery : "idle") + "]";
    }
  }

  /**
   * Whether the request target is one the direct front end passes on as it came: origin-form, with
   * nothing Jetty's URI rules would have to judge (a percent-encoding or dot segment in the path, path
   * parameters, a backslash, a fragment) and nothing {@link AffinityBalancer#uriSafe} would re-encode.
   * Anything else goes through Jetty's server, which decides, as it always did.
   */
  static boolean isDirectPath(String pathQuery) {
    if (pathQuery == null || pathQuery.isEmpty() || pathQuery.charAt(0) != '/') {
      return false;
    }
    int n = pathQuery.length();
    boolean inQuery = false;
    int segmentStart = 1;
    for (int i = 0; i < n; i++) {
      char c = pathQuery.charAt(i);
      if (!inQuery) {
        if (c == '?') {
          if (isDotSegment(pathQuery, segmentStart, i)) {
            return false;
          }
          inQuery = true;
          continue;
        }
        if (c == '/') {
          // An empty segment ("//") or a dot segment is for Jetty's URI compliance to judge.
          if (i > 0 && (i == segmentStart || isDotSegment(pathQuery, segmentStart, i))) {
            return false;
          }
          segmentStart = i + 1;
          continue;
        }
        // In the path, no ';' either (path parameters are for Jetty's URI rules); '/' was seen above.
        if (c == ';' || !AffinityBalancer.isUriPlain(c)) {
          return false;
        }
        continue;
      }
      if (!AffinityBalancer.isUriPlain(c) && c != '?' && !AffinityBalancer.isPercentEncoded(pathQuery, i)) {
        return false;
      }
    }
    return inQuery || !isDotSegment(pathQuery, segmentStart, n);
  }

  private static boolean isDotSegment(String s, int from, int to) {
    int length = to - from;
    return (length == 1 && s.charAt(from) == '.') || (length == 2 && s.charAt(from) == '.' && s.charAt(from + 1) == '.');
  }

  /** As Jetty's {@code Request.getRemoteAddr} and {@code getLocalAddr} write an address. */
  private static String hostAddress(SocketAddress socket) {
    if (socket instanceof InetSocketAddress inet) {
      return org.eclipse.jetty.server.Request.getHostName(inet);
    }
    return socket == null ? null : socket.toString();
  }
}
