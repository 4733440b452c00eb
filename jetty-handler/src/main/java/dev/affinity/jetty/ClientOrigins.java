package dev.affinity.jetty;

import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.TrustedProxies;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;

/**
 * Translates a Jetty request for core's {@link TrustedProxies} rule. The peer is what the connection
 * says ({@code ConnectionMetaData.getRemoteSocketAddress}): the socket's peer, or, behind Jetty's
 * {@code ProxyConnectionFactory}, the source address of the PROXY header, so every path (direct
 * relay, {@code HttpClient}, WebSocket upgrades, the admin endpoints) sees the same client.
 */
final class ClientOrigins {
  private ClientOrigins() {}

  /**
   * The client as a trusted proxy in front described it, or {@code null} when the peer is not a
   * trusted proxy: then the socket (and Jetty's request) says everything, and the forwarding headers
   * the peer sent are dropped. With no trusted proxies this is one emptiness check, so the common
   * case costs nothing per request.
   */
  static ClientOrigin relayed(Request request, TrustedProxies proxies) {
    if (proxies.isEmpty()) {
      return null;
    }
    InetAddress peer = peer(request);
    if (!proxies.trusts(peer)) {
      return null;
    }
    return proxies.resolve(peer, request.isSecure(), request.getHeaders().get(HttpHeader.HOST), Request.getServerPort(request),
        name -> request.getHeaders().getValuesList(name));
  }

  /** {@link #relayed(Request, TrustedProxies)} of a request read without Jetty's server ({@link DirectHttp1}). */
  static ClientOrigin relayed(InetAddress peer, boolean secure, org.eclipse.jetty.http.HttpFields headers, int serverPort,
      TrustedProxies proxies) {
    if (proxies.isEmpty() || !proxies.trusts(peer)) {
      return null;
    }
    return proxies.resolve(peer, secure, headers.get(HttpHeader.HOST), serverPort, headers::getValuesList);
  }

  /** The connection's peer address, or {@code null} for a non-IP connection (a Unix socket). */
  static InetAddress peer(Request request) {
    return address(request.getConnectionMetaData().getRemoteSocketAddress());
  }

  static InetAddress address(SocketAddress socketAddress) {
    return socketAddress instanceof InetSocketAddress inet ? inet.getAddress() : null;
  }

  /** Whether the client (as {@link #relayed} resolved it, else the peer) is on this machine. */
  static boolean isLoopbackClient(Request request, TrustedProxies proxies) {
    ClientOrigin relayed = relayed(request, proxies);
    InetAddress client = relayed != null ? relayed.address() : peer(request);
    return client != null && client.isLoopbackAddress();
  }

  /** The client's address as a log shows it. */
  static String clientForLog(Request request, ClientOrigin relayed) {
    return relayed != null ? relayed.address().getHostAddress() + " via " + Request.getRemoteAddr(request) : Request.getRemoteAddr(request);
  }
}
