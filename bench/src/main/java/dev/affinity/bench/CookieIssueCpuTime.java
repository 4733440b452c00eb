package dev.affinity.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * {@link CookieIssueBenchmark}'s operations timed by the thread's CPU time rather than the wall clock,
 * as {@link CodecCpuTime} does for the codec: on a shared machine JMH's average counts the time the
 * thread waited for a core, CPU time does not (it still feels the caches other processes share).
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.affinity.bench.CookieIssueCpuTime</pre>
 */
public final class CookieIssueCpuTime {
  private static final int OPS = 500_000;
  private static final int ROUNDS = 8;
  private static final int WARMUP_ROUNDS = 3;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static volatile Object sink;

  private CookieIssueCpuTime() {}

  public static void main(String[] args) {
    System.out.printf("CPU time per operation, %d rounds of %d ops after %d warm-up rounds (median, min..max), ns/op%n",
        ROUNDS - WARMUP_ROUNDS, OPS, WARMUP_ROUNDS);
    for (boolean sealReuse : new boolean[] {true, false}) {
      CookieIssueBenchmark b = new CookieIssueBenchmark();
      b.sealReuse = sealReuse;
      b.setUp();
      String[] names = {"stickyHit", "staleSlidingCookie", "staleSlidingRefresh", "newClient"};
      Supplier<?>[] operations = {b::stickyHit, b::staleSlidingCookie, b::staleSlidingRefresh, b::newClient};
      long[][] picosPerOp = new long[operations.length][ROUNDS];
      for (int round = 0; round < ROUNDS; round++) {
        for (int op = 0; op < operations.length; op++) {
          long start = THREADS.getCurrentThreadCpuTime();
          for (int i = 0; i < OPS; i++) {
            sink = operations[op].get();
          }
          picosPerOp[op][round] = (THREADS.getCurrentThreadCpuTime() - start) * 1000 / OPS;
        }
      }
      for (int op = 0; op < operations.length; op++) {
        long[] measured = Arrays.copyOfRange(picosPerOp[op], WARMUP_ROUNDS, ROUNDS);
        Arrays.sort(measured);
        System.out.printf("sealReuse=%-5s %-20s %8.1f  (%.1f..%.1f)%n", sealReuse, names[op], measured[measured.length / 2] / 1e3,
            measured[0] / 1e3, measured[measured.length - 1] / 1e3);
      }
    }
  }
}
