package dev.affinity.jetty;

import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.HostPort;

/**
 * Reads the one kind of request head the direct front end serves ({@link DirectHttp1}): a {@code GET}
 * or {@code HEAD} request line in origin or any form without spaces, {@code HTTP/1.1}, and header
 * lines with exactly one {@code Host} and no {@code Content-Length} or {@code Transfer-Encoding}
 * (no body), every line ending in CRLF, all of it inside the bytes given. It is strict on purpose and
 * never repairs: a bare LF, an obsolete line fold, whitespace before a colon or in the request line,
 * a control character or a byte above 0x7E in a value, or a head past the size limit is not read at
 * all (-1), and Jetty's server, whose parser has the listener's compliance rules and error answers,
 * reads those bytes instead. What it does read, it reads as Jetty's parser does (differential fuzz
 * test: {@code StrictRequestHeadFuzzTest}): values without surrounding spaces or tabs, known header
 * names in their registered spelling, others as sent.
 *
 * <p>Jetty's parser looks each line up in a trie of known fields; this hashes the name while it scans
 * it (a table of Jetty's {@link HttpHeader} names, ASCII case folded), which costs a few instructions.
 */
final class StrictRequestHead {
  private StrictRequestHead() {}

  /** Where a head goes as it is read. */
  interface Sink {
    void requestLine(String method, String target);

    void field(HttpField field);
  }

  private static final byte[] GET = "GET ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] HEAD = "HEAD ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] VERSION = " HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final boolean[] TCHAR = new boolean[128];
  private static final HttpHeader[] KNOWN = new HttpHeader[1024];

  static {
    for (char c = '0'; c <= '9'; c++) {
      TCHAR[c] = true;
    }
    for (char c = 'a'; c <= 'z'; c++) {
      TCHAR[c] = true;
      TCHAR[c - 32] = true;
    }
    for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
      TCHAR[c] = true;
    }
    for (HttpHeader header : HttpHeader.values()) {
      String name = header.asString();
      if (name.isEmpty() || name.charAt(0) == ':') {
        continue;
      }
      int hash = 0;
      for (int i = 0; i < name.length(); i++) {
        hash = 31 * hash + (name.charAt(i) | 0x20);
      }
      int slot = hash & (KNOWN.length - 1);
      while (KNOWN[slot] != null) {
        slot = (slot + 1) & (KNOWN.length - 1);
      }
      KNOWN[slot] = header;
    }
  }

  /**
   * Reads one head from {@code bytes[from, to)}.
   *
   * @return the index just after the head's empty line, or -1 when those bytes are not one whole head
   *     this reader takes (what {@code sink} heard of it then means nothing)
   */
  static int read(byte[] bytes, int from, int to, int maxHeadBytes, Sink sink) {
    int limit = Math.min(to, from + maxHeadBytes);
    int p;
    String method;
    if (startsWith(bytes, from, limit, GET)) {
      method = "GET";
      p = from + GET.length;
    } else if (startsWith(bytes, from, limit, HEAD)) {
      method = "HEAD";
      p = from + HEAD.length;
    } else {
      return -1;
    }
    int targetStart = p;
    while (p < limit && bytes[p] > 0x20 && bytes[p] < 0x7F) {
      p++;
    }
    if (p == targetStart || !startsWith(bytes, p, limit, VERSION)) {
      return -1;
    }
    sink.requestLine(method, new String(bytes, targetStart, p - targetStart, StandardCharsets.ISO_8859_1));
    p += VERSION.length;
    int hosts = 0;
    while (true) {
      if (p + 1 >= limit) {
        return -1;
      }
      if (bytes[p] == '\r') {
        // HTTP/1.1 has exactly one Host (RFC 9112 section 3.2); Jetty answers 400 to none or more.
        return bytes[p + 1] == '\n' && hosts == 1 ? p + 2 : -1;
      }
      int nameStart = p;
      int hash = 0;
      while (p < limit && bytes[p] >= 0 && TCHAR[bytes[p]]) {
        hash = 31 * hash + (bytes[p] | 0x20);
        p++;
      }
      if (p == nameStart || p >= limit || bytes[p] != ':') {
        return -1;
      }
      int nameEnd = p++;
      while (p < limit && (bytes[p] == ' ' || bytes[p] == '\t')) {
        p++;
      }
      int valueStart = p;
      while (p < limit && bytes[p] != '\r') {
        byte b = bytes[p];
        if ((b < 0x20 && b != '\t') || b >= 0x7F || b < 0) {
          return -1;
        }
        p++;
      }
      if (p + 1 >= limit || bytes[p + 1] != '\n') {
        return -1;
      }
      int valueEnd = p;
      while (valueEnd > valueStart && (bytes[valueEnd - 1] == ' ' || bytes[valueEnd - 1] == '\t')) {
        valueEnd--;
      }
      p += 2;
      HttpHeader header = known(bytes, nameStart, nameEnd - nameStart, hash);
      if (header == HttpHeader.HOST) {
        hosts++;
      } else if (header == HttpHeader.CONTENT_LENGTH || header == HttpHeader.TRANSFER_ENCODING) {
        // A body, or what Jetty's parser checks of its framing: Jetty's server reads those.
        return -1;
      }
      String name = header != null ? header.asString() : new String(bytes, nameStart, nameEnd - nameStart, StandardCharsets.ISO_8859_1);
      String value = new String(bytes, valueStart, valueEnd - valueStart, StandardCharsets.ISO_8859_1);
      HttpField field;
      if (header == HttpHeader.HOST && !value.isEmpty()) {
        // As Jetty's parser makes it, which answers 400 to a Host that is no host and port.
        try {
          field = new HostPortHttpField(header, name, new HostPort(value));
        } catch (RuntimeException badHost) {
          return -1;
        }
      } else {
        field = new HttpField(header, name, value);
      }
      sink.field(field);
    }
  }

  private static HttpHeader known(byte[] bytes, int start, int length, int hash) {
    for (int slot = hash & (KNOWN.length - 1); KNOWN[slot] != null; slot = (slot + 1) & (KNOWN.length - 1)) {
      String name = KNOWN[slot].asString();
      if (name.length() == length && equalsIgnoringCase(name, bytes, start)) {
        return KNOWN[slot];
      }
    }
    return null;
  }

  private static boolean equalsIgnoringCase(String name, byte[] bytes, int start) {
    for (int i = 0; i < name.length(); i++) {
      // Only a letter has another case; any other byte must be the very same.
      int a = name.charAt(i);
      int b = bytes[start + i];
      if (a != b && !(Character.isLetter(a) && (a | 0x20) == (b | 0x20))) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWith(byte[] bytes, int at, int limit, byte[] prefix) {
    if (at + prefix.length > limit) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (bytes[at + i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
