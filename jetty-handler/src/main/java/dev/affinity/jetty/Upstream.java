package dev.affinity.jetty;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.Forwarder;
import dev.affinity.observe.RequestTrace;
import dev.affinity.tls.ForwardedClientCert;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;

/**
 * The one contract every path to a target shares (the direct relay, Jetty's {@code HttpClient}, the
 * WebSocket upgrade): which request headers a target gets and which answer headers the client gets,
 * and how a transport's failure reads for core's retry rule ({@link Attempt.Failure}).
 */
final class Upstream {
  private Upstream() {}

  /**
   * Hop-by-hop headers (RFC 9110 section 7.6.1), the same set Jetty's {@code ProxyHandler} drops, and
   * {@code HTTP2-Settings}: it belongs to an {@code Upgrade: h2c} of the client's own connection (RFC
   * 7540 section 3.2.1), which the balancer answers itself and never passes on, whatever the client's
   * {@code Connection} header lists.
   */
  static final Set<HttpHeader> HOP_HEADERS = EnumSet.of(HttpHeader.CONNECTION, HttpHeader.KEEP_ALIVE,
      HttpHeader.PROXY_AUTHORIZATION, HttpHeader.PROXY_AUTHENTICATE, HttpHeader.PROXY_CONNECTION,
      HttpHeader.TRANSFER_ENCODING, HttpHeader.TE, HttpHeader.TRAILER, HttpHeader.UPGRADE, HttpHeader.HTTP2_SETTINGS);

  /**
   * Whether the client said it takes trailers: a {@code TE} header listing {@code trailers} (RFC 9110
   * section 10.1.4; every gRPC client sends it). {@code TE} is hop-by-hop and never passed on as the
   * client sent it; the {@code HttpClient} path says {@code TE: trailers} itself to such a client's
   * target and passes the target's trailers on.
   */
  static boolean acceptsTrailers(Request clientToProxyRequest) {
    for (HttpField field : clientToProxyRequest.getHeaders().getFields(HttpHeader.TE)) {
      for (String value : field.getValues()) {
        int semicolon = value.indexOf(';');
        String token = (semicolon < 0 ? value : value.substring(0, semicolon)).trim();
        if (token.equalsIgnoreCase("trailers")) {
          return true;
        }
      }
    }
    return false;
  }

  /** The handshake fields of one WebSocket hop: the balancer's client to the target makes its own. */
  private static final Set<String> WEBSOCKET_HANDSHAKE = Set.of("sec-websocket-key", "sec-websocket-version",
      "sec-websocket-extensions", "sec-websocket-accept", "sec-websocket-protocol", "content-length");

  /** The {@code Via} host when none is set: this machine's name, looked up once. */
  static final String DEFAULT_VIA_HOST = localHostName();

