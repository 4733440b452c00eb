package dev.affinity.jetty;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.internal.HttpConnection;

/**
 * What the exchange records of one client connection share, worked out once per connection: its
 * peer and local addresses as text, and (on HTTP/1, one request at a time) the note of the request
 * in progress. Kept as a connection attribute.
 */
final class ConnectionNote {
  private static final String ATTRIBUTE = ConnectionNote.class.getName();

  final String peer;
  final String local;
  volatile ExchangeNote current;

  private ConnectionNote(ConnectionMetaData connection) {
    this(connection.getRemoteSocketAddress(), connection.getLocalSocketAddress());
  }

  ConnectionNote(SocketAddress peer, SocketAddress local) {
    this.peer = address(peer);
    this.local = address(local);
  }

  static ConnectionNote of(ConnectionMetaData connection) {
    // A plain HTTP/1 client connection carries its note in a field of its endpoint: a connection
    // attribute is a map lookup, and this runs three times per request.
    if (connection instanceof HttpConnection http && http.getEndPoint() instanceof ClientEndPoint endPoint) {
      ConnectionNote note = endPoint.note;
      if (note == null) {
        note = new ConnectionNote(connection);
        endPoint.note = note;
      }
      return note;
    }
    ConnectionNote note = (ConnectionNote) connection.getAttribute(ATTRIBUTE);
    if (note == null) {
      note = new ConnectionNote(connection);
      connection.setAttribute(ATTRIBUTE, note);
    }
    return note;
  }

  /** {@code ip:port}, {@code [v6]:port}. */
  static String address(SocketAddress socket) {
    if (socket instanceof InetSocketAddress inet) {
      String ip = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
      return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + inet.getPort();
    }
    return socket == null ? null : socket.toString();
  }
}
