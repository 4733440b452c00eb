package dev.affinity.bench;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The same four codec operations as {@link CodecBenchmark}, timed by the thread's CPU time instead of
 * the wall clock. On a shared machine where other processes compete for the cores, JMH's average time
 * includes the time this thread waited to run; CPU time does not. Use JMH on an idle machine; use this
 * to read a busy one.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.affinity.bench.CodecCpuTime</pre>
 */
public final class CodecCpuTime {
  private static final String NAME = "AFFINITY";
  private static final int OPS = 500_000;
  private static final int ROUNDS = 8;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static volatile Object sink;

  private CodecCpuTime() {}

  @FunctionalInterface
  private interface Operation {
    Object run(int i) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    Keyring keyring = Keyring.builder().addKey("2026-11", new byte[32]).addKey("2026-10", new byte[32]).build();
    Clock clock = Clock.systemUTC();
    AffinityCookieCodec uncached = AffinityCookieCodec.builder().keyring(keyring).clock(clock).cacheMaximumSize(0).build();
    AffinityCookieCodec cached = AffinityCookieCodec.builder().keyring(keyring).clock(clock).build();
    AffinityCookies cookies = AffinityCookies.of(cached, CookiePolicy.defaults());
    Instant now = clock.instant();
    AffinityTicket ticket = AffinityTicket.of("10.0.3.17:8080", "web", now, now.plus(Duration.ofHours(1)));
    String[] values = new String[1024];
    for (int i = 0; i < values.length; i++) {
      values[i] = uncached.seal(NAME, AffinityTicket.of("10.0.3." + i % 250 + ":8080", "web", now, now.plus(Duration.ofHours(1))));
    }
    CookieSource request = CookieSource.of(Map.of("_ga", "GA1.2.1234567890.1234567890", NAME, values[0], "lang", "en"));
    Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
    SecretKeySpec key = new SecretKeySpec(new byte[32], "AES");
    byte[] plaintext = new byte[37];
    byte[] output = new byte[plaintext.length + 16];
    byte[] aad = new byte[20];
    byte[] nonce = new byte[12];

    Operation[] operations = {
        i -> cached.seal(NAME, ticket),
        i -> uncached.open(NAME, values[i & 1023]),
        i -> cached.open(NAME, values[0]),
        i -> cookies.read(request, NAME),
        i -> {
          for (int b = 0; b < nonce.length && ++nonce[b] == 0; b++) {
            // carry
          }
          cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
          cipher.updateAAD(aad);
          return cipher.doFinal(plaintext, 0, plaintext.length, output, 0);
        },
    };
    String[] names = {"seal", "openMiss", "openHit", "readHit", "jdkAesGcmOnly"};
    long[][] nanosPerOp = new long[operations.length][ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
      for (int op = 0; op < operations.length; op++) {
        long start = THREADS.getCurrentThreadCpuTime();
        for (int i = 0; i < OPS; i++) {
          sink = operations[op].run(i);
        }
        nanosPerOp[op][round] = (THREADS.getCurrentThreadCpuTime() - start) * 1000 / OPS; // picoseconds
      }
    }
    System.out.printf("CPU time per operation, %d rounds of %d ops after %d warm-up rounds (median, min..max), us/op%n",
        ROUNDS - 3, OPS, 3);
    for (int op = 0; op < operations.length; op++) {
      long[] measured = java.util.Arrays.copyOfRange(nanosPerOp[op], 3, ROUNDS);
      java.util.Arrays.sort(measured);
      System.out.printf("%-14s %.3f  (%.3f..%.3f)%n", names[op], measured[measured.length / 2] / 1e6,
          measured[0] / 1e6, measured[measured.length - 1] / 1e6);
    }
  }
}
