package dev.affinity.jetty;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A client connection's endpoint that skips the reads it knows would find nothing, and keeps its read
 * interest registered while the exchange is with the target. Per kept-alive request this saves four
 * of the eight system calls a sticky hit made (bench/syscalls.sh):
 *
 * <ul>
 *   <li>two empty reads after each answer: Jetty's {@code HttpConnection} looks for a pipelined request
 *       once the answer is out, and reads again when that finds nothing (a retry meant for TLS);
 *   <li>an {@code epoll_ctl} DEL and ADD: Jetty takes the read interest off a connection when the
 *       selector reports it readable, and puts it back once the answer is out and the connection reads
 *       again; the JDK's selector deletes the registration of a key whose interest set is empty.
 * </ul>
 *
 * <p>The endpoint remembers that the socket was drained: a read returned less than the buffer had room
 * for (the kernel had no more), or nothing. Until the selector next reports the socket readable, a read
 * returns 0 without asking the kernel, and read interest stays on the key, so the kernel still watches
 * the socket. This is safe because the JDK's epoll registrations are level-triggered: bytes that came
 * after the drained read (a pipelined request, a close) are reported at the next select, whoever is
 * interested by then; a reader told "0" registers its fill interest and is woken then. What it costs:
 * a pipelined request found waiting is read one select later, and bytes that arrive while nobody reads
 * (the exchange is with the target) make one wake-up, after which Jetty takes the interest off as before.
 */
final class ClientEndPoint extends SocketChannelEndPoint {
  // Written by the thread that fills and by the selector thread (onSelected).
  private volatile boolean drained;
  /** The exchange records' shared part for this connection (HTTP/1 only; see {@link ConnectionNote#of}). */
  volatile ConnectionNote note;
  private volatile SelectionKey key;
  /** The selector whose thread does this connection's I/O: the direct front end's target connections use it too. */
  final ManagedSelector selector;
  /** A request the direct front end handed to Jetty's server with its exchange under way, until the balancer takes it. */
  volatile DirectHttp1.HandOver handOver;

  ClientEndPoint(SocketChannel channel, ManagedSelector selector, SelectionKey key, Scheduler scheduler) {
    super(channel, selector, key, scheduler);
    this.key = key;
    this.selector = selector;
  }

  @Override
  public int fill(ByteBuffer buffer) throws IOException {
    if (drained && isOpen() && !isInputShutdown()) {
      return 0;
    }
    // In flush mode the bytes are [position, limit): a fill appends from limit up to capacity.
    int room = buffer.capacity() - buffer.limit();
    int filled = super.fill(buffer);
    if (filled >= 0 && filled < room) {
      // Drained first, then the interest: a readiness reported from here on clears the mark again.
      drained = true;
      needsFillInterest();
    }
    return filled;
  }

  @Override
  public boolean flush(ByteBuffer... buffers) throws IOException {
    return buffers.length == 1 ? flushOne(this, buffers[0]) : super.flush(buffers);
  }

  /**
   * Writes one buffer with the channel's single-buffer write: Jetty's endpoint always takes the
   * gathering one, whose JDK path looks up a thread's I/O vector and copies each heap buffer into a
   * temporary direct one, for the one buffer a head (or a head and a small body) goes out in.
   */
  static boolean flushOne(SocketChannelEndPoint endPoint, ByteBuffer buffer) throws IOException {
    int flushed;
    try {
      flushed = ((SocketChannel) endPoint.getChannel()).write(buffer);
    } catch (IOException e) {
      throw new EofException(e);
    }
    if (flushed > 0) {
      endPoint.notIdle();
    }
    return !buffer.hasRemaining();
  }

  @Override
  public Runnable onSelected() {
    SelectionKey current = key;
    if (current != null && (current.readyOps() & SelectionKey.OP_READ) != 0) {
      drained = false;
    }
    return super.onSelected();
  }

  @Override
  public void replaceKey(SelectionKey newKey) {
    super.replaceKey(newKey);
    this.key = newKey;
  }
}
