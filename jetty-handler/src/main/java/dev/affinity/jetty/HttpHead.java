package dev.affinity.jetty;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/**
 * A request or answer head serialized once, straight into bytes, for the direct relay and the direct
 * front end: no intermediate header collection, and the same bytes go out again if a request has to
 * be sent on a new connection.
 */
final class HttpHead implements Upstream.HeaderSink {
  /** Room for what the balancer adds to a client's headers: Via, Forwarded, X-Forwarded-*, the trace headers. */
  static final int BALANCER_HEADER_BYTES = 384;

  private byte[] bytes;
  private int length;

  /**
   * A request head.
   *
   * @param clientHeaderBytes about how many bytes of headers the client sent: the buffer is sized
   *     for them and the balancer's own, so that a small request does not carry a kilobyte and a large
   *     one (a browser's cookies) is not copied while it grows
   */
  HttpHead(String method, String pathQuery, int clientHeaderBytes) {
    bytes = new byte[method.length() + pathQuery.length() + 13 + clientHeaderBytes + BALANCER_HEADER_BYTES];
    ascii(method);
    ascii(" ");
    ascii(pathQuery);
    ascii(" HTTP/1.1\r\n");
  }

  private HttpHead(int capacity) {
    bytes = new byte[capacity];
  }

  /** An HTTP/1.1 answer head: the status line with its reason phrase, as Jetty's generator writes it. */
  static HttpHead answer(int status, int headerBytes) {
    String reason = org.eclipse.jetty.http.HttpStatus.getMessage(status);
    HttpHead head = new HttpHead(headerBytes + reason.length() + 64);
    head.ascii("HTTP/1.1 ");
    head.ascii(Integer.toString(status));
    head.ascii(" ");
    head.value(reason);
    head.ascii("\r\n");
    return head;
  }

  /** The bytes {@code headers} take as {@code name: value\r\n} lines. */
  static int sizeOf(HttpFields headers) {
    int size = 0;
    for (int i = 0, n = headers.size(); i < n; i++) {
      HttpField field = headers.getField(i);
      String value = field.getValue();
      size += field.getName().length() + (value == null ? 0 : value.length()) + 4;
    }
    return size;
  }

  HttpHead header(HttpField field) {
    if (field instanceof StrictHead.ReadField read && read.line() != null) {
      byte[] line = read.line();
      ensure(line.length + 2);
      System.arraycopy(line, 0, bytes, length, line.length);
      length += line.length;
      bytes[length++] = '\r';
      bytes[length++] = '\n';
      return this;
    }
    HttpHeader header = field.getHeader();
    if (header != null && field.getName() == header.asString()) {
      // A known name in its registered spelling: Jetty keeps its bytes with the colon and space.
      byte[] name = header.getBytesColonSpace();
      ensure(name.length);
      System.arraycopy(name, 0, bytes, length, name.length);
      length += name.length;
      value(field.getValue());
      ascii("\r\n");
      return this;
    }
    return header(field.getName(), field.getValue());
  }

  /** {@link Upstream#toTarget} writes straight here (a method reference would be one more object per request). */
  @Override
  public void add(HttpField field) {
    header(field);
  }

  HttpHead header(String name, String value) {
    ascii(name);
    ascii(": ");
    value(value);
    ascii("\r\n");
    return this;
  }

  /** Ends the head with the empty line. */
  HttpHead end() {
    ascii("\r\n");
    return this;
  }

  byte[] bytes() {
    return bytes;
  }

  int length() {
    return length;
  }

  /** Names, methods and the (already percent-encoded) path are ASCII: written as they are. */
  @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): each char's low byte, which is what an ASCII one is
  private void ascii(String s) {
    int n = s.length();
    ensure(n);
    s.getBytes(0, n, bytes, length);
    length += n;
  }

  /** A value as Jetty's own generator writes one: controls as spaces, beyond Latin-1 as '?'. */
  private void value(String s) {
    if (s == null) {
      return;
    }
    int n = s.length();
    ensure(n);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      bytes[length++] = c > 0xFF ? (byte) '?' : (c < 0x20 && c != '\t') || c == 0x7F ? (byte) ' ' : (byte) c;
    }
  }

  private void ensure(int more) {
    if (length + more > bytes.length) {
      byte[] bigger = new byte[Math.max(bytes.length * 2, length + more)];
      System.arraycopy(bytes, 0, bigger, 0, length);
      bytes = bigger;
    }
  }

  @Override
  public String toString() {
    return new String(bytes, 0, length, java.nio.charset.StandardCharsets.ISO_8859_1);
  }
}
