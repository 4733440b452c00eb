package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.RouteDecision;
import dev.affinity.observe.ExchangeObserver;
import dev.affinity.observe.ExchangeRecord;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.NanoTime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jetty's request log, turned into core's {@link ExchangeRecord} for each {@link ExchangeObserver}:
 * Jetty calls it once for every request of the server, whoever answered it (a target, the balancer's
 * own 503 or 413, the admin endpoints, a redirect), after the last byte went out.
 */
final class ExchangeRecorder implements RequestLog {
  private static final Logger LOG = LoggerFactory.getLogger(ExchangeRecorder.class);

  private static final String[] ROUTING = java.util.Arrays.stream(RouteDecision.Outcome.values())
      .map(o -> o.name().toLowerCase(Locale.ROOT)).toArray(String[]::new);

  private final List<ExchangeObserver> observers;

  ExchangeRecorder(List<ExchangeObserver> observers) {
    this.observers = List.copyOf(requireNonNull(observers, "observers"));
  }

  @Override
  public void log(Request request, Response response) {
    tell(observers, record(request, response, NanoTime.now()));
  }

  static void tell(List<ExchangeObserver> observers, ExchangeRecord record) {
    for (int i = 0, n = observers.size(); i < n; i++) {
      ExchangeObserver observer = observers.get(i);
      try {
        observer.exchangeCompleted(record);
      } catch (RuntimeException e) {
        LOG.warn("exchange observer {} failed: {}", observer, e.toString());
      }
    }
  }

  static ExchangeRecord record(Request request, Response response, long endNanos) {
    ExchangeNote note = ExchangeNote.take(request);
    ConnectionNote connection = ConnectionNote.of(request.getConnectionMetaData());
    EndPoint.SslSessionData tls = (EndPoint.SslSessionData) request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
    return record(note, request.getBeginNanoTime(), endNanos, Request.getTimeStamp(request), connection, request.getMethod(),
        request.getHttpURI().getPathQuery(), request.getConnectionMetaData().getProtocol(), request.getHeaders(), request.getHttpURI(),
        response.getStatus(), Request.getContentBytesRead(request), Response.getContentBytesWritten(response), tls);
  }

  /**
   * The record of one exchange, from what every front end knows of it (Jetty's server, {@link DirectHttp1}).
   *
   * @param note what the balancer learnt while forwarding it; {@code null} for a request it did not forward
   * @param uri for the {@code :authority} of a request with no {@code Host} header (HTTP/2); may be {@code null}
   */
  static ExchangeRecord record(ExchangeNote note, long beginNanos, long endNanos, long timeStampMillis, ConnectionNote connection,
      String method, String pathQuery, String protocol, HttpFields headers, org.eclipse.jetty.http.HttpURI uri, int status,
      long bytesRead, long bytesWritten, EndPoint.SslSessionData tls) {
    Attempt attempt = note == null ? null : note.attempt();
    RouteDecision decision = attempt == null ? null : attempt.decision();
    long sent = note == null ? 0 : note.sentNanos();
    long answer = note == null ? 0 : note.answerNanos();
    long requestNanos;
    long targetNanos = -1;
    long responseNanos = -1;
    if (sent != 0) {
      requestNanos = NanoTime.elapsed(beginNanos, sent);
      if (answer != 0) {
        targetNanos = NanoTime.elapsed(sent, answer);
        responseNanos = NanoTime.elapsed(answer, endNanos);
      } else {
        targetNanos = NanoTime.elapsed(sent, endNanos);
      }
    } else {
      requestNanos = NanoTime.elapsed(beginNanos, endNanos);
    }
    String userAgent = null;
    String referer = null;
    String hostHeader = null;
    for (HttpField field : headers) {
      HttpHeader header = field.getHeader();
      if (header == HttpHeader.USER_AGENT) {
        userAgent = field.getValue();
      } else if (header == HttpHeader.REFERER) {
        referer = field.getValue();
      } else if (header == HttpHeader.HOST) {
        hostHeader = field.getValue();
      }
    }
    return new ExchangeRecord(
        Instant.ofEpochMilli(timeStampMillis),
        note != null && note.relayed != null ? note.relayed.address().getHostAddress() : connection.peer,
        connection.local,
        method,
        pathQuery,
        protocol,
        // HTTP/1 has a Host header; HTTP/2 its :authority (HttpURI builds that string on each call, so only then).
        hostHeader != null || uri == null ? hostHeader : uri.getAuthority(),
        userAgent,
        referer,
        decision == null || decision.group() == null ? null : decision.group().name(),
        decision == null || decision.target() == null ? null : decision.target().id(),
        decision == null ? null : ROUTING[decision.outcome().ordinal()],
        decision == null ? null : decision.previousTargetId(),
        decision == null || decision.cookieRejection() == null ? null : decision.cookieRejection().name().toLowerCase(Locale.ROOT),
        sent == 0 || attempt == null ? 0 : attempt.number(),
        status,
        note == null ? -1 : note.targetStatus(),
        bytesRead,
        bytesWritten,
        requestNanos,
        targetNanos,
        responseNanos,
        tls == null || tls.sslSession() == null ? null : tls.sslSession().getProtocol(),
        tls == null ? null : tls.cipherSuite(),
        note == null ? null : note.trace.requestId(),
        note == null ? null : note.trace.traceparent(),
        attempt == null || attempt.rule() == null ? null : attempt.rule().name());
  }


}
