package dev.affinity.jetty;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * A TLS client on a plain {@link SSLSocket}, for what Jetty's client hides: which certificate a
 * handshake got, whether a connection is the same one, and ClientHellos of versions no JDK client
 * sends any more.
 */
final class HttpsProbe implements AutoCloseable {
  final SSLSocket socket;

  private HttpsProbe(SSLSocket socket) {
    this.socket = socket;
  }

  /** Connects to 127.0.0.1:{@code port}, sending {@code sni} (or none when null), trusting {@code trust}. */
  static HttpsProbe connect(int port, String sni, KeyStore trust, KeyStore clientKeys, String clientKeyPassword) throws Exception {
    TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trustManagers.init(trust);
    KeyManager[] keyManagers = null;
    if (clientKeys != null) {
      KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      factory.init(clientKeys, clientKeyPassword.toCharArray());
      keyManagers = factory.getKeyManagers();
    }
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keyManagers, trustManagers.getTrustManagers(), new SecureRandom());
    SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port);
    socket.setSoTimeout(5_000);
    SSLParameters parameters = socket.getSSLParameters();
    parameters.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
    socket.setSSLParameters(parameters);
    socket.startHandshake();
    return new HttpsProbe(socket);
  }

  static HttpsProbe connect(int port, String sni, KeyStore trust) throws Exception {
    return connect(port, sni, trust, null, null);
  }

  X509Certificate peer() throws Exception {
    return (X509Certificate) socket.getSession().getPeerCertificates()[0];
  }

  String subject() throws Exception {
    return peer().getSubjectX500Principal().getName();
  }

  /** A keep-alive GET on this connection; the response's status line, headers and body. */
  String get(String host, String path) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    InputStream in = socket.getInputStream();
    String head = readHead(in);
    String lower = head.toLowerCase(Locale.ROOT);
    StringBuilder body = new StringBuilder();
    int at = lower.indexOf("\ncontent-length:");
    if (at >= 0) {
      int length = Integer.parseInt(lower.substring(at + 16, lower.indexOf('\r', at)).trim());
      body.append(new String(in.readNBytes(length), StandardCharsets.ISO_8859_1));
    } else if (lower.contains("\ntransfer-encoding: chunked")) {
      while (true) {
        int size = Integer.parseInt(readLine(in).trim(), 16);
        if (size == 0) {
          readLine(in);
          break;
        }
        body.append(new String(in.readNBytes(size), StandardCharsets.ISO_8859_1));
        readLine(in);
      }
    }
    return head + body;
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (true) {
      String line = readLine(in);
      head.append(line).append("\r\n");
      if (line.isEmpty()) {
        return head.toString();
      }
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int b; (b = in.read()) != '\n'; ) {
      if (b < 0) {
        throw new IOException("connection closed mid-response after " + line);
      }
      if (b != '\r') {
        line.write(b);
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * Sends a bare ClientHello of {@code version} (0x0302 TLS 1.1, 0x0303 TLS 1.2, with no
   * supported_versions extension, so no TLS 1.3) and returns the first 7 bytes of the answer:
   * a handshake record with a ServerHello, or an alert record; empty when the server just closed.
   */
  static byte[] helloWith(int port, int version) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(version >> 8);
    body.write(version);
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    body.writeBytes(random);
    body.write(0); // no session id
    int[] suites = {0xC02F, 0xC030, 0xC013, 0xC014, 0x002F, 0x0035};
    body.write(0);
    body.write(suites.length * 2);
    for (int suite : suites) {
      body.write(suite >> 8);
      body.write(suite);
    }
    body.write(1);
    body.write(0); // null compression
    byte[] extensions = {
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x01, 0x02, 0x01, // signature_algorithms: rsa_pkcs1_sha256, rsa_pkcs1_sha1
        (byte) 0xff, 0x01, 0x00, 0x01, 0x00 // renegotiation_info (empty)
    };
    body.write(extensions.length >> 8);
    body.write(extensions.length);
    body.writeBytes(extensions);
    byte[] hello = body.toByteArray();
    ByteArrayOutputStream record = new ByteArrayOutputStream();
    record.writeBytes(new byte[] {0x16, 0x03, 0x01, (byte) ((hello.length + 4) >> 8), (byte) (hello.length + 4),
        0x01, 0x00, (byte) (hello.length >> 8), (byte) hello.length});
    record.writeBytes(hello);
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5_000);
      socket.getOutputStream().write(record.toByteArray());
      socket.getOutputStream().flush();
      return socket.getInputStream().readNBytes(7);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
