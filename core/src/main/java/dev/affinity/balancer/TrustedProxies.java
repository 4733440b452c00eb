package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The proxies (TLS terminators, load balancers) whose word about the client the balancer takes, and
 * the rule that reads it: DESIGN.md "Client address and scheme".
 *
 * <p>A request's socket peer that is not in one of the blocks is the client, whatever its headers
 * say: its {@code X-Forwarded-*} and {@code Forwarded} headers are ignored (and an adapter drops them
 * before forwarding). From a trusted peer, the client is the rightmost address of the chain that is
 * not itself trusted ({@code recursive}, NGINX's {@code real_ip_recursive on}), or simply the
 * rightmost one ({@code recursive(false)}: one trusted hop); when every address of the chain is
 * trusted, the leftmost. The scheme, host and port come from the same proxy. Whatever cannot be read
 * (an address that is not an IP literal, a scheme other than {@code http}/{@code https}, a bad port)
 * counts as absent: the chain stops there, and the client is the last address read before it.
 *
 * <p>Immutable and thread-safe; an adapter holds the current one and swaps it on a reload.
 */
public final class TrustedProxies {
  private static final TrustedProxies NONE = new TrustedProxies(new Cidr[0], Header.X_FORWARDED_FOR, true);

  /** Which header carries the chain of client addresses. */
  public enum Header {
    /** {@code X-Forwarded-For} for the chain, {@code X-Forwarded-Proto}, {@code -Host} and {@code -Port} beside it (the default). */
    X_FORWARDED_FOR("X-Forwarded-For"),
    /** RFC 7239 {@code Forwarded}: the chain from its {@code for=}, scheme and host from the same element. */
    FORWARDED("Forwarded");

    private final String headerName;

    Header(String headerName) {
      this.headerName = headerName;
    }

    /** The header's name as sent on the wire. */
    public String headerName() {
      return headerName;
    }

    /** {@code X-Forwarded-For} or {@code Forwarded}, in any case. */
    public static Header named(String name) {
      requireNonNull(name, "name");
      for (Header h : values()) {
        if (h.headerName.equalsIgnoreCase(name)) {
          return h;
        }
      }
      throw new IllegalArgumentException("trusted proxy header must be X-Forwarded-For or Forwarded, got \"" + name + "\"");
    }
  }

  /** A request's header values as the adapter has them: every line of one header, in order (empty when absent). */
  @FunctionalInterface
  public interface RequestHeaders {
    List<String> values(String name);
  }

  private final Cidr[] cidrs;
  private final Header header;
  private final boolean recursive;

  private TrustedProxies(Cidr[] cidrs, Header header, boolean recursive) {
    this.cidrs = cidrs;
    this.header = header;
    this.recursive = recursive;
  }

  /** Nobody: every peer is the client (the default). */
  public static TrustedProxies none() {
    return NONE;
  }

  /** DESIGN's shorthand {@code trustedProxies: [cidr...]}: these blocks, {@code X-Forwarded-For}, recursive. */
  public static TrustedProxies of(String... cidrs) {
    requireNonNull(cidrs, "cidrs");
    Builder b = builder();
    for (String cidr : cidrs) {
      b.cidr(cidr);
    }
    return b.build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** True when no proxy is trusted: adapters then skip everything but the socket. */
  public boolean isEmpty() {
    return cidrs.length == 0;
  }

  /** The blocks, normalised ({@code 10.0.0.0/8}, {@code 127.0.0.1/32}). */
  public List<String> cidrs() {
    List<String> out = new ArrayList<>(cidrs.length);
    for (Cidr c : cidrs) {
      out.add(c.toString());
    }
    return List.copyOf(out);
  }

  public Header header() {
    return header;
  }

  public boolean recursive() {
    return recursive;
  }

  /** Whether {@code address} lies in one of the blocks; never for {@code null}. */
  public boolean trusts(InetAddress address) {
    if (cidrs.length == 0 || address == null) {
      return false;
    }
    byte[] bytes = address.getAddress();
    for (Cidr c : cidrs) {
      if (c.contains(bytes)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Decides the client's address, scheme, host and port for one request.
   *
   * @param peer the socket's peer (after PROXY protocol, the address the PROXY header gave)
   * @param secureSocket whether the balancer's own socket is TLS
   * @param host the request's {@code Host} (or authority), {@code null} if it sent none
   * @param port the port the request reached the balancer on, or -1
   * @param headers the request's headers; read only when {@code peer} is trusted
   */
  public ClientOrigin resolve(InetAddress peer, boolean secureSocket, String host, int port, RequestHeaders headers) {
    requireNonNull(peer, "peer");
    requireNonNull(headers, "headers");
    String socketScheme = secureSocket ? "https" : "http";
    int socketPort = port >= 1 && port <= 65535 ? port : -1;
    if (!trusts(peer)) {
      return new ClientOrigin(peer, socketScheme, socketPort, host, false);
    }
    return header == Header.FORWARDED
        ? fromForwarded(peer, socketScheme, host, socketPort, headers)
        : fromXForwarded(peer, socketScheme, host, socketPort, headers);
  }

  private ClientOrigin fromXForwarded(InetAddress peer, String socketScheme, String host, int port, RequestHeaders headers) {
    List<String> chain = elements(headers.values("X-Forwarded-For"));
    InetAddress client = peer;
    for (int i = chain.size() - 1; i >= 0; i--) {
      InetAddress hop = IpLiteral.parseWithOptionalPort(chain.get(i));
      if (hop == null) {
        break;
      }
      client = hop;
      if (!recursive || !trusts(hop)) {
        break;
      }
    }
    String scheme = scheme(rightmost(headers.values("X-Forwarded-Proto")));
    String forwardedHost = validHost(rightmost(headers.values("X-Forwarded-Host")));
    int forwardedPort = IpLiteral.portOf(rightmost(headers.values("X-Forwarded-Port")));
    return new ClientOrigin(client, scheme != null ? scheme : socketScheme,
        port(forwardedPort, forwardedHost, scheme, port), forwardedHost != null ? forwardedHost : host, true);
  }

  private ClientOrigin fromForwarded(InetAddress peer, String socketScheme, String host, int port, RequestHeaders headers) {
    List<String> elements = elements(headers.values("Forwarded"), true);
    InetAddress client = peer;
    String[] chosen = null;
    for (int i = elements.size() - 1; i >= 0; i--) {
      String[] element = forwardedElement(elements.get(i));
      InetAddress hop = element == null ? null : IpLiteral.parseWithOptionalPort(element[0]);
      if (hop == null) {
        break;
      }
      client = hop;
      chosen = element;
      if (!recursive || !trusts(hop)) {
        break;
      }
    }
    if (chosen == null) {
      return new ClientOrigin(peer, socketScheme, port, host, true);
    }
    // proto= and host= in an element describe the request that proxy received: the client's own.
    String scheme = scheme(chosen[1]);
    String forwardedHost = validHost(chosen[2]);
    return new ClientOrigin(client, scheme != null ? scheme : socketScheme,
        port(-1, forwardedHost, scheme, port), forwardedHost != null ? forwardedHost : host, true);
  }

  /**
   * The port the client connected to: the one a proxy said, else the one in the host it said, else
   * the default port of the scheme it said, else the balancer's own.
   */
  private static int port(int forwardedPort, String forwardedHost, String forwardedScheme, int socketPort) {
    if (forwardedPort > 0) {
      return forwardedPort;
    }
    int hostPort = IpLiteral.portOfHost(forwardedHost);
    if (hostPort > 0) {
      return hostPort;
    }
    if (forwardedScheme != null) {
      return forwardedScheme.equals("https") ? 443 : 80;
    }
    return socketPort;
  }

  /** {@code http} or {@code https} in any case, lower-cased; {@code null} for anything else. */
  static String scheme(String value) {
    if (value == null) {
      return null;
    }
    String v = value.toLowerCase(Locale.ROOT);
    return v.equals("http") || v.equals("https") ? v : null;
  }

  /**
   * A host as {@code Host} carries it ({@code example.com}, {@code example.com:8443}, {@code [2001:db8::1]:8443}):
   * letters, digits, {@code . - _ : [ ]}, at most 255 characters; {@code null} for anything else, which a
   * target could otherwise take for part of another header or a URL.
   */
  static String validHost(String value) {
    if (value == null || value.isEmpty() || value.length() > 255) {
      return null;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
      if (!ok) {
        return null;
      }
    }
    return value;
  }

  /** A list header's elements over all its lines, in order, trimmed, blanks left out. */
  static List<String> elements(List<String> lines) {
    return elements(lines, false);
  }

  /**
   * A list header's elements over all its lines, in order, trimmed, blanks left out. With
   * {@code quotes} (RFC 7239 {@code Forwarded}), a comma inside a quoted string does not split, and an
   * unterminated quote runs to the end of its line as one (malformed) element: it must stop the chain
   * there, not hide what a trusted proxy appended after it. {@code X-Forwarded-*} have no quoting,
   * so a client's stray quote cannot swallow the entries after it.
   */
  static List<String> elements(List<String> lines, boolean quotes) {
    if (lines == null || lines.isEmpty()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (String line : lines) {
      if (line == null) {
        continue;
      }
      int start = 0;
      boolean quoted = false;
      int n = line.length();
      for (int i = 0; i <= n; i++) {
        if (i == n) {
          add(out, line.substring(start));
          break;
        }
        char c = line.charAt(i);
        if (quoted) {
          if (c == '\\' && i + 1 < n) {
            i++;
          } else if (c == '"') {
            quoted = false;
          }
        } else if (quotes && c == '"') {
          quoted = true;
        } else if (c == ',') {
          add(out, line.substring(start, i));
          start = i + 1;
        }
      }
    }
    return out;
  }

  private static void add(List<String> out, String element) {
    String stripped = element.strip();
    if (!stripped.isEmpty()) {
      out.add(stripped);
    }
  }

  /** The last element of a list header, or {@code null}. */
  static String rightmost(List<String> lines) {
    List<String> all = elements(lines);
    return all.isEmpty() ? null : all.get(all.size() - 1);
  }

  /**
   * One RFC 7239 element's {@code for}, {@code proto} and {@code host} (unquoted), or {@code null}
   * when it is malformed or has no {@code for}: a pair without {@code =}, an unterminated quote, a
   * parameter given twice.
   */
  static String[] forwardedElement(String element) {
    String[] values = new String[3];
    int i = 0;
    int n = element.length();
    while (i < n) {
      int eq = element.indexOf('=', i);
      if (eq < 0) {
        return null;
      }
      String name = element.substring(i, eq).strip().toLowerCase(Locale.ROOT);
      int j = eq + 1;
      String value;
      if (j < n && element.charAt(j) == '"') {
        StringBuilder b = new StringBuilder();
        j++;
        boolean closed = false;
        while (j < n) {
          char c = element.charAt(j++);
          if (c == '\\' && j < n) {
            b.append(element.charAt(j++));
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            b.append(c);
          }
        }
        if (!closed) {
          return null;
        }
        value = b.toString();
        while (j < n && element.charAt(j) != ';') {
          if (!Character.isWhitespace(element.charAt(j))) {
            return null;
          }
          j++;
        }
      } else {
        int semi = element.indexOf(';', j);
        int end = semi < 0 ? n : semi;
        value = element.substring(j, end).strip();
        j = end;
      }
      int slot = switch (name) {
        case "for" -> 0;
        case "proto" -> 1;
        case "host" -> 2;
        default -> -1;
      };
      if (slot >= 0) {
        if (values[slot] != null) {
          return null;
        }
        values[slot] = value;
      }
      i = j + 1;
    }
    return values[0] == null ? null : values;
  }

  /** Equal when they trust the same blocks, in the same order, and read the same header the same way. */
  @Override
  public boolean equals(Object o) {
    return o instanceof TrustedProxies other && header == other.header && recursive == other.recursive
        && cidrs().equals(other.cidrs());
  }

  @Override
  public int hashCode() {
    return cidrs().hashCode() * 31 + header.hashCode() * 2 + (recursive ? 1 : 0);
  }

  @Override
  public String toString() {
    return "TrustedProxies" + Arrays.toString(cidrs) + " header=" + header.headerName() + " recursive=" + recursive;
  }

  /** Fail-fast: each setting is checked as it is set. */
  public static final class Builder {
    private final List<Cidr> cidrs = new ArrayList<>();
    private Header header;
    private Boolean recursive;

    private Builder() {}

    /** A block, {@code 10.0.0.0/8} or {@code 2001:db8::/32}; a bare address is {@code /32} ({@code /128}). */
    public Builder cidr(String cidr) {
      requireNonNull(cidr, "cidr");
      Cidr parsed = Cidr.parse(cidr);
      for (Cidr c : cidrs) {
        if (c.toString().equals(parsed.toString())) {
          throw new IllegalArgumentException("trusted proxy \"" + cidr + "\" is listed twice (as " + c + ")");
        }
      }
      cidrs.add(parsed);
      return this;
    }

    /** Which header carries the chain; default {@link Header#X_FORWARDED_FOR}. */
    public Builder header(Header header) {
      requireNonNull(header, "header");
      if (this.header != null) {
        throw new IllegalStateException("trusted proxy header was already set to " + this.header.headerName());
      }
      this.header = header;
      return this;
    }

    /**
     * {@code true} (the default): the client is the rightmost untrusted address of the chain, so a
     * request may pass several trusted proxies; {@code false}: the rightmost address, whatever it is
     * (exactly one trusted hop in front).
     */
    public Builder recursive(boolean recursive) {
      if (this.recursive != null) {
        throw new IllegalStateException("trusted proxy recursive was already set to " + this.recursive);
      }
      this.recursive = recursive;
      return this;
    }

    public TrustedProxies build() {
      return new TrustedProxies(cidrs.toArray(new Cidr[0]), header == null ? Header.X_FORWARDED_FOR : header,
          recursive == null || recursive);
    }
  }
}
