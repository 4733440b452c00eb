package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;

/**
 * Who the client is and how it reached the first proxy in front of the balancer, as
 * {@link TrustedProxies#resolve} decided it: the socket's own values for a direct client, the
 * forwarding headers' values when a trusted proxy relayed the request.
 *
 * @param address the client's address
 * @param scheme {@code "http"} or {@code "https"}
 * @param port the port the client connected to (1 to 65535), or -1 when nobody said
 * @param host the host the client asked for ({@code Host}, or {@code X-Forwarded-Host} from a trusted
 *     proxy), or {@code null} when it sent none
 * @param relayed whether the socket's peer is a trusted proxy: its forwarding headers were read, and
 *     are passed on to the target with the balancer's hop appended; otherwise they were ignored and
 *     are dropped
 */
public record ClientOrigin(InetAddress address, String scheme, int port, String host, boolean relayed) {
  public ClientOrigin {
    requireNonNull(address, "address");
    requireNonNull(scheme, "scheme");
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("scheme must be http or https, got \"" + scheme + "\"");
    }
    if (port != -1 && (port < 1 || port > 65535)) {
      throw new IllegalArgumentException("port must be between 1 and 65535 (or -1 for unknown), got " + port);
    }
  }

  /** Whether the client reached the first proxy (or the balancer itself) over TLS: cookies get {@code Secure}. */
  public boolean isSecure() {
    return scheme.equals("https");
  }
}
