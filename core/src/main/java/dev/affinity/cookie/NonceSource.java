package dev.affinity.cookie;

import java.security.SecureRandom;

/**
 * 96-bit GCM nonces without a system call per cookie: each thread starts at a random point of the
 * 2^96 space and counts up, so a thread never repeats a nonce and two threads (or two balancer
 * instances sharing a key) collide only if their random starts land within each other's range.
 */
final class NonceSource {
  private static final SecureRandom SEEDS = new SecureRandom();
  private static final ThreadLocal<long[]> STATE = ThreadLocal.withInitial(() -> {
    synchronized (SEEDS) {
      return new long[] {SEEDS.nextInt() & 0xFFFFFFFFL, SEEDS.nextLong()};
    }
  });

  private NonceSource() {}

  static void next(byte[] out, int offset) {
    long[] state = STATE.get();
    if (++state[1] == 0) {
      state[0] = (state[0] + 1) & 0xFFFFFFFFL;
    }
    int high = (int) state[0];
    long low = state[1];
    out[offset] = (byte) (high >>> 24);
    out[offset + 1] = (byte) (high >>> 16);
    out[offset + 2] = (byte) (high >>> 8);
    out[offset + 3] = (byte) high;
    for (int i = 0; i < 8; i++) {
      out[offset + 4 + i] = (byte) (low >>> (56 - 8 * i));
    }
  }
}
