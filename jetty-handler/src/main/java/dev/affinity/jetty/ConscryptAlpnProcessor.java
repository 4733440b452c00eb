package dev.affinity.jetty;

import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import org.conscrypt.ApplicationProtocolSelector;
import org.conscrypt.Conscrypt;
import org.eclipse.jetty.alpn.server.ALPNServerConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ssl.ALPNProcessor;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.io.ssl.SslHandshakeListener;

/**
 * ALPN (h2 or http/1.1) on Conscrypt engines, found by Jetty's {@code ALPNServerConnectionFactory}
 * through {@link java.util.ServiceLoader} beside Jetty's own processor for the JDK's engines. Jetty's
 * processor takes only engines of the {@code java.base} module, and Jetty's Conscrypt module is not
 * published for this Jetty version, hence this one.
 *
 * <p>BoringSSL asks the selector only when the client offers ALPN; a client that offers none gets
 * the connection factory's default protocol (http/1.1) once its handshake is done, as on the JDK.
 */
public final class ConscryptAlpnProcessor implements ALPNProcessor.Server {
  @Override
  public boolean appliesTo(SSLEngine engine) {
    return ConscryptTls.isConscrypt(engine);
  }

  @Override
  public void configure(SSLEngine engine, Connection connection) {
    ALPNServerConnection alpn = (ALPNServerConnection) connection;
    Conscrypt.setApplicationProtocolSelector(engine, new ApplicationProtocolSelector() {
      @Override
      public String selectApplicationProtocol(SSLEngine sslEngine, List<String> offered) {
        alpn.select(offered);
        // Null leaves ALPN out of the server's answer; the handshake listener below then picks the default.
        return alpn.getProtocol();
      }

      @Override
      public String selectApplicationProtocol(SSLSocket socket, List<String> offered) {
        throw new UnsupportedOperationException("Jetty's listeners use engines, not sockets");
      }
    });
    EndPoint endPoint = connection.getEndPoint();
    if (endPoint instanceof SslConnection.SslEndPoint ssl) {
      ssl.getSslConnection().addHandshakeListener(new SslHandshakeListener() {
        @Override
        public void handshakeSucceeded(Event event) {
          if (alpn.getProtocol() == null) {
            alpn.unsupported();
          }
        }
      });
    }
  }
}
