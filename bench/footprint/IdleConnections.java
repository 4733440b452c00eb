import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens N keep-alive HTTP/1.1 connections to 127.0.0.1:PORT, sends one GET on each and reads its
 * answer, then holds them all open and idle for HOLD seconds, and exits (closing them all).
 *
 * <pre>
 *   java bench/footprint/IdleConnections.java PORT N HOLD_SECONDS [COOKIE]
 * </pre>
 *
 * Prints "connected N", "answered N" (when every connection had its answer; a connection whose
 * answer did not come within 60 s counts as failed) and "holding N idle for S s", then "done". One
 * thread and one selector; the caller raises {@code ulimit -n} above N. Exit status 1 when fewer
 * than N connections were answered (the balancer refused or closed some).
 */
public final class IdleConnections {
  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: IdleConnections PORT N HOLD_SECONDS [COOKIE]");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    int n = Integer.parseInt(args[1]);
    int holdSeconds = Integer.parseInt(args[2]);
    String cookie = args.length > 3 && !args[3].isEmpty() ? "Cookie: " + args[3] + "\r\n" : "";
    byte[] request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n" + cookie + "\r\n").getBytes(StandardCharsets.US_ASCII);
    InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
    List<SocketChannel> channels = new ArrayList<>(n);
    Selector selector = Selector.open();
    // Connect in batches so that the balancer's accept queue (and the kernel's backlog) is not overrun.
    for (int i = 0; i < n; i++) {
      SocketChannel channel = SocketChannel.open(address);
      channel.configureBlocking(false);
      channel.write(ByteBuffer.wrap(request));
      channel.register(selector, SelectionKey.OP_READ, new int[1]);
      channels.add(channel);
      if (i % 500 == 499) {
        drain(selector, 0);
      }
    }
    System.out.println("connected " + channels.size());
    long deadline = System.nanoTime() + 60_000_000_000L;
    int answered = 0;
    long nextReport = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < deadline) {
      drain(selector, 100);
      answered = 0;
      for (SelectionKey key : selector.keys()) {
        if (((int[]) key.attachment())[0] > 0) {
          answered++;
        }
      }
      if (answered == n) {
        break;
      }
      if (System.nanoTime() > nextReport) {
        System.out.println("answered " + answered + " so far");
        nextReport += 5_000_000_000L;
      }
    }
    System.out.println("answered " + answered + (answered < n ? " (of " + n + ")" : ""));
    System.out.println("holding " + n + " idle for " + holdSeconds + " s");
    System.out.flush();
    long holdUntil = System.nanoTime() + holdSeconds * 1_000_000_000L;
    int closedByPeer = 0;
    while (System.nanoTime() < holdUntil) {
      closedByPeer += drain(selector, 200);
    }
    for (SocketChannel channel : channels) {
      channel.close();
    }
    System.out.println("done" + (closedByPeer > 0 ? " (" + closedByPeer + " closed by the balancer while held)" : ""));
    System.exit(answered == n && closedByPeer == 0 ? 0 : 1);
  }

  /** Reads what arrived; counts a connection's first bytes as its answer. Returns connections the peer closed. */
  private static int drain(Selector selector, long timeoutMillis) throws IOException {
    int closed = 0;
    if ((timeoutMillis == 0 ? selector.selectNow() : selector.select(timeoutMillis)) == 0) {
      return 0;
    }
    ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
    var it = selector.selectedKeys().iterator();
    while (it.hasNext()) {
      SelectionKey key = it.next();
      it.remove();
      SocketChannel channel = (SocketChannel) key.channel();
      buffer.clear();
      int read;
      try {
        read = channel.read(buffer);
      } catch (IOException e) {
        read = -1;
      }
      if (read < 0) {
        key.cancel();
        closed++;
      } else {
        ((int[]) key.attachment())[0] += read;
      }
    }
    return closed;
  }
}
