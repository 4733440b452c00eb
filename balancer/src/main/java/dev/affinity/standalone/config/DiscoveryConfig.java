package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * A target group's {@code discovery:}: its targets are what a DNS name answers.
 *
 * @param dns the name asked, lower case, without the trailing dot
 * @param type which records: {@code A} or {@code AAAA} (addresses, with {@link #port}) or {@code SRV} (their own ports)
 * @param port the targets' port for {@code A}/{@code AAAA}; 0 for {@code SRV}
 * @param scheme {@code http} or {@code https}, the discovered targets' URI scheme
 * @param interval the longest time between two queries (a shorter TTL asks sooner)
 * @param timeout how long each resolver is given to answer
 * @param resolvers asked in order; empty: the system's (from {@code /etc/resolv.conf})
 * @param holdNx how long an NXDOMAIN or empty answer must last before the discovered targets are removed
 */
public record DiscoveryConfig(String dns, Type type, int port, String scheme, Duration interval, Duration timeout,
    List<InetSocketAddress> resolvers, Duration holdNx) {
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
  public static final Duration DEFAULT_HOLD_NX = Duration.ofSeconds(30);

  /** The record type asked for. */
  public enum Type { A, AAAA, SRV }

  public DiscoveryConfig {
    requireNonNull(dns, "dns");
    requireNonNull(type, "type");
    requireNonNull(scheme, "scheme");
    requireNonNull(interval, "interval");
    requireNonNull(timeout, "timeout");
    resolvers = List.copyOf(requireNonNull(resolvers, "resolvers"));
    requireNonNull(holdNx, "holdNx");
    if (type == Type.SRV ? port != 0 : port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be 1-65535 for " + type + " records and 0 for SRV, got " + port);
    }
  }
}
