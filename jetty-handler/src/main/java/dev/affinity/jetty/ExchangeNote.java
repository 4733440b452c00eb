package dev.affinity.jetty;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.observe.RequestTrace;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.NanoTime;

/**
 * What the balancer learnt about one client request while it served it, for {@link ExchangeRecorder}
 * to turn into an {@link dev.affinity.observe.ExchangeRecord} once the exchange is over. Kept as a
 * request attribute; written by the thread that drives the exchange at each step, read after it.
 */
final class ExchangeNote {
  static final String ATTRIBUTE = ExchangeNote.class.getName();

  final Request request;
  final RequestTrace trace;
  final ClientOrigin relayed;
  private volatile Attempt attempt;
  private volatile long sentNanos;
  private volatile long answerNanos;
  private volatile int targetStatus = -1;

  private ExchangeNote(Request request, RequestTrace trace, ClientOrigin relayed) {
    this.request = request;
    this.trace = trace;
    this.relayed = relayed;
  }

  /**
   * Starts the note of a request the balancer forwards: its trace (kept or started). An HTTP/1
   * connection carries one request at a time, so its note waits in the connection's
   * {@link ConnectionNote}: a request's own attributes would cost a map per request.
   */
  static ExchangeNote start(Request clientToProxyRequest, ClientOrigin relayed) {
    return register(new ExchangeNote(clientToProxyRequest, trace(clientToProxyRequest.getHeaders(), relayed), relayed));
  }

  /** The note of a request the direct front end reads ({@link DirectHttp1}): no Jetty request, it keeps the note itself. */
  static ExchangeNote direct(org.eclipse.jetty.http.HttpFields headers, ClientOrigin relayed) {
    return new ExchangeNote(null, trace(headers, relayed), relayed);
  }

  /**
   * The note of the request the direct front end handed to Jetty's server with its exchange under way
   * ({@link DirectHttp1}): the same trace (a target may have seen it already), the same current attempt.
   */
  static ExchangeNote resume(Request clientToProxyRequest, ExchangeNote direct) {
    ExchangeNote note = new ExchangeNote(clientToProxyRequest, direct.trace, direct.relayed);
    note.attempt = direct.attempt;
    note.sentNanos = direct.sentNanos;
    note.answerNanos = direct.answerNanos;
    note.targetStatus = direct.targetStatus;
    return register(note);
  }

  private static RequestTrace trace(org.eclipse.jetty.http.HttpFields headers, ClientOrigin relayed) {
    return RequestTrace.of(headers.get(RequestTrace.TRACEPARENT_HEADER), headers.get(RequestTrace.REQUEST_ID_HEADER), relayed != null);
  }

  private static ExchangeNote register(ExchangeNote note) {
    Request clientToProxyRequest = note.request;
    if (isHttp2(clientToProxyRequest)) {
      clientToProxyRequest.setAttribute(ATTRIBUTE, note);
    } else {
      ConnectionNote.of(clientToProxyRequest.getConnectionMetaData()).current = note;
    }
    return note;
  }

  /** The note of {@code request}, once, for the exchange record; {@code null} for a request the balancer did not forward. */
  static ExchangeNote take(Request request) {
    if (isHttp2(request)) {
      return (ExchangeNote) request.getAttribute(ATTRIBUTE);
    }
    ConnectionNote connection = ConnectionNote.of(request.getConnectionMetaData());
    ExchangeNote note = connection.current;
    // The note is this request's only if it says so (a request the balancer did not forward finds
    // the connection's slot empty, or holding nothing of its own).
    if (note == null || note.request != request) {
      return null;
    }
    connection.current = null;
    return note;
  }

  private static boolean isHttp2(Request request) {
    return request.getConnectionMetaData().getHttpVersion() == org.eclipse.jetty.http.HttpVersion.HTTP_2;
  }

  /** This attempt is going to its target now (a retry replaces the last one). */
  void sending(Attempt attempt) {
    this.attempt = attempt;
    this.targetStatus = -1;
    this.answerNanos = 0;
    this.sentNanos = NanoTime.now();
  }

  /** The current attempt without sending it (the request is answered by the balancer). */
  void decided(Attempt attempt) {
    this.attempt = attempt;
  }

  /** The target's answer headers arrived. */
  void answered(int status) {
    this.targetStatus = status;
    this.answerNanos = NanoTime.now();
  }

  Attempt attempt() {
    return attempt;
  }

  long sentNanos() {
    return sentNanos;
  }

  long answerNanos() {
    return answerNanos;
  }

  int targetStatus() {
    return targetStatus;
  }
}
