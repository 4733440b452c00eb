package dev.affinity.jetty;

import dev.affinity.balancer.Forwarder;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.Trailers;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Whether an HTTP/2 client's request carries a body. Jetty 12 gives a request whose HEADERS frame
 * ended the stream a length of -1, like one whose DATA frames are still to come (see
 * {@code Http2Test}); only a read tells them apart: the first returns the end at once. Without this, no
 * HTTP/2 request was bodyless, so none was replayable (no failover of an idempotent request) and none
 * could take the direct relay: every h2 stream went through {@code HttpClient}.
 *
 * <p>The read is done only for what could then be replayed ({@link Forwarder#isReplayable}: a
 * {@code POST} or a gRPC call is not read ahead, its path is the same either way), and never for a
 * request that expects {@code 100 Continue}: Jetty sends it on the first read, and the balancer lets
 * the target decide. A chunk read that is not the end (a {@code PUT} whose first DATA frame had
 * arrived) is given back first to whoever reads the request's body next, through {@link ReadAhead}.
 */
final class Http2Bodies {
  private Http2Bodies() {}

  /** Whether {@code request} is one to read ahead: HTTP/2, of unknown length, a method that may be replayed, no {@code Expect}. */
  static boolean mayReadAhead(Request request) {
    return request.getLength() < 0
        && request.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_2
        && Forwarder.isReplayable(request.getMethod(), true)
        && !request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString());
  }

  /** Whether a first read says the request has no body: its end, with no content, no trailers and no failure. */
  static boolean isEmptyEnd(Content.Chunk first) {
    return first != null && first.isLast() && !first.hasRemaining() && !Content.Chunk.isFailure(first)
        && !(first instanceof Trailers);
  }

  /** The client's request with the chunk read ahead of it given back first. */
  static final class ReadAhead extends Request.Wrapper {
    private Content.Chunk first;

    ReadAhead(Request request, Content.Chunk first) {
      super(request);
      this.first = first;
    }

    @Override
    public Content.Chunk read() {
      synchronized (this) {
        Content.Chunk chunk = first;
        if (chunk != null) {
          first = null;
          return chunk;
        }
      }
      return super.read();
    }

    @Override
    public void demand(Runnable demandCallback) {
      boolean ready;
      synchronized (this) {
        ready = first != null;
      }
      if (ready) {
        // Something to read already: as Jetty does when content is waiting, the callback runs at once.
        demandCallback.run();
      } else {
        super.demand(demandCallback);
      }
    }

    @Override
    public boolean consumeAvailable() {
      Content.Chunk chunk;
      synchronized (this) {
        chunk = first;
        first = null;
      }
      if (chunk != null) {
        chunk.release();
      }
      return super.consumeAvailable();
    }
  }
}
