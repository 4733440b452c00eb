package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Jetty's {@link QueuedThreadPool}, plus one shortcut for the balancer's direct relay: when a relayed
 * answer has gone to the client, the client's connection carries on (looks for its next request) on
 * the same thread instead of being handed to another one.
 *
 * <p>Why: Jetty's HTTP/1 connection, when a response completes outside the thread that parsed the
 * request, always hands itself to the pool to look for a pipelined request. For a proxy whose answer
 * arrives on the selector thread that is every request, and the hand-off (waking a parked thread that
 * then finds nothing to read) cost about a fifth of the CPU per request in a profile. Running it in
 * place is what the woken thread would do, and it is safe because the balancer only asks for it when
 * the server's handlers are all non-blocking ({@link AffinityBalancer#getInvocationType()}).
 *
 * <p>Used by the standalone launcher; for an embedded balancer, pass one to {@code new Server(pool)}.
 * With any other pool the balancer works the same, with that one hand-off per request.
 */
public class AffinityThreadPool extends QueuedThreadPool {
  /** Threads a client's pool ({@link #forClient}) keeps while idle: its selector's, and one to run what it reads. */
  public static final int CLIENT_MIN_THREADS = 2;

  private static final ThreadLocal<Boolean> COMPLETING = new ThreadLocal<>();
  private final LongAdder resumedInPlace = new LongAdder();

  public AffinityThreadPool(int maxThreads) {
    super(maxThreads);
  }

  /**
   * A pool for a client of the balancer's that carries little (the health checker's probes): up to
   * Jetty's 200 threads when busy, {@value #CLIENT_MIN_THREADS} when idle, instead of Jetty's 8.
   */
  public static QueuedThreadPool forClient(String name) {
    QueuedThreadPool pool = new QueuedThreadPool(200, CLIENT_MIN_THREADS);
    pool.setName(requireNonNull(name, "name"));
    return pool;
  }

  /** Runs a relayed exchange's completion; a client connection it resumes runs here too. */
  static void completing(Runnable completion) {
    COMPLETING.set(Boolean.TRUE);
    try {
      completion.run();
    } finally {
      COMPLETING.remove();
    }
  }

  @Override
  public void execute(Runnable job) {
    if (COMPLETING.get() != null && JettyInternals.isHttp1ConnectionResume(job)) {
      // Only the first resume: anything the resumed connection completes in turn is dispatched as usual.
      COMPLETING.remove();
      resumedInPlace.increment();
      job.run();
      return;
    }
    super.execute(job);
  }

  /** How many client connections carried on in place after a relayed answer (instead of a hand-off to another thread). */
  public long resumedInPlace() {
    return resumedInPlace.sum();
  }
}