  private static String localHostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException | RuntimeException e) {
      return "localhost";
    }
  }

  /** Where {@link #toTarget} writes the target's request headers (a request head, an HTTP client's fields). */
  @FunctionalInterface
  interface HeaderSink {
    void add(HttpField field);
  }

  /**
   * The request headers a target gets, in order: the client's end-to-end headers (hop-by-hop ones,
   * those its {@code Connection} header names, and any {@code X-Affinity-Previous-Target} dropped),
   * then the balancer's own: {@code Host} if the client sent none, the previous target after a
   * failover, {@code Via}, {@code Forwarded}, {@code X-Forwarded-For}, {@code -Proto} and {@code -Host}.
   * For a WebSocket upgrade, the handshake fields are left to the balancer's own client.
   *
   * <p>Forwarding headers follow core's {@link dev.affinity.balancer.TrustedProxies} rule. From a peer
   * that is not a trusted proxy ({@code relayed == null}) the client's {@code Forwarded} and
   * {@code X-Forwarded-*} are dropped, so a client cannot tell a target it is someone else: the target
   * gets the balancer's own values only. From a trusted proxy the chains are kept and the peer is
   * appended; {@code X-Forwarded-Proto} and {@code -Host} say what the proxy said the client used.
   * {@code X-Forwarded-Client-Cert} follows the same rule ({@link ForwardedClientCert}): a trusted
   * proxy's is passed on as sent; anyone else's is dropped, and replaced by the balancer's own when
   * the client presented a verified certificate on the balancer's TLS connection.
   *
   * @param relayed the client as a trusted proxy described it, or {@code null} when the peer is not one
   */
  static void toTarget(Request clientToProxyRequest, ClientOrigin relayed, RequestTrace trace, Attempt attempt, String viaHost,
      boolean webSocket, HeaderSink sink) {
    toTarget(ClientHead.of(clientToProxyRequest), relayed, trace, attempt, viaHost, webSocket, sink);
  }

  /**
   * What {@link #toTarget} reads of a client's request: its headers and what its connection says. Jetty's
   * {@code Request} is one ({@link #of}); the direct front end's request is another ({@link DirectHttp1}),
   * so both get the one header policy.
   */
  interface ClientHead {
    HttpFields headers();

    /** The peer's address as text (the socket's, or the PROXY header's source). */
    String remoteAddr();

    String localAddr();

    /** {@code HTTP/1.1}, {@code HTTP/2.0}... */
    String protocol();

    boolean isSecure();

    boolean isHttp2();

    /** The request URI's authority (HTTP/2's {@code :authority}); {@code null} when it has none. */
    String authority();

    /** The request URI's scheme; {@code null} when it has none. */
    String scheme();

    /** The {@link ForwardedClientCert} value of the client's TLS certificate, or {@code null}. */
    String forwardedClientCert();

    /** This hop's {@code Via} element (a connection may keep the last one: it changes with the protocol only). */
    default String via(String viaHost) {
      return Upstream.via(protocol(), viaHost);
    }

    /**
     * This hop's {@code Forwarded} element: this side's address, the client's, the {@code Host} it asked
     * for and {@code proto} (a connection may keep the last one: only the host can change).
     */
    default String forwardedElement(String host, String proto) {
      return Upstream.forwardedElement(localAddr(), remoteAddr(), host, proto);
    }

    static ClientHead of(Request request) {
      return new ClientHead() {
        @Override
        public HttpFields headers() {
          return request.getHeaders();
        }

        @Override
        public String remoteAddr() {
          return Request.getRemoteAddr(request);
        }

        @Override
        public String localAddr() {
          return Request.getLocalAddr(request);
        }

        @Override
        public String protocol() {
          return request.getConnectionMetaData().getProtocol();
        }

        @Override
        public boolean isSecure() {
          return request.isSecure();
        }

        @Override
        public boolean isHttp2() {
          return Upstream.isHttp2(request);
        }

        @Override
        public String authority() {
          return request.getHttpURI().getAuthority();
        }

        @Override
        public String scheme() {
          return request.getHttpURI().getScheme();
        }

        @Override
        public String forwardedClientCert() {
          return Upstream.forwardedClientCert(request);
        }
      };
    }
  }

  static void toTarget(ClientHead clientToProxyRequest, ClientOrigin relayed, RequestTrace trace, Attempt attempt, String viaHost,
      boolean webSocket, HeaderSink sink) {
    HttpFields clientHeaders = clientToProxyRequest.headers();
    Set<String> connectionListed = connectionListed(clientHeaders);
    String remote = clientToProxyRequest.remoteAddr();
    String clientHost = null;
    StringBuilder via = null;
    StringBuilder forwarded = null;
    StringBuilder forwardedFor = null;
    boolean keepChain = relayed != null;
    for (HttpField field : clientHeaders) {
      HttpHeader header = field.getHeader();
      if ((header != null && HOP_HEADERS.contains(header))
          || (!connectionListed.isEmpty() && connectionListed.contains(field.getLowerCaseName()))) {
        continue;
      }
      if (header == null) {
        String name = field.getName();
        // The exchange's trace replaces the client's (RequestTrace kept what deserved keeping).
        if (!Forwarder.PREVIOUS_TARGET_HEADER.equalsIgnoreCase(name)
            && !RequestTrace.TRACEPARENT_HEADER.equalsIgnoreCase(name) && !RequestTrace.REQUEST_ID_HEADER.equalsIgnoreCase(name)
            && !(webSocket && WEBSOCKET_HANDSHAKE.contains(field.getLowerCaseName()))
            && (keepChain || !ForwardedClientCert.HEADER.equalsIgnoreCase(field.getName()))) {
          sink.add(field);
        }
        continue;
      }
      switch (header) {
        case VIA -> via = joinValues(via, field);
        case FORWARDED -> forwarded = keepChain ? joinValues(forwarded, field) : null;
        case X_FORWARDED_FOR -> forwardedFor = keepChain ? joinValues(forwardedFor, field) : null;
        // Written afresh below, from the socket or from what a trusted proxy said.
        case X_FORWARDED_PROTO, X_FORWARDED_HOST -> { }
        case X_FORWARDED_PORT, X_FORWARDED_SERVER -> {
          if (keepChain) {
            sink.add(field);
          }
        }
        case SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_SUBPROTOCOL,
            CONTENT_LENGTH -> {
          if (!webSocket) {
            sink.add(field);
          }
        }
        default -> {
          if (header == HttpHeader.HOST) {
            clientHost = field.getValue();
          }
          sink.add(field);
        }
      }
    }
    if (clientHost == null && clientToProxyRequest.isHttp2()) {
      // HTTP/2 carries the host in :authority, not in a Host header; a proxy to HTTP/1.1 makes it the
      // Host (RFC 9113 section 8.3.1), so that a target sees the same Host whichever way the client came.
      String authority = clientToProxyRequest.authority();
      if (authority != null && !authority.isEmpty()) {
        clientHost = authority;
        sink.add(new HttpField(HttpHeader.HOST, authority));
      }
    }
    if (clientHost == null) {
      // An HTTP/1.0 client may send none; HTTP/1.1 requires one (RFC 9112 section 3.2).
      URI origin = attempt.target().uri();
      sink.add(new HttpField(HttpHeader.HOST, origin.getHost() + ":" + origin.getPort()));
    }
    String previous = attempt.previousTargetId();
    if (previous != null) {
      sink.add(new HttpField(PREVIOUS_TARGET, Forwarder.PREVIOUS_TARGET_HEADER, previous));
    }
    sink.add(new HttpField(REQUEST_ID, RequestTrace.REQUEST_ID_HEADER, trace.requestId()));
    sink.add(new HttpField(TRACEPARENT, RequestTrace.TRACEPARENT_HEADER, trace.traceparent()));
    // The same Via and Forwarded values as Jetty's ProxyHandler, without its per-request String.format
    // and stream joins (4 % of a core in a profile).
    sink.add(new HttpField(HttpHeader.VIA, joined(via, clientToProxyRequest.via(viaHost))));
    String scheme = clientToProxyRequest.scheme();
    String proto = clientToProxyRequest.isSecure() ? "https" : "http";
    sink.add(new HttpField(HttpHeader.FORWARDED, joined(forwarded,
        clientToProxyRequest.forwardedElement(clientHost, scheme != null ? scheme : proto))));
    sink.add(new HttpField(HttpHeader.X_FORWARDED_FOR, joined(forwardedFor, remote)));
    sink.add(new HttpField(HttpHeader.X_FORWARDED_PROTO, keepChain ? relayed.scheme() : proto));
    String host = keepChain ? relayed.host() : clientHost;
    if (host != null) {
      sink.add(new HttpField(HttpHeader.X_FORWARDED_HOST, host));
    }
    if (!ForwardedClientCert.keepsClientHeader(keepChain)) {
      String clientCert = clientToProxyRequest.forwardedClientCert();
      if (clientCert != null) {
        sink.add(new HttpField(CLIENT_CERT, ForwardedClientCert.HEADER, clientCert));
      }
    }
  }

  // The balancer's own header names, looked up once (a field made from a name alone looks it up in Jetty's trie each time).
  private static final HttpHeader PREVIOUS_TARGET = HttpHeader.CACHE.get(Forwarder.PREVIOUS_TARGET_HEADER);
  private static final HttpHeader REQUEST_ID = HttpHeader.CACHE.get(RequestTrace.REQUEST_ID_HEADER);
  private static final HttpHeader TRACEPARENT = HttpHeader.CACHE.get(RequestTrace.TRACEPARENT_HEADER);
  private static final HttpHeader CLIENT_CERT = HttpHeader.CACHE.get(ForwardedClientCert.HEADER);

  /** The {@code Via} element of a hop of {@code protocol} ({@code HTTP/1.1}: {@code 1.1 host}). */
  static String via(String protocol, String viaHost) {
    String version = protocol.regionMatches(true, 0, "HTTP/", 0, 5) ? protocol.substring(5) : protocol;
    return version + " " + viaHost;
  }

  /** Where a TLS session keeps its {@link ForwardedClientCert} value: computed once per session, not per request. */
  private static final String CLIENT_CERT_VALUE = "dev.affinity.forwardedClientCert";

  /**
   * The {@link ForwardedClientCert} value for the certificate the client presented on the balancer's
   * own TLS connection, or {@code null} when it presented none (no TLS, no {@code clientCa}, or an
   * optional certificate not sent). A certificate is only there when the listener's client CA
   * verified it: the JDK fails the handshake on any other.
   */
  static String forwardedClientCert(Request clientToProxyRequest) {
    EndPoint endPoint = clientToProxyRequest.getConnectionMetaData().getConnection().getEndPoint();
    EndPoint.SslSessionData ssl = endPoint == null ? null : endPoint.getSslSessionData();
    if (ssl == null) {
      return null;
    }
    X509Certificate[] chain = ssl.peerCertificates();
    if (chain == null || chain.length == 0) {
      return null;
    }
    SSLSession session = ssl.sslSession();
    if (session != null && session.getValue(CLIENT_CERT_VALUE) instanceof String cached) {
      return cached;
    }
    String value = ForwardedClientCert.of(chain[0]);
    if (session != null) {
      session.putValue(CLIENT_CERT_VALUE, value);
    }
    return value;
  }

  private static boolean isHttp2(Request request) {
    return request.getConnectionMetaData().getHttpVersion() == org.eclipse.jetty.http.HttpVersion.HTTP_2;
  }

  /**
   * The target's answer headers on the client's response: all but the hop-by-hop ones, those the
   * target's {@code Connection} header names, and {@code Date} (the balancer's own server writes one).
   */
  static void toClient(HttpFields targetHeaders, HttpFields.Mutable clientHeaders) {
    Set<String> connectionListed = connectionListed(targetHeaders);
    for (HttpField field : targetHeaders) {
      HttpHeader header = field.getHeader();
      if ((header != null && HOP_HEADERS.contains(header)) || header == HttpHeader.DATE
          || (!connectionListed.isEmpty() && connectionListed.contains(field.getLowerCaseName()))) {
        continue;
      }
      clientHeaders.add(detached(field));
    }
  }

  // Whether a field class is an inner one (anonymous ones included): its instances hold the object that made them.
  private static final ClassValue<Boolean> REFERS_TO_ITS_MAKER = new ClassValue<>() {
    @Override
    protected Boolean computeValue(Class<?> type) {
      for (Class<?> c = type; c != null && c != HttpField.class; c = c.getSuperclass()) {
        if (c.getEnclosingClass() != null && !java.lang.reflect.Modifier.isStatic(c.getModifiers())) {
          return true;
        }
      }
      return false;
    }
  };

  /**
   * {@code field}, or a copy of it that refers to nothing else. Jetty's HTTP/1 parser makes its fields
   * as an inner class, each referring to the parser and so to the connection it parsed for (and that
   * connection's buffers). Jetty keeps a client connection's last response headers until its next
   * request, so a field copied as is from an answer kept the target connection that brought it
   * reachable for as long as the client stayed idle: 10 000 idle clients kept 2 000 closed target
   * connections, 74 MB of their read buffers (bench/footprint.sh).
   */
  static HttpField detached(HttpField field) {
    // The direct relay's fields are plain ones or StrictHead's (which refer to nothing else): no class lookup for them.
    if (field.getClass() == HttpField.class || field.getClass() == StrictHead.ReadField.class) {
      return field;
    }
    return REFERS_TO_ITS_MAKER.get(field.getClass()) ? new HttpField(field.getHeader(), field.getName(), field.getValue()) : field;
  }

  /**
   * How a transport's failure reads for the retry rule.
   *
   * @param reusedConnection whether the connection carried an exchange before (a path that cannot
   *     tell says {@code true}: a resend to the same target is then what a stale connection needs,
   *     and a dead target refuses it, which moves the request on)
   * @param answerReceived whether any byte of the target's answer had arrived
   */
  static Attempt.Failure classify(Throwable failure, boolean reusedConnection, boolean answerReceived) {
    if (isConnectFailure(failure)) {
      return Attempt.Failure.refused(rootCause(failure).getMessage());
    }
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof TimeoutException || t instanceof SocketTimeoutException) {
        return Attempt.Failure.timedOut();
      }
    }
    if (isClosed(failure)) {
      return answerReceived ? Attempt.Failure.cutAnswer() : Attempt.Failure.closedBeforeAnswer(reusedConnection);
    }
    return Attempt.Failure.badAnswer();
  }

  /**
   * The connection went away (closed, reset, end of stream), as opposed to an answer that made no
   * sense: the direct relay's {@link TargetConnection.BadResponseException} is an {@code IOException}
   * but says the bytes were garbage (or an unasked protocol switch), not that they stopped.
   */
  private static boolean isClosed(Throwable failure) {
    boolean io = false;
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof TargetConnection.BadResponseException) {
        return false;
      }
      io |= t instanceof IOException;
    }
    return io;
  }

  static Throwable rootCause(Throwable failure) {
    Throwable t = failure;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  /** True when the target refused (or could not be reached for) the connection: nothing was sent. */
  static boolean isConnectFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConnectException || t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
        return true;
      }
      if (t instanceof java.net.SocketTimeoutException && String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT).contains("connect")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The header names a {@code Connection} header lists, lower case: hop-by-hop too (RFC 9110 section
   * 7.6.1), so a proxy drops them. Empty, without allocating, when there is no {@code Connection} header
   * or it only says {@code keep-alive} or {@code close} (what nearly every target sends): neither names
   * a header that is not already dropped as hop-by-hop.
   */
  static Set<String> connectionListed(HttpFields headers) {
    boolean onlyKeepAliveOrClose = true;
    for (HttpField field : headers) {
      if (field.getHeader() == HttpHeader.CONNECTION) {
        String value = field.getValue();
        if (!"keep-alive".equalsIgnoreCase(value) && !"close".equalsIgnoreCase(value)) {
          onlyKeepAliveOrClose = false;
          break;
        }
      }
    }
    if (onlyKeepAliveOrClose) {
      return Set.of();
    }
    Set<String> names = new HashSet<>();
    for (String name : headers.getCSV(HttpHeader.CONNECTION, false)) {
      names.add(name.toLowerCase(Locale.ROOT));
    }
    return names;
  }

  /** One RFC 7239 {@code Forwarded} element, each value quoted only where the RFC needs it. */
  static String forwardedElement(String by, String forValue, String host, String proto) {
    StringBuilder b = new StringBuilder(64);
    appendForwardedValue(b.append("by="), by);
    appendForwardedValue(b.append(";for="), forValue);
    appendForwardedValue(b.append(";host="), host);
    return appendForwardedValue(b.append(";proto="), proto).toString();
  }

  /**
   * A token as is ({@code for=192.0.2.60}), anything else as a quoted string ({@code for="[2001:db8::1]"},
   * {@code host="example.com:8080"}), as RFC 7239 section 4 writes them; a missing value as {@code ""}.
   */
  static StringBuilder appendForwardedValue(StringBuilder b, String value) {
    if (value != null && !value.isEmpty() && isToken(value)) {
      return b.append(value);
    }
    b.append('"');
    if (value != null) {
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (c == '"' || c == '\\') {
          b.append('\\');
        }
        // Control characters cannot be escaped into a header; a reverse proxy drops them.
        if (c >= 0x20 && c != 0x7F) {
          b.append(c);
        }
      }
    }
    return b.append('"');
  }

  private static boolean isToken(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!tchar) {
        return false;
      }
    }
    return true;
  }

  /** Adds a field's list elements (blanks dropped), each followed by {@code ", "}; null until there is one. */
  static StringBuilder joinValues(StringBuilder joined, HttpField field) {
    for (String v : field.getValues()) {
      if (v != null && !v.isBlank()) {
        (joined == null ? joined = new StringBuilder(64) : joined).append(v).append(", ");
      }
    }
    return joined;
  }

  /** What {@link #joinValues} gathered, then {@code value}. */
  static String joined(StringBuilder joined, String value) {
    return joined == null ? value : joined.append(value).toString();
  }
}
