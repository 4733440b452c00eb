package dev.affinity.jetty;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.eclipse.jetty.util.Callback;

/**
 * One connection's writes of a head the balancer wrote itself (the direct relay's request to a target,
 * the direct front end's answer to a client, with a small body after it).
 *
 * <p>A head is put in the writing thread's direct buffer and flushed at once: a socket nearly always
 * takes a few hundred bytes whole, and then nothing is borrowed, queued or copied again (a heap buffer
 * would be copied into one of the JDK's temporary direct buffers, a pooled one borrowed and given back,
 * and Jetty's write machinery run, for each head). What the socket does not take at once, or a head
 * with more buffers after it, goes out through the endpoint's write from a pooled buffer, given back
 * when that write is done. One write at a time per connection, as HTTP/1.1 has it.
 */
final class HeadWrite implements Callback {
  private static final int THREAD_BUFFER_BYTES = 16 * 1024;
  // Per thread (the selector threads that relay) rather than per connection: thousands may be idle.
  private static final ThreadLocal<ByteBuffer> THREAD_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(THREAD_BUFFER_BYTES));

  private final EndPoint endPoint;
  private final ByteBufferPool pool;
  /** The pooled buffer of the write under way, if it needed one. */
  private RetainableByteBuffer pooled;
  private Callback callback;

  HeadWrite(EndPoint endPoint, ByteBufferPool pool) {
    this.endPoint = endPoint;
    this.pool = pool;
  }

  /**
   * A buffer holding {@code head}, with room for {@code more} bytes after it: to fill, flip and pass
   * to {@link #write}.
   */
  ByteBuffer buffer(HttpHead head, int more) {
    int size = head.length() + more;
    ByteBuffer out = THREAD_BUFFER.get();
    if (size <= out.capacity()) {
      out.clear();
    } else {
      pooled = pool.acquire(size, true);
      out = pooled.getByteBuffer().clear();
    }
    return out.put(head.bytes(), 0, head.length());
  }

  /** Writes {@code filled} (from {@link #buffer}, flipped) and then {@code more}; {@code done} hears the end. */
  void write(Callback done, ByteBuffer filled, ByteBuffer... more) {
    if (pooled == null) {
      if (more.length == 0) {
        try {
          if (endPoint.flush(filled)) {
            done.succeeded();
            return;
          }
        } catch (IOException | RuntimeException e) {
          done.failed(e);
          return;
        }
      }
      // The thread's buffer is the next head's: the rest waits for the socket in a buffer of its own.
      pooled = pool.acquire(filled.remaining(), true);
      ByteBuffer copy = pooled.getByteBuffer().clear();
      copy.put(filled).flip();
      filled = copy;
    }
    callback = done;
    if (more.length == 0) {
      endPoint.write(this, filled);
    } else {
      ByteBuffer[] all = new ByteBuffer[more.length + 1];
      all[0] = filled;
      System.arraycopy(more, 0, all, 1, more.length);
      endPoint.write(this, all);
    }
  }

  private Callback finished() {
    RetainableByteBuffer written = pooled;
    pooled = null;
    if (written != null) {
      written.release();
    }
    Callback done = callback;
    callback = null;
    return done;
  }

  @Override
  public void succeeded() {
    finished().succeeded();
  }

  @Override
  public void failed(Throwable x) {
    finished().failed(x);
  }

  @Override
  public InvocationType getInvocationType() {
    return InvocationType.NON_BLOCKING;
  }
}
