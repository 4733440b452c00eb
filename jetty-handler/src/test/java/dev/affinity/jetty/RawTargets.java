package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scripted raw-TCP targets, so that a test controls every byte a target sends and sees every byte
 * it receives (the request heads as they arrived), and the HTTP/1.1 bits to script them. Started
 * through {@code BalancerTestBase.target} and {@code BalancerTestBase.startBalancer}.
 */
final class RawTargets {
  private RawTargets() {}

  /** What a raw target does with one accepted connection (which is closed when it returns). */
  interface Script {
    void serve(Peer peer) throws Exception;
  }

  /** What a target does with each request head on a connection, until the balancer closes it. */
  interface RequestScript {
    void answer(Peer peer, String head) throws Exception;
  }

  static Script eachRequest(RequestScript script) {
    return peer -> {
      for (String head; (head = peer.readHead()) != null; ) {
        script.answer(peer, head);
      }
    };
  }

  /** Answers every request on a connection with its own name, method and path-query, keeping the connection. */
  static void echoEveryRequest(Peer peer) throws IOException {
    for (String head; (head = peer.readHead()) != null; ) {
      String[] line = requestLine(head).split(" ");
      peer.send(ok(peer.target.name + " " + line[0] + " " + line[1]));
    }
  }

  /** A TCP server on loopback that runs {@code script} on each connection and records what came in. */
  static final class RawTarget implements AutoCloseable {
    final String name;
    final ServerSocket server;
    final AtomicInteger accepted = new AtomicInteger();
    final List<String> heads = new CopyOnWriteArrayList<>();
    final List<byte[]> bodies = new CopyOnWriteArrayList<>();
    /** One permit per connection whose script returned and which is closed. */
    final Semaphore finished = new Semaphore(0);
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

    RawTarget(String name, Script script) throws IOException {
      this.name = name;
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread acceptor = new Thread(() -> {
        while (!server.isClosed()) {
          Socket s;
          try {
            s = server.accept();
          } catch (IOException e) {
            return;
          }
          accepted.incrementAndGet();
          sockets.add(s);
          Thread t = new Thread(() -> {
            try {
              script.serve(new Peer(this, s));
            } catch (Exception e) {
              // the balancer or the test hung up
            } finally {
              try {
                s.close();
              } catch (IOException ignored) {
                // closing is all that was wanted
              }
              sockets.remove(s);
              finished.release();
            }
          }, "raw-target-" + name);
          t.setDaemon(true);
          t.start();
        }
      }, "raw-target-" + name + "-acceptor");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return server.getLocalPort();
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + port());
    }

    @Override
    public void close() {
      try {
        server.close();
      } catch (IOException ignored) {
        // best effort
      }
      for (Socket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }

  /** The target's side of one connection. */
  static final class Peer {
    final RawTarget target;
    final Socket socket;
    final InputStream in;
    final OutputStream out;

    Peer(RawTarget target, Socket socket) throws IOException {
      this.target = target;
      this.socket = socket;
      this.in = new BufferedInputStream(socket.getInputStream());
      this.out = socket.getOutputStream();
    }

    /** The next request's head (request line and headers), recorded; null when the balancer closed. */
    String readHead() throws IOException {
      String head;
      try {
        head = RawTargets.readHead(in);
      } catch (IOException closed) {
        return null;
      }
      if (head != null) {
        target.heads.add(head);
      }
      return head;
    }

    byte[] readBody(String head) throws IOException {
      Map<String, List<String>> h = headers(head);
      if (h.getOrDefault("transfer-encoding", List.of()).stream().anyMatch(v -> v.toLowerCase(Locale.ROOT).contains("chunked"))) {
        return readChunked(in);
      }
      List<String> length = h.get("content-length");
      return length == null ? new byte[0] : readExactly(in, Integer.parseInt(length.get(0).trim()));
    }

    void send(String s) throws IOException {
      out.write(s.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    /** Waits until the balancer closes the connection (or the test ends and closes it). */
    void awaitEof() {
      try {
        while (in.read() >= 0) {
          // whatever else comes is ignored
        }
      } catch (IOException closed) {
        // closed either way
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP/1.1 bits

  static String ok(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + bytes.length + "\r\n\r\n" + body;
  }

  static String requestLine(String head) {
    return head.substring(0, head.indexOf("\r\n"));
  }

  /** Header names (lower case) to their values, in order, from a message head. */
  static Map<String, List<String>> headers(String head) {
    Map<String, List<String>> map = new LinkedHashMap<>();
    String[] lines = head.split("\r\n");
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        map.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
            .add(lines[i].substring(colon + 1).trim());
      }
    }
    return map;
  }

  /** Reads up to and including the blank line; null if the stream ended before the first byte. */
  static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        if (head.size() == 0) {
          return null;
        }
        throw new EOFException("stream ended inside a message head: " + head.toString(StandardCharsets.ISO_8859_1));
      }
      head.write(b);
      matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3)) ? matched + 1
          : b == '\r' ? 1 : 0;
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  static byte[] readExactly(InputStream in, int n) throws IOException {
    byte[] bytes = in.readNBytes(n);
    if (bytes.length != n) {
      throw new EOFException("expected " + n + " bytes, got " + bytes.length);
    }
    return bytes;
  }

  static byte[] readChunked(InputStream in) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String sizeLine = readLine(in);
      int semicolon = sizeLine.indexOf(';');
      int size = Integer.parseInt((semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16);
      if (size == 0) {
        while (!readLine(in).isEmpty()) {
          // trailers
        }
        return body.toByteArray();
      }
      body.write(readExactly(in, size));
      if (!readLine(in).isEmpty()) {
        throw new IOException("no CRLF after a chunk");
      }
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int b; (b = in.read()) != '\n'; ) {
      if (b < 0) {
        throw new EOFException("stream ended inside a line");
      }
      if (b != '\r') {
        line.append((char) b);
      }
    }
    return line.toString();
  }

  /** Chunks of varying sizes, several above the relay's 32 KB buffer; optionally extensions and a trailer. */
  static void writeChunked(OutputStream out, byte[] body, boolean extensionsAndTrailer) throws IOException {
    int[] sizes = {1, 7, 4096, 32 * 1024, 32 * 1024 + 1, 40_000, 65_536, 100_000, 3, 1000, 131_072};
    int offset = 0;
    for (int i = 0; offset < body.length; i++) {
      int n = Math.min(sizes[i % sizes.length], body.length - offset);
      String size = Integer.toHexString(n) + (extensionsAndTrailer && i % 3 == 0 ? ";ext=\"v" + i + "\"" : "");
      out.write((size + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(body, offset, n);
      out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
      offset += n;
    }
    out.write((extensionsAndTrailer ? "0\r\nX-Checksum: abc\r\n\r\n" : "0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** What came until the connection ended; fails (instead of hanging) if it was only a read timeout. */
  static byte[] readToEofOrFail(InputStream in) throws IOException {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        got.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException hung) {
      fail("the connection stayed open without data after " + got.size() + " bytes");
    } catch (IOException reset) {
      // An aborted connection may end in a reset: ended all the same.
    }
    return got.toByteArray();
  }

  static byte[] randomBytes(int n, long seed) {
    byte[] bytes = new byte[n];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /** A loopback address nothing listens on: a connect to it is refused. */
  static URI refusedUri() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    return URI.create("http://127.0.0.1:" + port);
  }
}
