package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.TrustedProxies;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.AbstractConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.DetectorConnectionFactory;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PROXY protocol (v1 and v2) in front of HTTP/1.1, as DESIGN.md "Client address and scheme" wants
 * it: required from trusted proxies, refused from everyone else.
 *
 * <p>Jetty's {@link ProxyConnectionFactory} parses both versions and exposes the PROXY source as the
 * connection's remote address (so {@code Request.getRemoteAddr} and
 * {@code ConnectionMetaData.getRemoteSocketAddress} give the client on every path), and a v2
 * {@code LOCAL} command (a load balancer's health check) as the socket's own addresses. What it does
 * not do is decide who may send one: it takes a header from any peer, and lets a connection without
 * one through. This subclass decides by the socket's peer, read before any byte:
 * <ul>
 *   <li>a trusted peer must start with a PROXY header; a connection that starts with anything else
 *       is closed (a misconfigured proxy would otherwise make every client look like the proxy);
 *   <li>an untrusted peer that starts with a PROXY header (v1 {@code PROXY } or the v2 signature) is
 *       closed: it is claiming to be someone else; anything else goes straight to HTTP.
 * </ul>
 * The trusted set is read per connection, so a reload that changes it applies to new connections.
 */
final class ProxyProtocolGate extends ProxyConnectionFactory {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyProtocolGate.class);
  private static final byte[] V1 = "PROXY".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] V2 = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

  private final Supplier<TrustedProxies> trustedProxies;
  private final Untrusted untrusted = new Untrusted();

  ProxyProtocolGate(Supplier<TrustedProxies> trustedProxies) {
    this.trustedProxies = requireNonNull(trustedProxies, "trustedProxies");
    addBean(untrusted);
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    if (trustedProxies.get().trusts(ClientOrigins.address(endPoint.getRemoteSocketAddress()))) {
      return super.newConnection(connector, endPoint);
    }
    return untrusted.newConnection(connector, endPoint);
  }

  /** A trusted peer's connection did not start with a PROXY header. */
  @Override
  protected void nextProtocol(Connector connector, EndPoint endPoint, ByteBuffer buffer) {
    LOG.debug("closing {}: a trusted proxy must start with a PROXY protocol header", endPoint);
    endPoint.close(new IOException("no PROXY protocol header from trusted proxy " + endPoint.getRemoteSocketAddress()));
  }

  /** The HTTP factory after this one on the connector. */
  private ConnectionFactory next(Connector connector) {
    String protocol = AbstractConnectionFactory.findNextProtocol(connector, getProtocol());
    ConnectionFactory next = protocol == null ? null : connector.getConnectionFactory(protocol);
    if (next == null) {
      throw new IllegalStateException("no protocol follows " + getProtocol() + " in " + connector.getProtocols());
    }
    return next;
  }

  /**
   * For untrusted peers: recognises a PROXY header's first bytes (and closes the connection), and
   * hands anything else to HTTP with the bytes read so far.
   */
  private final class Untrusted extends DetectorConnectionFactory {
    Untrusted() {
      super(new Refusing());
    }

    @Override
    protected void nextProtocol(Connector connector, EndPoint endPoint, ByteBuffer buffer) {
      upgradeToConnectionFactory(next(connector), connector, endPoint);
    }
  }

  /** Detects either PROXY signature; its connection closes at once. */
  private static final class Refusing extends AbstractConnectionFactory implements ConnectionFactory.Detecting {
    Refusing() {
      super("proxy-refused");
    }

    @Override
    public Detection detect(ByteBuffer buffer) {
      Detection v1 = startsWith(buffer, V1);
      Detection v2 = startsWith(buffer, V2);
      if (v1 == Detection.RECOGNIZED || v2 == Detection.RECOGNIZED) {
        return Detection.RECOGNIZED;
      }
      return v1 == Detection.NEED_MORE_BYTES || v2 == Detection.NEED_MORE_BYTES ? Detection.NEED_MORE_BYTES : Detection.NOT_RECOGNIZED;
    }

    private static Detection startsWith(ByteBuffer buffer, byte[] signature) {
      int n = Math.min(buffer.remaining(), signature.length);
      for (int i = 0; i < n; i++) {
        if (buffer.get(buffer.position() + i) != signature[i]) {
          return Detection.NOT_RECOGNIZED;
        }
      }
      return n == signature.length ? Detection.RECOGNIZED : Detection.NEED_MORE_BYTES;
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
      return new Closing(endPoint, connector);
    }
  }

  /** Closes its connection as soon as it is opened: the peer sent a PROXY header it may not send. */
  private static final class Closing extends AbstractConnection implements Connection.UpgradeTo {
    Closing(EndPoint endPoint, Connector connector) {
      super(endPoint, connector.getExecutor());
    }

    @Override
    public void onOpen() {
      super.onOpen();
      LOG.debug("closing {}: a PROXY protocol header from a peer that is not a trusted proxy", getEndPoint());
      getEndPoint().close(new IOException("PROXY protocol header from untrusted peer " + getEndPoint().getRemoteSocketAddress()));
    }

    @Override
    public void onUpgradeTo(ByteBuffer buffer) {
      // The rest of what the peer sent is not read.
    }

    @Override
    public void onFillable() {
    }
  }
}
