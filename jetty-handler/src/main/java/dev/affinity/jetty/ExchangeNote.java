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

  final RequestTrace trace;
  final ClientOrigin relayed;
  private volatile Attempt attempt;
  private volatile long sentNanos;
  private volatile long answerNanos;
  private volatile int targetStatus = -1;

  private ExchangeNote(RequestTrace trace, ClientOrigin relayed) {
    this.trace = trace;
    this.relayed = relayed;
  }

  /** Starts the note of a request the balancer forwards: its trace (kept or started), on the request. */
  static ExchangeNote start(Request clientToProxyRequest, ClientOrigin relayed) {
    org.eclipse.jetty.http.HttpFields headers = clientToProxyRequest.getHeaders();
    RequestTrace trace = RequestTrace.of(headers.get(RequestTrace.TRACEPARENT_HEADER), headers.get(RequestTrace.REQUEST_ID_HEADER),
        relayed != null);
    ExchangeNote note = new ExchangeNote(trace, relayed);
    clientToProxyRequest.setAttribute(ATTRIBUTE, note);
    return note;
  }

  static ExchangeNote of(Request request) {
    return (ExchangeNote) request.getAttribute(ATTRIBUTE);
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
