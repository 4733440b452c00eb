package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * What one client may cost the balancer: how long a connection may idle or take over a request's
 * head, how many connections and threads there are, how big a request's head and body may be, and
 * how many HTTP/2 streams one connection may have open. The YAML's {@code limits:}; the defaults are
 * the configuration reference's.
 */
public final class Limits {
  /** Sharded affinity cookies (up to 16 KB by default) need more than Jetty's 8 KB for request headers. */
  public static final int DEFAULT_MAX_REQUEST_HEADER_BYTES = 32 * 1024;
  /** Streams one HTTP/2 connection may have open at once (Jetty's default). */
  public static final int DEFAULT_H2_MAX_CONCURRENT_STREAMS = 128;
  public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
  /**
   * The pool's size unless set: {@link #defaultThreads(int) eight per CPU the JVM may use, 32 to 200}.
   * Requests never block a thread on a target, so the pool only needs room for the selectors, the
   * connects being started and short bursts of dispatch; with Jetty's generic 200 a balancer on one CPU
   * grew to 36-45 threads under 50 busy connections and past 100 in a burst of new ones, all taking
   * turns on that one CPU.
   */
  public static final int DEFAULT_THREADS = defaultThreads(Runtime.getRuntime().availableProcessors());
  /** {@link #defaultThreads(int)}'s floor and ceiling. */
  static final int MIN_DEFAULT_THREADS = 32;
  static final int MAX_DEFAULT_THREADS = 200;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_REQUEST_HEADER_TIMEOUT = Duration.ofSeconds(10);
  /** {@link #maxRequestBodyBytes()} when request bodies of any size are passed on, the default (as on ALB). */
  public static final long NO_BODY_LIMIT = dev.affinity.balancer.Forwarder.NO_BODY_LIMIT;

  private static final Limits DEFAULTS = builder().build();

  private final Duration idleTimeout;
  private final Duration requestHeaderTimeout;
  private final int maxConnections;
  private final int maxRequestHeaderBytes;
  private final long maxRequestBodyBytes;
  private final int threads;
  private final int h2MaxConcurrentStreams;

  private Limits(Builder b) {
    this.idleTimeout = b.idleTimeout;
    this.requestHeaderTimeout = b.requestHeaderTimeout;
    this.maxConnections = b.maxConnections;
    this.maxRequestHeaderBytes = b.maxRequestHeaderBytes;
    this.maxRequestBodyBytes = b.maxRequestBodyBytes;
    this.threads = b.threads;
    this.h2MaxConcurrentStreams = b.h2MaxConcurrentStreams;
  }

  /**
   * The default pool size for {@code cpus} CPUs: 8 per CPU, at least {@value #MIN_DEFAULT_THREADS} (the
   * selectors, acceptors and reserved threads take some before any request, and connects to targets are
   * started on pool threads), at most {@value #MAX_DEFAULT_THREADS} (Jetty's own default).
   */
  public static int defaultThreads(int cpus) {
    if (cpus < 1) {
      throw new IllegalArgumentException("cpus must be at least 1, got " + cpus);
    }
    return (int) Math.min(MAX_DEFAULT_THREADS, Math.max(MIN_DEFAULT_THREADS, 8L * cpus));
  }

  public static Limits defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these limits. */
  public Builder toBuilder() {
    return new Builder()
        .idleTimeout(idleTimeout)
        .requestHeaderTimeout(requestHeaderTimeout)
        .maxConnections(maxConnections)
        .maxRequestHeaderBytes(maxRequestHeaderBytes)
        .maxRequestBodyBytes(maxRequestBodyBytes)
        .threads(threads)
        .h2MaxConcurrentStreams(h2MaxConcurrentStreams);
  }

  /** How long a client connection may sit idle between reads and writes before it is closed. */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  /**
   * How long an HTTP/1 request's head (request line and headers) may take in total, from its first
   * byte; the idle timeout restarts on every byte, so without this a client trickling a header byte
   * at a time (slowloris) would hold its connection for ever. As HAProxy's {@code timeout http-request}.
   */
  public Duration requestHeaderTimeout() {
    return requestHeaderTimeout;
  }

  /** Client connections open at once over all listeners; past it the balancer stops accepting until one closes. */
  public int maxConnections() {
    return maxConnections;
  }

  /** The largest request head accepted (request line and headers, or an HTTP/2 header list); larger is {@code 431}. */
  public int maxRequestHeaderBytes() {
    return maxRequestHeaderBytes;
  }

