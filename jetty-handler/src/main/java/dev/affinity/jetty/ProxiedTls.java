package dev.affinity.jetty;

import dev.affinity.tls.ProxyProtocolTls;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpScheme;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.eclipse.jetty.server.Request;

/**
 * On a plain listener behind PROXY protocol: a request whose PROXY v2 header said, with a
 * {@code PP2_TYPE_SSL} TLV, that the client connected to the proxy over TLS (HAProxy's
 * {@code send-proxy-v2-ssl}, an AWS NLB TLS listener) is an https request. Its scheme and
 * {@code isSecure} say so, and with them everything that reads them: {@code Secure} cookies under
 * {@code secure: auto}, {@code X-Forwarded-Proto} and {@code Forwarded proto=} to targets.
 *
 * <p>Only a trusted proxy's PROXY header is ever parsed ({@link ProxyProtocolGate}), so a client
 * cannot claim TLS this way. Whether the TLV means TLS is core's {@link ProxyProtocolTls} rule.
 */
final class ProxiedTls implements HttpConfiguration.Customizer {
  @Override
  public Request customize(Request request, HttpFields.Mutable responseHeaders) {
    EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    if (endPoint instanceof ProxyConnectionFactory.ProxyEndPoint proxied && !request.isSecure()
        && ProxyProtocolTls.clientUsedTls(proxied.getTLV(ProxyProtocolTls.PP2_TYPE_SSL))) {
      HttpURI https = HttpURI.build(request.getHttpURI()).scheme(HttpScheme.HTTPS).asImmutable();
      return new Request.Wrapper(request) {
        @Override
        public boolean isSecure() {
          return true;
        }

        @Override
        public HttpURI getHttpURI() {
          return https;
        }
      };
    }
    return request;
  }
}
