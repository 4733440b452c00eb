package dev.affinity.jetty;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.HostPort;

/**
 * Reads the two kinds of head the balancer reads itself on its hot path, strictly, and nothing else:
 *
 * <ul>
 *   <li>{@link #request}: what the direct front end serves ({@link DirectHttp1}): a {@code GET} or
 *       {@code HEAD} request line with a target without spaces, {@code HTTP/1.1}, header lines with
 *       exactly one {@code Host} and no {@code Content-Length} or {@code Transfer-Encoding} (no body);
 *   <li>{@link #answer}: a target's answer the direct relay reads by its length ({@link TargetConnection}):
 *       {@code HTTP/1.1}, a final status (200 to 599), at most one {@code Content-Length} of plain digits,
 *       no {@code Transfer-Encoding}.
 * </ul>
 *
 * <p>Every line ends in CRLF, all of it inside the bytes given. It is strict on purpose and never
 * repairs: a bare LF, an obsolete line fold, whitespace before a colon or in the first line, a control
 * character or a byte above 0x7E in a value, or a head past the size limit is not read at all (-1),
 * and Jetty's {@code HttpParser}, with its compliance rules and error answers, reads those bytes
 * instead. What it does read, it reads as Jetty's parser does (a differential test holds it to that:
 * {@code StrictHeadTest}): values without surrounding spaces or tabs, known header names in their
 * registered spelling, others as sent.
 *
 * <p>Jetty's parser looks each line up in a trie of known fields; this hashes the name while it scans
 * it (a table of Jetty's {@link HttpHeader} names, ASCII case folded), which costs a few instructions.
 */
final class StrictHead {
  private StrictHead() {}

  /** Where a head goes as it is read. */
  interface Sink {
    /** A request's first line (for {@link #request}). */
    default void requestLine(String method, String target) {
    }

    /** An answer's status (for {@link #answer}). */
    default void statusLine(int status) {
    }

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

  private static final byte[] ANSWER_VERSION = "HTTP/1.1 ".getBytes(StandardCharsets.US_ASCII);

  /**
   * Reads one request head from {@code bytes[from, to)}.
   *
   * @return the index just after the head's empty line, or -1 when those bytes are not one whole head
   *     this reader takes (what {@code sink} heard of it then means nothing)
   */
  static int request(byte[] bytes, int from, int to, int maxHeadBytes, Sink sink) {
    return request(bytes, from, to, maxHeadBytes, sink, null);
  }

  /** As {@link #request(byte[], int, int, int, Sink)}, taking the fields of lines that {@code seen} read before as they were. */
  static int request(byte[] bytes, int from, int to, int maxHeadBytes, Sink sink, Lines seen) {
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
    return fields(bytes, p + VERSION.length, limit, true, sink, seen);
  }

  /**
   * Reads one answer head from {@code bytes[from, to)}.
   *
   * @return as {@link #request}
   */
  static int answer(byte[] bytes, int from, int to, int maxHeadBytes, Sink sink) {
    return answer(bytes, from, to, maxHeadBytes, sink, null);
  }

  /** As {@link #answer(byte[], int, int, int, Sink)}, taking the fields of lines that {@code seen} read before as they were. */
  static int answer(byte[] bytes, int from, int to, int maxHeadBytes, Sink sink, Lines seen) {
    int limit = Math.min(to, from + maxHeadBytes);
    if (!startsWith(bytes, from, limit, ANSWER_VERSION) || from + ANSWER_VERSION.length + 4 > limit) {
      return -1;
    }
    int p = from + ANSWER_VERSION.length;
    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
      if (bytes[p] < '0' || bytes[p] > '9') {
        return -1;
      }
      status = status * 10 + bytes[p] - '0';
    }
    // Interim answers and a switch of protocols are Jetty's parser's (and TargetConnection's) to handle.
    if (status < 200 || status > 599 || bytes[p] != ' ') {
      return -1;
    }
    // The reason phrase: nobody reads it.
    int lineEnd = textUntilCrlf(bytes, p + 1, limit);
    if (lineEnd < 0) {
      return -1;
    }
    sink.statusLine(status);
    return fields(bytes, lineEnd + 2, limit, false, sink, seen);
  }

