package dev.affinity.bench;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.Forwarder;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;

/**
 * Not a proxy anyone should run: the least a Java process can do to relay a sticky hit, to price the
 * JVM's floor beside HAProxy ({@code bench/floor.sh}). One thread, one selector, one buffer per client;
 * a bodyless request head is read whole, its {@code AFFINITY} cookie (if any) picks the backend by
 * hash, the head goes to that backend on the client's own kept-alive connection unchanged, and the
 * answer (its length from {@code Content-Length}) is copied back as it comes. No HTTP parser beyond
 * finding the end of a head, no headers added, no cryptography, no timeouts, no health checks, no
 * metrics: everything the balancer does beyond the same two reads and two writes is left out, so that
 * what remains is the JVM's and the JDK's NIO cost per request. The same system calls as the balancer
 * and HAProxy make: a read and a write on each side.
 *
 * <p>With {@code --policy SECRET}, the same relay also runs core's exchange for every request, as the
 * balancer's adapters drive it: {@link Forwarder#begin} routes the client's {@code AFFINITY} cookie
 * (opened with key {@code bench1} = {@code SECRET}, base64, in a group {@code bench} of targets
 * {@code t1..tN} with fixed-expiry duration stickiness, as {@code compare.sh}'s balancer), then
 * {@link Attempt#answered} and {@link Attempt#finished}: the floor plus the balancer's policy, without
 * Jetty. Only the sticky hit is served right there (the cookies a new client would be given are not
 * written).
 *
 * <pre>java -cp benchmarks.jar dev.affinity.bench.MinimalRelay PORT BACKEND_URI... [--policy SECRET]</pre>
 */
public final class MinimalRelay {
  private static final byte[] COOKIE = "\r\ncookie:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] AFFINITY = "AFFINITY=".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CONTENT_LENGTH = "\r\ncontent-length:".getBytes(StandardCharsets.US_ASCII);

  private final Selector selector;
  private final ServerSocketChannel server;
  private final List<InetSocketAddress> backends;
  private volatile boolean running = true;
  /** Core's exchange, or {@code null} for the bare relay. */
  private final Forwarder forwarder;
  private int next;

  private MinimalRelay(Selector selector, ServerSocketChannel server, List<InetSocketAddress> backends, Forwarder forwarder) {
    this.selector = selector;
    this.server = server;
    this.backends = backends;
    this.forwarder = forwarder;
  }

