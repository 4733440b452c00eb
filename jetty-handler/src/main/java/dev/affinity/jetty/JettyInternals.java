package dev.affinity.jetty;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.NegotiatingServerConnection;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.internal.HttpConnection;

/**
 * Every place the balancer relies on how Jetty 12 works inside rather than on its API, in one file,
 * so that a Jetty upgrade has one place to check. Each is covered by a test over a real server
 * ({@code JettyInternalsTest}) that fails if the behaviour it relies on goes away.
 */
final class JettyInternals {
  // ProxyHandler keeps these on the upstream request for its interim-response (100, 102, 103) handlers.
  private static final String CLIENT_TO_PROXY_REQUEST_ATTRIBUTE = ProxyHandler.class.getName() + ".clientToProxyRequest";
  private static final String PROXY_TO_CLIENT_RESPONSE_ATTRIBUTE = ProxyHandler.class.getName() + ".proxyToClientResponse";

  private JettyInternals() {}

  /**
   * Whether a job given to the server's pool is an HTTP/1 client connection resuming (looking for its
   * next request) after a response completed outside the thread that parsed the request.
   */
  static boolean isHttp1ConnectionResume(Runnable job) {
    return job instanceof HttpConnection;
  }

  /** The selectors of a server connector, whose threads may also drive the balancer's target connections; none for other connectors. */
  static ManagedSelector[] selectors(Connector connector) {
    return connector instanceof ServerConnector server
        ? server.getSelectorManager().getBeans(ManagedSelector.class).toArray(new ManagedSelector[0])
        : new ManagedSelector[0];
  }

  /** Lets ProxyHandler's interim-response handlers find the client's request and response for an upstream request. */
  static void linkForInterimResponses(org.eclipse.jetty.client.Request proxyToServerRequest, Request clientToProxyRequest,
      Response proxyToClientResponse) {
    proxyToServerRequest.attribute(CLIENT_TO_PROXY_REQUEST_ATTRIBUTE, clientToProxyRequest)
        .attribute(PROXY_TO_CLIENT_RESPONSE_ATTRIBUTE, proxyToClientResponse);
  }

  /**
   * Whether Jetty's HTTP/2 client failed an answer on reading its end: it reports the end of a stream
   * the target has reset meanwhile (a target that answered an upload without reading it, RFC 9113
   * section 8.1) with this {@code EOFException} instead of ending the answer. That is also what it
   * reports when the reset dropped unread DATA frames, the end among them, so it only means "nothing
   * was lost" when every byte the answer announced was relayed: the caller checks that.
   */
  static boolean isResetAfterWholeAnswer(Throwable responseFailure) {
    return responseFailure instanceof java.io.EOFException && "Stream has been reset".equals(responseFailure.getMessage());
  }

  /**
   * Whether a client connection has no request on it: HTTP/1 between two requests (none being handled,
   * none buffered), or a TLS connection still choosing its protocol by ALPN (a browser's preconnect),
   * behind a PROXY header or not: a connection a drain may close without cutting a request.
   * {@code HttpConnection} is Jetty's internal class; its channel's request is {@code null} from the end
   * of one exchange to the parse of the next. HTTP/2 and WebSocket connections are never idle here:
   * GOAWAY and 1001 end those.
   */
  static boolean isIdleHttp1(EndPoint endPoint) {
    Connection connection = endPoint.getConnection();
    while (connection instanceof SslConnection ssl) {
      connection = ssl.getSslEndPoint().getConnection();
    }
    if (connection instanceof NegotiatingServerConnection || DirectHttp1.isIdle(connection)) {
      return true;
    }
    return connection instanceof HttpConnection http && http.getHttpChannel().getRequest() == null && http.isRequestBufferEmpty();
  }
}
