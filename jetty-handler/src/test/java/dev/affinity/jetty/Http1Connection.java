package dev.affinity.jetty;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** One HTTP/1.1 connection read by hand, so a test sees every header and every close. */
public final class Http1Connection implements Closeable {
  public final Socket socket;
  public final InputStream in;
  public final OutputStream out;
  /** Whether an answer came back on it already: a close before the next answer's first byte is then the keep-alive race. */
  boolean reused;

  public Http1Connection(int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
    socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(20));
    in = new java.io.BufferedInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  public void send(String path) throws IOException {
    send(path, "");
  }

  /** A GET of {@code path} with {@code headerLines} ("Name: value\r\n" each) after its {@code Host}. */
  public void send(String path, String headerLines) throws IOException {
    out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headerLines + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** The next answer to a HEAD request: its head only, whatever length it announces. */
  public Answer readHead() throws IOException {
    return read(true);
  }

  /** The next answer; {@link NoAnswerException} when the connection closed before its first byte. */
  public Answer read() throws IOException {
    return read(false);
  }

  private Answer read(boolean headOnly) throws IOException {
    String statusLine = line(true);
    int status = Integer.parseInt(statusLine.split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (String header; !(header = line(false)).isEmpty(); ) {
      int colon = header.indexOf(':');
      headers.merge(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim(), (x, y) -> x + ", " + y);
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (headOnly || status == 204 || status == 304) {
      reused = true;
      return new Answer(status, headers, "");
    }
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      for (int size; (size = Integer.parseInt(line(false).split(";")[0].trim(), 16)) > 0; ) {
        body.write(in.readNBytes(size));
        line(false);
      }
      line(false);
    } else if (headers.containsKey("content-length")) {
      body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
    }
    reused = true;
    return new Answer(status, headers, body.toString(StandardCharsets.UTF_8));
  }

  private String line(boolean first) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b;
      try {
        b = in.read();
      } catch (java.net.SocketException e) {
        if (first && line.size() == 0) {
          throw new NoAnswerException(e.toString());
        }
        throw e;
      }
      if (b < 0) {
        if (first && line.size() == 0) {
          throw new NoAnswerException("closed before the answer");
        }
        throw new IOException("closed in the middle of an answer");
      }
      if (b == '\n') {
        String s = line.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      line.write(b);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** A status, lower-cased headers and the body. */
  public record Answer(int status, Map<String, String> headers, String body) {
    public boolean closes() {
      return "close".equalsIgnoreCase(headers.get("connection"));
    }
  }

  /** The connection closed before the first byte of an answer. */
  public static final class NoAnswerException extends IOException {
    NoAnswerException(String message) {
      super(message);
    }
  }

  /** Whether a connection to {@code port} on loopback is refused (a closed listener), within 2 s. */
  public static boolean refused(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
      return false;
    } catch (java.net.ConnectException e) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
