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

  /** An answer head with {@code fields} ({@code name, value, ...}). */
  private static HttpHead head(String... fields) {
    HttpHead head = HttpHead.answer(200, 64);
    for (int i = 0; i < fields.length; i += 2) {
      head.header(fields[i], fields[i + 1]);
    }
    return head.end();
  }

  /** {@code head} and {@code body} after it in {@code write}'s buffer, as the front end fills it. */
  private static ByteBuffer filled(HeadWrite write, HttpHead head, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.US_ASCII);
    return write.buffer(head, bytes.length).put(bytes).flip();
  }

  @Test
  void aHeadTheSocketTakesAtOnceIsDoneBeforeWriteReturns() {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 1024, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    HttpHead head = head();
    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head, "hi"));

    assertThat(done).isCompleted();
    assertThat(endPoint.takeOutputString()).isEqualTo(head + "hi");
  }

  @Test
  void whatTheSocketDoesNotTakeAtOnceGoesOutWhenItHasRoom() throws Exception {
    // Room for 10 bytes only: the rest must wait in a buffer of its own, not in the thread's, which the next head reuses.
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 10, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();
    HttpHead head = head("Content-Length", "5");

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head, "hello"));
    assertThat(done).isNotDone();
    // Another connection's head on the same thread, in the same thread buffer.
    HeadWrite other = new HeadWrite(new ByteArrayEndPoint(new byte[0], 1024, false), pool);
    other.write(Callback.NOOP, filled(other, head("X-Other", "X".repeat(60)), ""));

    StringBuilder received = new StringBuilder();
    while (!done.isDone()) {
      received.append(BufferUtil.toString(endPoint.takeOutput(), StandardCharsets.US_ASCII));
    }
    received.append(endPoint.takeOutputString());
    done.get(1, TimeUnit.SECONDS);
    assertThat(received.toString()).isEqualTo(head + "hello");
  }

  @Test
  void aHeadWithBuffersAfterItGoesOutInOrder() throws Exception {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 8, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    HttpHead head = head();
    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head, ""),
        ByteBuffer.wrap("5\r\n".getBytes(StandardCharsets.US_ASCII)), ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));

    StringBuilder received = new StringBuilder();
    while (!done.isDone()) {
      received.append(BufferUtil.toString(endPoint.takeOutput(), StandardCharsets.US_ASCII));
    }
    received.append(endPoint.takeOutputString());
    done.get(1, TimeUnit.SECONDS);
    assertThat(received.toString()).isEqualTo(head + "5\r\nhello");
  }

  @Test
  void aHeadLargerThanTheThreadsBufferIsWrittenFromAPooledOne() throws Exception {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 64 * 1024, false);
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();
    HttpHead head = head("X-Big", "b".repeat(40_000));

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head, ""));

    done.get(1, TimeUnit.SECONDS);
    assertThat(endPoint.takeOutputString()).isEqualTo(head.toString());
  }

  @Test
  void aClosedEndPointFailsTheWriteAndKeepsNothing() {
    ByteArrayEndPoint endPoint = new ByteArrayEndPoint(new byte[0], 1024, false);
    endPoint.close();
    HeadWrite write = new HeadWrite(endPoint, pool);
    CompletableFuture<Void> done = new CompletableFuture<>();

    write.write(Callback.from(() -> done.complete(null), done::completeExceptionally), filled(write, head(), ""));

    assertThat(done).isCompletedExceptionally();
  }
}
