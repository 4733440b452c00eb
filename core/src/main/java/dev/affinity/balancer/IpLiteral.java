package dev.affinity.balancer;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IP address literals read from configuration and from forwarding headers, without ever asking DNS:
 * {@code InetAddress.getByName} looks up anything that is not a literal, and a header value must
 * never make the balancer resolve a name a client chose.
 */
final class IpLiteral {
  /** The longest IPv6 text, {@code ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255}. */
  private static final int MAX_IPV6_CHARS = 45;

  private IpLiteral() {}

  /**
   * A bare address: dotted-quad IPv4 (no leading zeros, which some parsers read as octal) or IPv6
   * (no zone id, which would name a local interface). {@code null} when it is not exactly that.
   */
  static InetAddress parse(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    return text.indexOf(':') >= 0 ? parseIpv6(text) : parseIpv4(text);
  }

  /**
   * An address as forwarding headers write it, optionally with a port: {@code 192.0.2.1},
   * {@code 192.0.2.1:443}, {@code 2001:db8::1}, {@code [2001:db8::1]}, {@code [2001:db8::1]:443}.
   * {@code null} for anything else ({@code unknown}, an obfuscated {@code _id}, a host name, garbage).
   */
  static InetAddress parseWithOptionalPort(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    if (text.charAt(0) == '[') {
      int close = text.indexOf(']');
      if (close < 0) {
        return null;
      }
      String rest = text.substring(close + 1);
      if (!rest.isEmpty() && !(rest.charAt(0) == ':' && isPort(rest.substring(1)))) {
        return null;
      }
      String inside = text.substring(1, close);
      return inside.indexOf(':') >= 0 ? parseIpv6(inside) : null;
    }
    int colon = text.indexOf(':');
    if (colon >= 0 && colon == text.lastIndexOf(':')) {
      // One colon: IPv4 with a port (an IPv6 address has at least two).
      return isPort(text.substring(colon + 1)) ? parseIpv4(text.substring(0, colon)) : null;
    }
    return parse(text);
  }

  /** 1 to 65535, digits only. */
  static boolean isPort(String text) {
    return portOf(text) > 0;
  }

  /**
   * The port a {@code Host} value ({@code name:port}, {@code [v6]:port}) names, 1 to 65535, or -1 when it
   * names none or not a valid one.
   */
  static int portOfHost(String host) {
    if (host == null) {
      return -1;
    }
    int colon = host.lastIndexOf(':');
    return colon > host.lastIndexOf(']') ? portOf(host.substring(colon + 1)) : -1;
  }

  /** The port 1 to 65535 that {@code text} is (digits only), or -1. */
  static int portOf(String text) {
    if (text == null || text.isEmpty() || text.length() > 5) {
      return -1;
    }
    int port = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      port = port * 10 + (c - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
  }

  private static InetAddress parseIpv4(String text) {
    byte[] bytes = new byte[4];
    int part = 0;
    int value = -1;
    int digits = 0;
    for (int i = 0; i <= text.length(); i++) {
      char c = i < text.length() ? text.charAt(i) : '.';
      if (c == '.') {
        if (digits == 0 || part == 4) {
          return null;
        }
        bytes[part++] = (byte) value;
        value = -1;
        digits = 0;
      } else if (c >= '0' && c <= '9') {
        if (digits == 1 && value == 0) {
          return null; // a leading zero: octal to some parsers, so not one meaning
        }
        value = (value < 0 ? 0 : value * 10) + (c - '0');
        if (++digits > 3 || value > 255) {
          return null;
        }
      } else {
        return null;
      }
    }
    if (part != 4) {
      return null;
    }
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      return null; // cannot happen for 4 bytes
    }
  }

  private static InetAddress parseIpv6(String text) {
    if (text.length() > MAX_IPV6_CHARS) {
      return null;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean allowed = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!allowed) {
        return null;
      }
    }
    try {
      // In brackets the JDK takes the text as an IPv6 literal or refuses it; it never looks it up.
      return InetAddress.getByName("[" + text + "]");
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
