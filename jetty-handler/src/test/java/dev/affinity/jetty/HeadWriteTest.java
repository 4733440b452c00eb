package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.ByteArrayEndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link HeadWrite} over Jetty's in-memory endpoint, whose output can be made to take fewer bytes than
 * offered (a socket whose send buffer is full): every byte goes out once and in order whichever way
 * the write went, the callback hears the end once, and every pooled buffer goes back.
 */
class HeadWriteTest {
  private final ArrayByteBufferPool.Tracking pool = new ArrayByteBufferPool.Tracking();

  @AfterEach
  void noBufferIsKept() {
    assertThat(pool.getLeaks()).as(pool.dumpLeaks()).isEmpty();
  }

  private static ByteBuffer filled(HeadWrite write, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
    ByteBuffer out = write.buffer(bytes.length);
    return out.put(bytes).flip();
  }

  @Test
  void aHeadTheSocketTakesAtOnceIsDoneBeforeWriteReturns() {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 1024, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, "HTTP/1.1 200 OK\r\n\r\nhi"));

    assertThat(done).isCompleted();
    assertThat(endPoint.takeOutputString()).isEqualTo("HTTP/1.1 200 OK\r\n\r\nhi");
  }

  @Test
  void whatTheSocketDoesNotTakeAtOnceGoesOutWhenItHasRoom() throws Exception {
    // Room for 10 bytes only: the rest must wait in a buffer of its own, not in the thread's, which the next head reuses.
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 10, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();
    String head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head));
    assertThat(done).isNotDone();
    // Another connection's head on the same thread, in the same thread buffer.
    HeadWrite other = new HeadWrite(new ByteArrayEndPoint(new byte[0], 1024, false), pool);
    other.write(Callback.NOOP, filled(other, "X".repeat(60)));

    StringBuilder received = new StringBuilder();
    while (!done.isDone()) {
      received.append(BufferUtil.toString(endPoint.takeOutput(), StandardCharsets.US_ASCII));
    }
    received.append(endPoint.takeOutputString());
    done.get(1, TimeUnit.SECONDS);
    assertThat(received.toString()).isEqualTo(head);
  }

  @Test
  void aHeadWithBuffersAfterItGoesOutInOrder() throws Exception {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 8, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, "HTTP/1.1 200 OK\r\n\r\n"),
        ByteBuffer.wrap("5\r\n".getBytes(StandardCharsets.US_ASCII)), ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));

    StringBuilder received = new StringBuilder();
    while (!done.isDone()) {
      received.append(BufferUtil.toString(endPoint.takeOutput(), StandardCharsets.US_ASCII));
    }
    received.append(endPoint.takeOutputString());
    done.get(1, TimeUnit.SECONDS);
    assertThat(received.toString()).isEqualTo("HTTP/1.1 200 OK\r\n\r\n5\r\nhello");
  }

  @Test
  void aHeadLargerThanTheThreadsBufferIsWrittenFromAPooledOne() throws Exception {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 64 * 1024, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();
    String head = "HTTP/1.1 200 OK\r\nX-Big: " + "b".repeat(40_000) + "\r\n\r\n";

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head));

    done.get(1, TimeUnit.SECONDS);
    assertThat(endPoint.takeOutputString()).isEqualTo(head);
  }

  @Test
  void aClosedEndPointFailsTheWriteAndKeepsNothing() {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 1024, false);
    endPoint.close();
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, "GET / HTTP/1.1\r\n\r\n"));

    assertThat(done).isCompletedExceptionally();
  }
}