  /** Core's router for {@code compare.sh}'s balancer: key bench1, group bench, t1..tN, PT1H fixed expiry. */
  private static Forwarder policy(String secret, List<URI> targets) {
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("bench1", Base64.getDecoder().decode(secret)).build())
            .clock(Clock.systemUTC()).build(),
        CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("bench").stickiness(StickinessPolicy.duration(Expiry.fixed(Duration.ofHours(1))));
    for (int i = 0; i < targets.size(); i++) {
      group.target("t" + (i + 1), targets.get(i), 1);
    }
    Router router = Router.builder(cookies).group(group.build()).build();
    return new Forwarder(() -> router);
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: MinimalRelay PORT BACKEND_URI... [--policy SECRET]");
      System.exit(2);
    }
    List<URI> uris = new ArrayList<>();
    String secret = null;
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--policy") && i + 1 < args.length) {
        secret = args[++i];
        continue;
      }
      uris.add(URI.create(args[i]));
    }
    MinimalRelay relay = open(Integer.parseInt(args[0]), uris, secret);
    System.out.println("MinimalRelay on 127.0.0.1:" + relay.port() + " -> " + relay.backends);
    relay.run();
  }

  /** A relay listening on 127.0.0.1:{@code port} (0: any free port), not yet running; {@code secret} may be null. */
  static MinimalRelay open(int port, List<URI> targets, String secret) throws IOException {
    List<InetSocketAddress> backends = new ArrayList<>();
    for (URI uri : targets) {
      backends.add(new InetSocketAddress(uri.getHost(), uri.getPort()));
    }
    Selector selector = Selector.open();
    ServerSocketChannel server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress("127.0.0.1", port), 1024);
    server.configureBlocking(false);
    server.register(selector, SelectionKey.OP_ACCEPT);
    return new MinimalRelay(selector, server, backends, secret == null ? null : policy(secret, targets));
  }

  int port() {
    return server.socket().getLocalPort();
  }

  /** Stops {@link #run()} and closes the listener (connections in flight are dropped). */
  void stop() {
    running = false;
    selector.wakeup();
  }

  /** Relays on the calling thread until {@link #stop()}. */
  void run() throws IOException {
    try {
      loop();
    } finally {
      for (SelectionKey key : selector.keys()) {
        key.channel().close();
      }
      selector.close();
    }
  }

  private void loop() throws IOException {
    while (running) {
      selector.select();
      Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
      while (keys.hasNext()) {
        SelectionKey key = keys.next();
        keys.remove();
        Object attachment = key.attachment();
        try {
          if (attachment == null) {
            accept((ServerSocketChannel) key.channel());
          } else if (attachment instanceof Pair pair) {
            if (key.channel() == pair.client) {
              pair.clientReadable();
            } else {
              pair.backendReadable();
            }
          }
        } catch (IOException e) {
          if (attachment instanceof Pair pair) {
            pair.close();
          }
        }
      }
    }
  }

  private void accept(ServerSocketChannel server) throws IOException {
    SocketChannel client;
    while ((client = server.accept()) != null) {
      client.configureBlocking(false);
      client.setOption(StandardSocketOptions.TCP_NODELAY, true);
      Pair pair = new Pair(client);
      client.register(selector, SelectionKey.OP_READ, pair);
    }
  }

  /** A client connection and the backend connection its requests go to. */
  private final class Pair {
    final SocketChannel client;
    SocketChannel backend;
    int backendIndex = -1;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(32 * 1024);
    /** Answer bytes still to come from the backend; {@code -1} while a head is awaited. */
    long answerLeft = -1;
    /** Core's attempt for the request in flight (with {@code --policy}). */
    Attempt attempt;

    Pair(SocketChannel client) {
      this.client = client;
    }

    void clientReadable() throws IOException {
      if (client.read(buffer) < 0) {
        close();
        return;
      }
      int end = endOfHead(buffer, 0, buffer.position());
      if (end < 0) {
        return;
      }
      int wanted;
      if (forwarder != null) {
        String affinity = cookieValue(buffer, end);
        attempt = forwarder.begin(name -> "AFFINITY".equals(name) ? affinity : null, false, "GET", true);
        if (attempt.target() == null) {
          close();
          return;
        }
        wanted = Integer.parseInt(attempt.target().id().substring(1)) - 1;
      } else {
        wanted = pick(buffer, end);
      }
      if (backend == null || wanted != backendIndex) {
        if (backend != null) {
          backend.close();
        }
        backend = SocketChannel.open(backends.get(wanted));
        backend.configureBlocking(false);
        backend.setOption(StandardSocketOptions.TCP_NODELAY, true);
        backend.register(selector, SelectionKey.OP_READ, this);
        backendIndex = wanted;
      }
      buffer.flip();
      while (buffer.hasRemaining()) {
        backend.write(buffer);
      }
      buffer.clear();
      answerLeft = -1;
    }

    void backendReadable() throws IOException {
      int start = buffer.position();
      if (backend.read(buffer) < 0) {
        close();
        return;
      }
      if (answerLeft < 0) {
        int end = endOfHead(buffer, 0, buffer.position());
        if (end < 0) {
          return;
        }
        answerLeft = end + contentLength(buffer, end);
        start = 0;
        if (attempt != null) {
          attempt.answered(status(buffer), Attempt.AnswerCookies.NONE);
        }
      }
      answerLeft -= buffer.position() - start;
      buffer.flip();
      while (buffer.hasRemaining()) {
        client.write(buffer);
      }
      buffer.clear();
      if (answerLeft <= 0) {
        answerLeft = -1;
        if (attempt != null) {
          attempt.finished();
          attempt = null;
        }
      }
    }

    /** The AFFINITY cookie's value in the head ending at {@code end}, or {@code null}. */
    String cookieValue(ByteBuffer head, int end) {
      int from = valueStart(head, end);
      if (from < 0) {
        return null;
      }
      byte[] bytes = new byte[valueEnd(head, from, end) - from];
      head.get(from, bytes);
      return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** The backend by the AFFINITY cookie's hash, else the next in turn. */
    int pick(ByteBuffer head, int end) {
      int from = valueStart(head, end);
      if (from >= 0) {
        int hash = 0;
        for (int i = from, to = valueEnd(head, from, end); i < to; i++) {
          hash = 31 * hash + head.get(i);
        }
        return Math.floorMod(hash, backends.size());
      }
      next = (next + 1) % backends.size();
      return next;
    }

    void close() {
      if (attempt != null) {
        attempt.finished();
        attempt = null;
      }
      try {
        client.close();
        if (backend != null) {
          backend.close();
        }
      } catch (IOException ignored) {
        // closing: nothing to tell anyone
      }
    }
  }

  /** Where the AFFINITY cookie's value starts in the head ending at {@code end}, or {@code -1}. */
  static int valueStart(ByteBuffer head, int end) {
    int cookie = indexOf(head, COOKIE, 0, end, true);
    int value = cookie < 0 ? -1 : indexOf(head, AFFINITY, cookie, end, false);
    return value < 0 ? -1 : value + AFFINITY.length;
  }

  /** Where the cookie value starting at {@code from} ends: its {@code ;}, the line's end, or {@code end}. */
  static int valueEnd(ByteBuffer head, int from, int end) {
    int to = from;
    while (to < end && head.get(to) != ';' && head.get(to) != '\r') {
      to++;
    }
    return to;
  }

  /** The index just past the head's blank line in {@code [from, to)}, or {@code -1}. */
  static int endOfHead(ByteBuffer b, int from, int to) {
    for (int i = from; i + 3 < to; i++) {
      if (b.get(i) == '\r' && b.get(i + 1) == '\n' && b.get(i + 2) == '\r' && b.get(i + 3) == '\n') {
        return i + 4;
      }
    }
    return -1;
  }

  /** The status code of an answer head ("HTTP/1.1 200 ..."). */
  static int status(ByteBuffer head) {
    return (head.get(9) - '0') * 100 + (head.get(10) - '0') * 10 + (head.get(11) - '0');
  }

  /** The Content-Length of the head ending at {@code end}; a head without one is refused. */
  static long contentLength(ByteBuffer head, int end) {
    int at = indexOf(head, CONTENT_LENGTH, 0, end, true);
    if (at < 0) {
      throw new IllegalStateException("MinimalRelay needs a Content-Length on every answer");
    }
    long n = 0;
    for (int i = at + CONTENT_LENGTH.length; i < end; i++) {
      byte b = head.get(i);
      if (b >= '0' && b <= '9') {
        n = n * 10 + (b - '0');
      } else if (b != ' ') {
        break;
      }
    }
    return n;
  }

  /** Where {@code needle} starts in {@code [from, to)} (ASCII case ignored when asked), or {@code -1}. */
  static int indexOf(ByteBuffer b, byte[] needle, int from, int to, boolean ignoreCase) {
    outer:
    for (int i = from; i + needle.length <= to; i++) {
      for (int j = 0; j < needle.length; j++) {
        byte c = b.get(i + j);
        if (ignoreCase && c >= 'A' && c <= 'Z') {
          c += 'a' - 'A';
        }
        if (c != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