  /** The largest request body passed on to a target; larger is {@code 413}. {@link #NO_BODY_LIMIT} by default. */
  public long maxRequestBodyBytes() {
    return maxRequestBodyBytes;
  }

  /** The most threads of the balancer's pool. */
  public int threads() {
    return threads;
  }

  /** Streams one HTTP/2 client connection may have open at once. */
  public int h2MaxConcurrentStreams() {
    return h2MaxConcurrentStreams;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Limits other
        && idleTimeout.equals(other.idleTimeout)
        && requestHeaderTimeout.equals(other.requestHeaderTimeout)
        && maxConnections == other.maxConnections
        && maxRequestHeaderBytes == other.maxRequestHeaderBytes
        && maxRequestBodyBytes == other.maxRequestBodyBytes
        && threads == other.threads
        && h2MaxConcurrentStreams == other.h2MaxConcurrentStreams;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(idleTimeout, requestHeaderTimeout, maxConnections, maxRequestHeaderBytes, maxRequestBodyBytes,
        threads, h2MaxConcurrentStreams);
  }

  @Override
  public String toString() {
    return "Limits{idleTimeout=" + idleTimeout + ", requestHeaderTimeout=" + requestHeaderTimeout + ", maxConnections=" + maxConnections
        + ", maxRequestHeaderBytes=" + maxRequestHeaderBytes
        + ", maxRequestBodyBytes=" + (maxRequestBodyBytes == NO_BODY_LIMIT ? "none" : Long.toString(maxRequestBodyBytes))
        + ", threads=" + threads + ", h2MaxConcurrentStreams=" + h2MaxConcurrentStreams + "}";
  }

  /** Each setter checks its value as it is set and names it when it is refused. */
  public static final class Builder {
    private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
    private Duration requestHeaderTimeout = DEFAULT_REQUEST_HEADER_TIMEOUT;
    private int maxConnections = DEFAULT_MAX_CONNECTIONS;
    private int maxRequestHeaderBytes = DEFAULT_MAX_REQUEST_HEADER_BYTES;
    private long maxRequestBodyBytes = NO_BODY_LIMIT;
    private int threads = DEFAULT_THREADS;
    private int h2MaxConcurrentStreams = DEFAULT_H2_MAX_CONCURRENT_STREAMS;

    private Builder() {
    }

    public Builder idleTimeout(Duration idleTimeout) {
      this.idleTimeout = positive(idleTimeout, "idleTimeout");
      return this;
    }

    public Builder requestHeaderTimeout(Duration requestHeaderTimeout) {
      this.requestHeaderTimeout = positive(requestHeaderTimeout, "requestHeaderTimeout");
      return this;
    }

    public Builder maxConnections(int maxConnections) {
      if (maxConnections < 1) {
        throw new IllegalArgumentException("maxConnections must be at least 1, got " + maxConnections);
      }
      this.maxConnections = maxConnections;
      return this;
    }

    /** At least 1 KiB: no browser request fits in less. */
    public Builder maxRequestHeaderBytes(int maxRequestHeaderBytes) {
      if (maxRequestHeaderBytes < 1024) {
        throw new IllegalArgumentException("maxRequestHeaderBytes must be at least 1024, got " + maxRequestHeaderBytes);
      }
      this.maxRequestHeaderBytes = maxRequestHeaderBytes;
      return this;
    }

    /** 0 refuses every body; {@link #NO_BODY_LIMIT} passes any. */
    public Builder maxRequestBodyBytes(long maxRequestBodyBytes) {
      if (maxRequestBodyBytes < 0) {
        throw new IllegalArgumentException("maxRequestBodyBytes must not be negative, got " + maxRequestBodyBytes);
      }
      this.maxRequestBodyBytes = maxRequestBodyBytes;
      return this;
    }

    /** At least 8: Jetty's acceptors and selectors take some of the pool before any request runs. */
    public Builder threads(int threads) {
      if (threads < 8) {
        throw new IllegalArgumentException("threads must be at least 8, got " + threads);
      }
      this.threads = threads;
      return this;
    }

    public Builder h2MaxConcurrentStreams(int h2MaxConcurrentStreams) {
      if (h2MaxConcurrentStreams < 1) {
        throw new IllegalArgumentException("h2MaxConcurrentStreams must be at least 1, got " + h2MaxConcurrentStreams);
      }
      this.h2MaxConcurrentStreams = h2MaxConcurrentStreams;
      return this;
    }

    public Limits build() {
      return new Limits(this);
    }

    private static Duration positive(Duration value, String name) {
      requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, got " + value);
      }
      return value;
    }
  }
}
