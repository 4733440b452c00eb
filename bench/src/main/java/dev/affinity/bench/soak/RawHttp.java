package dev.affinity.bench.soak;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Just enough of an HTTP/1.1 response reader for the hostile clients, which write their requests on
 * raw sockets (pipelined, trickled, oversized): the status line, the headers, and a body framed by
 * {@code Content-Length}, chunked, or the end of the connection.
 */
final class RawHttp {
  private RawHttp() {
  }

  /** One response read off {@code in}: its status, and whether the server said it closes. */
  record Answer(int status, boolean close, String setCookie, String seenPrevious) {
  }

  /** Reads one response, or throws {@link EOFException} when the connection ends before a status line. */
  static Answer read(InputStream in, boolean headRequest) throws IOException {
    String statusLine = line(in);
    if (statusLine == null) {
      throw new EOFException("connection closed before a status line");
    }
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
      throw new IOException("not an HTTP/1.1 status line: " + abbreviate(statusLine));
    }
    int status = Integer.parseInt(parts[1]);
    long length = -1;
    boolean chunked = false;
    boolean close = parts[0].equals("HTTP/1.0");
    String setCookie = null;
    String seenPrevious = null;
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      if (colon <= 0) {
        continue;
      }
      String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = h.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> length = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
        case "connection" -> close = value.toLowerCase(Locale.ROOT).contains("close");
        case "set-cookie" -> setCookie = setCookie == null ? value : setCookie + "\n" + value;
        case "x-seen-previous" -> seenPrevious = value;
        default -> { }
      }
    }
    if (headRequest || status / 100 == 1 || status == 204 || status == 304) {
      return new Answer(status, close, setCookie, seenPrevious);
    }
    if (chunked) {
      while (true) {
        String size = line(in);
        if (size == null) {
          throw new EOFException("connection closed inside a chunked body");
        }
        int semi = size.indexOf(';');
        long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
        if (n == 0) {
          for (String trailer = line(in); trailer != null && !trailer.isEmpty(); trailer = line(in)) {
            // trailers are not used
          }
          break;
        }
        skip(in, n);
        line(in);
      }
    } else if (length >= 0) {
      skip(in, length);
    } else {
      in.transferTo(OutputStreamNull.INSTANCE);
      close = true;
    }
    return new Answer(status, close, setCookie, seenPrevious);
  }

  private static void skip(InputStream in, long n) throws IOException {
    long left = n;
    byte[] buffer = new byte[8192];
    while (left > 0) {
      int r = in.read(buffer, 0, (int) Math.min(buffer.length, left));
      if (r < 0) {
        throw new EOFException("connection closed with " + left + " body bytes still to come");
      }
      left -= r;
    }
  }

  /** A CRLF- (or LF-) terminated line without its terminator; null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(64);
    while (true) {
      int c = in.read();
      if (c < 0) {
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
      }
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      if (b.size() > 65536) {
        throw new IOException("a response line longer than 64 KB");
      }
      b.write(c);
    }
  }

  static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "…";
  }

  private static final class OutputStreamNull extends java.io.OutputStream {
    static final OutputStreamNull INSTANCE = new OutputStreamNull();

    @Override
    public void write(int b) {
    }

    @Override
    public void write(byte[] b, int off, int len) {
    }
  }
}