  /** The field lines from {@code p} and the empty line after them. */
  private static int fields(byte[] bytes, int p, int limit, boolean request, Sink sink, Lines seen) {
    int hosts = 0;
    int lengths = 0;
    for (int index = 0; ; index++) {
      if (p + 1 >= limit) {
        return -1;
      }
      if (bytes[p] == '\r') {
        if (bytes[p + 1] != '\n') {
          return -1;
        }
        // HTTP/1.1 has exactly one Host (RFC 9112 section 3.2); Jetty answers 400 to none or more.
        return !request || hosts == 1 ? p + 2 : -1;
      }
      HttpField field = seen == null ? null : seen.field(index, bytes, p, limit);
      if (field != null) {
        // The very bytes of a line read before (and taken then): the same field, without reading it again.
        p += seen.length(index) + 2;
      } else {
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
        p = textUntilCrlf(bytes, p, limit);
        if (p < 0) {
          return -1;
        }
        int valueEnd = p;
        while (valueEnd > valueStart && (bytes[valueEnd - 1] == ' ' || bytes[valueEnd - 1] == '\t')) {
          valueEnd--;
        }
        p += 2;
        HttpHeader header = known(bytes, nameStart, nameEnd - nameStart, hash);
        if (header == HttpHeader.TRANSFER_ENCODING || header == HttpHeader.HOST && !request) {
          // Framing only Jetty's parser reads (chunks), or what an answer has no business carrying.
          return -1;
        }
        if (header == HttpHeader.CONTENT_LENGTH) {
          // A request with a body is Jetty's server's; an answer's length is read here when it is plain digits, once.
          if (request || valueEnd == valueStart || valueEnd - valueStart > 18 || !digits(bytes, valueStart, valueEnd)) {
            return -1;
          }
        }
        String name = header != null ? header.asString() : new String(bytes, nameStart, nameEnd - nameStart, StandardCharsets.ISO_8859_1);
        String value = new String(bytes, valueStart, valueEnd - valueStart, StandardCharsets.ISO_8859_1);
        byte[] line = seen == null ? null : seen.copy(bytes, nameStart, p - 2);
        if (header == HttpHeader.HOST && !value.isEmpty()) {
          // As Jetty's parser makes it, which answers 400 to a Host that is no host and port.
          try {
            field = new HostPortHttpField(header, name, new HostPort(value));
          } catch (RuntimeException badHost) {
            return -1;
          }
        } else {
          // The line as it came is the field as a head writes it when it has the name's registered
          // spelling, one space after the colon and nothing after the value (its bytes are printable here).
          boolean asWritten = line != null && valueStart == nameEnd + 2 && bytes[nameEnd + 1] == ' ' && valueEnd == p - 2
              && (header == null || sameBytes(name, bytes, nameStart));
          field = new ReadField(header, name, value, asWritten ? line : null);
        }
        if (line != null) {
          seen.remember(index, line, field);
        }
      }
      // The head's own rules, for a line read or taken again alike.
      HttpHeader header = field.getHeader();
      if (header == HttpHeader.HOST) {
        hosts++;
      } else if (header == HttpHeader.CONTENT_LENGTH && ++lengths > 1) {
        return -1;
      }
      sink.field(field);
    }
  }

  /**
   * Where the CRLF that ends a line of text from {@code p} is: the index of its CR, or -1 when a byte
   * before it is a control other than a tab or beyond 0x7E, or there is no CRLF before {@code limit}.
   */
  private static int textUntilCrlf(byte[] bytes, int p, int limit) {
    while (p < limit && bytes[p] != '\r') {
      byte b = bytes[p];
      if ((b < 0x20 && b != '\t') || b >= 0x7F || b < 0) {
        return -1;
      }
      p++;
    }
    return p + 1 < limit && bytes[p + 1] == '\n' ? p : -1;
  }

  private static boolean digits(byte[] bytes, int from, int to) {
    for (int i = from; i < to; i++) {
      if (bytes[i] < '0' || bytes[i] > '9') {
        return false;
      }
    }
    return true;
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

  private static boolean sameBytes(String name, byte[] bytes, int start) {
    for (int i = 0; i < name.length(); i++) {
      if (name.charAt(i) != bytes[start + i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * A field this reader read, with the bytes of its line when they are exactly what {@link HttpHead}
   * writes for it: a head passes the field on by copying them.
   */
  static final class ReadField extends HttpField {
    private final byte[] line;

    ReadField(HttpHeader header, String name, String value, byte[] line) {
      super(header, name, value);
      this.line = line;
    }

    /** {@code name: value} as it came, without the CRLF, or {@code null} when it came otherwise. */
    byte[] line() {
      return line;
    }
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

  /**
   * The field lines of the last head read on one connection, with the fields read from them. A client
   * on a kept-alive connection sends most lines of every request again byte for byte (Host, User-Agent,
   * Accept, its cookie), and a target most lines of every answer: a line that equals the one at the same
   * place last time is taken as the same field, without scanning, hashing or new strings (Jetty's parser
   * keeps a cache of fields per connection for the same reason). Lines are compared whole, CRLF
   * included, so a line taken again is exactly one that was read and taken before. Used by one thread
   * at a time, as the connection's reads are.
   */
  static final class Lines {
    /** Lines beyond these, or longer, are read every time: a connection keeps a small, bounded copy. */
    private static final int MAX_LINES = 24;
    private static final int MAX_LINE_BYTES = 512;

    private final byte[][] lines = new byte[MAX_LINES][];
    private final HttpField[] fields = new HttpField[MAX_LINES];

    /** The field of the line at {@code p} if it is the very line read as the {@code index}th last time, else {@code null}. */
    HttpField field(int index, byte[] bytes, int p, int limit) {
      if (index >= MAX_LINES) {
        return null;
      }
      byte[] line = lines[index];
      if (line == null) {
        return null;
      }
      int end = p + line.length;
      if (end + 1 >= limit || bytes[end] != '\r' || bytes[end + 1] != '\n'
          || !Arrays.equals(line, 0, line.length, bytes, p, end)) {
        return null;
      }
      return fields[index];
    }

    /** How long the {@code index}th line is, without its CRLF (after {@link #field} found it). */
    int length(int index) {
      return lines[index].length;
    }

    /** A copy of the line {@code bytes[p, end)} (without its CRLF) to {@link #remember}, or {@code null} for a line too long. */
    byte[] copy(byte[] bytes, int p, int end) {
      return end - p > MAX_LINE_BYTES ? null : Arrays.copyOfRange(bytes, p, end);
    }

    /** Remembers {@code line} (from {@link #copy}; never changed after), read and taken as {@code field}, as the {@code index}th. */
    void remember(int index, byte[] line, HttpField field) {
      if (index < MAX_LINES) {
        lines[index] = line;
        fields[index] = field;
      }
    }
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
