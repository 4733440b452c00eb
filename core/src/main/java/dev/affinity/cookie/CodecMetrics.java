package dev.affinity.cookie;

/**
 * What the codec reports as it works. Implementations must be cheap and thread-safe: these calls
 * sit on the request path.
 */
public interface CodecMetrics {

  void sealed();

  /** A value opened; {@code cached} when no cryptography was needed. */
  void opened(boolean cached);

  void rejected(Rejection reason);

  static CodecMetrics noop() {
    return NoopCodecMetrics.INSTANCE;
  }

  /** Counters kept in memory, readable at any time. */
  static CodecCounters counting() {
    return new CodecCounters();
  }
}

enum NoopCodecMetrics implements CodecMetrics {
  INSTANCE;

  @Override
  public void sealed() {}

  @Override
  public void opened(boolean cached) {}

  @Override
  public void rejected(Rejection reason) {}
}
