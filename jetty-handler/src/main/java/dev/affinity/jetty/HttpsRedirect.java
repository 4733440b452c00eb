package dev.affinity.jetty;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.HostPort;

/**
 * Answers every request that came in on a redirect listener with {@code 301} to
 * {@code https://HOST:PORT/path?query}; requests on other listeners go to the wrapped handler.
 *
 * <p>Never an open redirect: HOST is the Host header's host (a request target in absolute form
 * does not count), PORT is the configured one, and the path and query are the request's own, after
 * the host. A request without a Host header (HTTP/1.0) is sent to the address it came in on.
 */
final class HttpsRedirect extends Handler.Wrapper {
  private static final Pattern HOST_NAME = Pattern.compile("[A-Za-z0-9._-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\]");

  private final Map<Connector, Integer> redirects;

  HttpsRedirect(Map<Connector, Integer> redirects, Handler next) {
    super(next);
    this.redirects = Map.copyOf(redirects);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    Integer port = redirects.get(request.getConnectionMetaData().getConnector());
    if (port == null) {
      return super.handle(request, response, callback);
    }
    String host = host(request);
    if (host == null) {
      AffinityBalancer.writePlain(response, callback, 400, "400 Bad Request: no valid Host header to redirect to\n", null);
      return true;
    }
    response.setStatus(301);
    response.getHeaders().put(HttpHeader.LOCATION, location(host, port, request.getHttpURI()));
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
    response.write(true, BufferUtil.EMPTY_BUFFER, callback);
    return true;
  }

  static String location(String host, int port, HttpURI uri) {
    String path = uri.getPath();
    if (path == null || !path.startsWith("/")) {
      path = "/"; // OPTIONS * and the like
    }
    String query = uri.getQuery();
    return "https://" + host + ":" + port + path + (query == null ? "" : "?" + query);
  }

  /** The Host header's host, or the local address without one; null when it is not a plain host name or address. */
  static String host(Request request) {
    String header = request.getHeaders().get(HttpHeader.HOST);
    String host;
    if (header == null || header.isBlank()) {
      SocketAddress local = request.getConnectionMetaData().getLocalSocketAddress();
      if (!(local instanceof InetSocketAddress inet)) {
        return null;
      }
      host = inet.getAddress().getHostAddress();
    } else {
      try {
        host = new HostPort(header.trim()).getHost();
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
      host = "[" + host + "]";
    }
    return HOST_NAME.matcher(host).matches() ? host : null;
  }
}
