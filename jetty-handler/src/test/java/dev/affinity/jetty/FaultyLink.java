package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fault-injecting TCP proxy for tests: listens on an ephemeral loopback port and forwards each
 * connection to one target address, and can at run time
 * <ul>
 *   <li>{@link #latency add latency} per direction, applied to each chunk as it was read (a reader
 *       and a writer thread per direction, so the delay does not slow the stream down and nothing is
 *       reordered);</li>
 *   <li>go {@link #silent() silent}, a partition: connections are still accepted and stay open, but
 *       nothing is forwarded either way and nothing is closed (no RST, no FIN); the link stops reading,
 *       so a sender's socket buffers fill up as they would with no ACKs coming back. A connection
 *       accepted while silent is connected to the target only once healed. {@link #heal()} lets what
 *       was held go on, in order, as TCP's retransmissions would after a partition;</li>
 *   <li>{@link #refuse() refuse}: the listening socket closes (connects get ECONNREFUSED) and open
 *       connections are reset; {@link #heal()} listens again on the same port;</li>
 *   <li>{@link #resetAll() reset} every open connection once (closed with {@code SO_LINGER} 0).</li>
 * </ul>
 * Thread per connection direction (plain blocking sockets: the point is to be obviously right, not
 * fast). {@link #close()} closes every socket and waits for every thread it started, so nothing leaks
 * into the next test; {@link #threads()} says how many are alive.
 */
public final class FaultyLink implements AutoCloseable {
  private static final byte[] EOF = new byte[0];
  /** What a reader that failed leaves for its writer, which then stops too. */
  private static final byte[] BROKEN = new byte[0];

  private final InetSocketAddress target;
  private final ThreadPoolExecutor threads;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicLong bytesToTarget = new AtomicLong();
  private final AtomicLong bytesToClient = new AtomicLong();
  private final Object state = new Object();
  private final int port;
  private volatile ServerSocket listener;
  private volatile java.util.concurrent.Future<?> acceptor;
  private volatile long latencyToTargetNanos;
  private volatile long latencyToClientNanos;
  private volatile boolean silent;
  private volatile boolean closed;

  private FaultyLink(InetSocketAddress target) throws IOException {
    this.target = requireNonNull(target, "target");
    AtomicInteger n = new AtomicInteger();
    this.threads = (ThreadPoolExecutor) Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "faulty-link-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.listener = listen(0);
    this.port = listener.getLocalPort();
    acceptOn(listener);
  }

  /** A link to {@code host:port}. */
  public static FaultyLink to(String host, int port) throws IOException {
    return new FaultyLink(new InetSocketAddress(host, port));
  }

  /** A link to the host and port of {@code uri} (e.g. a target's {@code http://127.0.0.1:port}). */
  public static FaultyLink to(URI uri) throws IOException {
    return to(uri.getHost(), uri.getPort());
  }

  public int port() {
    return port;
  }

  /** {@code http://127.0.0.1:port}: what to hand a client instead of the target's own address. */
  public URI uri() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Delays each chunk by {@code toTarget} on its way to the target and {@code toClient} on its way back. */
  public FaultyLink latency(Duration toTarget, Duration toClient) {
    latencyToTargetNanos = toTarget.toNanos();
    latencyToClientNanos = toClient.toNanos();
    return this;
  }

  /** The same latency both ways. */
  public FaultyLink latency(Duration each) {
    return latency(each, each);
  }

  /** A silent partition from now on: accept, keep open, forward nothing, close nothing. */
  public void silent() {
    synchronized (state) {
      silent = true;
    }
  }

  /** Closes the listening socket (connects are refused) and resets every open connection. */
  public void refuse() throws IOException {
    java.util.concurrent.Future<?> acceptor;
    synchronized (state) {
      ServerSocket l = listener;
      listener = null;
      acceptor = this.acceptor;
      if (l != null) {
        l.close();
      }
    }
    // The JDK closes a socket that a thread is blocked accepting on only once that thread has woken:
    // until then the kernel still queues connects. Refused means refused when this returns.
    try {
      acceptor.get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IOException("faulty link to " + target + ": the listener did not close", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    resetAll();
  }

  /** Resets (RST) every open connection, both sides. */
  public void resetAll() {
    for (Link link : links) {
      link.reset();
    }
  }

  /** Back to a working link: no silence, listening again if refused; latency is kept (set it to zero to drop it). */
  public void heal() throws IOException {
    synchronized (state) {
      silent = false;
      if (listener == null && !closed) {
        listener = listen(port);
        acceptOn(listener);
      }
      state.notifyAll();
    }
  }

  public boolean isSilent() {
    return silent;
  }

  /** Connections accepted so far. */
  public int accepted() {
    return accepted.get();
  }

  /** Connections open now. */
  public int openConnections() {
    return links.size();
  }

  public long bytesToTarget() {
    return bytesToTarget.get();
  }

  public long bytesToClient() {
    return bytesToClient.get();
  }

  /** Threads of this link alive now (0 after {@link #close()}). */
  public int threads() {
    return threads.getActiveCount();
  }

  @Override
  public void close() throws IOException {
    synchronized (state) {
      closed = true;
      silent = false;
      state.notifyAll();
      if (listener != null) {
        listener.close();
        listener = null;
      }
    }
    for (Link link : links) {
      link.close();
    }
    threads.shutdownNow();
    try {
      if (!threads.awaitTermination(5, TimeUnit.SECONDS)) {
        throw new IllegalStateException("faulty link to " + target + ": threads still running 5 s after close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static ServerSocket listen(int port) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
    return s;
  }

  private void acceptOn(ServerSocket server) {
    acceptor = threads.submit(() -> {
      while (!server.isClosed()) {
        Socket client;
        try {
          client = server.accept();
        } catch (IOException closedListener) {
          return;
        }
        accepted.incrementAndGet();
        Link link = new Link(client);
        links.add(link);
        threads.execute(link::connect);
      }
    });
  }

  /** Waits while the link is silent; false when the link closed meanwhile. */
  private boolean awaitSpeaking() {
    synchronized (state) {
      while (silent && !closed) {
        try {
          state.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return !closed;
    }
  }

  /** One client connection and its connection to the target. */
  private final class Link {
    final Socket client;
    volatile Socket server;

    Link(Socket client) {
      this.client = client;
    }

    void connect() {
      try {
        if (!awaitSpeaking()) {
          close();
          return;
        }
        Socket s = new Socket();
        server = s;
        s.connect(target, 5_000);
        s.setTcpNoDelay(true);
        client.setTcpNoDelay(true);
      } catch (IOException e) {
        // The target refuses: the client sees its connection reset, as through a NAT that tried.
        reset();
        return;
      }
      direction(client, server, latencyToTarget(), bytesToTarget);
      direction(server, client, latencyToClient(), bytesToClient);
    }

    private java.util.function.LongSupplier latencyToTarget() {
      return () -> latencyToTargetNanos;
    }

    private java.util.function.LongSupplier latencyToClient() {
      return () -> latencyToClientNanos;
    }

    /** A reader and a writer thread for one direction, with the chunks in flight between them. */
    private void direction(Socket from, Socket to, java.util.function.LongSupplier latency, AtomicLong counter) {
      LinkedBlockingQueue<Object[]> inFlight = new LinkedBlockingQueue<>();
      threads.execute(() -> {
        byte[] buffer = new byte[16 * 1024];
        try {
          InputStream in = from.getInputStream();
          while (awaitSpeaking()) {
            int n = in.read(buffer);
            byte[] chunk = n < 0 ? EOF : Arrays.copyOf(buffer, n);
            inFlight.put(new Object[] {System.nanoTime() + latency.getAsLong(), chunk});
            if (n < 0) {
              return;
            }
          }
        } catch (IOException | InterruptedException e) {
          close();
        }
        inFlight.offer(new Object[] {0L, BROKEN});
      });
      threads.execute(() -> {
        try {
          OutputStream out = to.getOutputStream();
          while (true) {
            Object[] next = inFlight.take();
            long wait = (long) next[0] - System.nanoTime();
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait);
            }
            byte[] chunk = (byte[]) next[1];
            if (chunk == BROKEN || !awaitSpeaking()) {
              return;
            }
            if (chunk == EOF) {
              to.shutdownOutput();
              if (from.isOutputShutdown() || to.isInputShutdown()) {
                close();
              }
              return;
            }
            out.write(chunk);
            out.flush();
            counter.addAndGet(chunk.length);
          }
        } catch (IOException | InterruptedException e) {
          close();
        }
      });
    }

    void reset() {
      for (Socket s : new Socket[] {client, server}) {
        if (s != null) {
          try {
            s.setSoLinger(true, 0);
          } catch (SocketException alreadyClosed) {
            // nothing to reset
          }
        }
      }
      close();
    }

    void close() {
      links.remove(this);
      for (Socket s : new Socket[] {client, server}) {
        if (s != null) {
          try {
            s.close();
          } catch (IOException ignored) {
            // closing anyway
          }
        }
      }
    }
  }
}
