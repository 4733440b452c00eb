package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * One address block, {@code 10.0.0.0/8} or {@code 2001:db8::/32}; a bare address is a block of one.
 * Used for trusted proxies and for the {@code sourceIp} condition of listener rules.
 */
public final class Cidr {
  private final byte[] network;
  private final int prefix;
  private final String text;

  private Cidr(byte[] network, int prefix, String text) {
    this.network = network;
    this.prefix = prefix;
    this.text = text;
  }

  /**
   * Reads {@code address[/prefix]}. Refuses host bits set below the prefix ({@code 10.0.0.1/8}): such a
   * block is most often a typo for another one, and trusting the wrong block is a security hole.
   */
  static Cidr parse(String text) {
    return parse("trusted proxy", text);
  }

  /**
   * Reads {@code address[/prefix]}, refusing host bits below the prefix as above; {@code what} names the
   * setting in messages ({@code "sourceIp"}, {@code "trusted proxy"}), so an error reads right wherever
   * the block was written.
   */
  public static Cidr parse(String what, String text) {
    requireNonNull(what, "what");
    requireNonNull(text, "text");
    String trimmed = text.strip();
    int slash = trimmed.indexOf('/');
    String addressText = slash < 0 ? trimmed : trimmed.substring(0, slash);
    InetAddress address = IpLiteral.parse(addressText);
    if (address == null) {
      throw new IllegalArgumentException(what + " must be an IPv4 or IPv6 address with an optional /prefix"
          + " (e.g. 10.0.0.0/8, 2001:db8::/32, 127.0.0.1), got \"" + text + "\"");
    }
    byte[] bytes = address.getAddress();
    int max = bytes.length * 8;
    int prefix = max;
    if (slash >= 0) {
      String prefixText = trimmed.substring(slash + 1);
      prefix = prefixText.matches("[0-9]{1,3}") ? Integer.parseInt(prefixText) : -1;
      if (prefix < 0 || prefix > max) {
        throw new IllegalArgumentException(what + " prefix must be between 0 and " + max + " for "
            + (address instanceof Inet4Address ? "IPv4" : "IPv6") + ", got \"" + text + "\"");
      }
    }
    for (int bit = prefix; bit < max; bit++) {
      if ((bytes[bit / 8] & (0x80 >>> (bit % 8))) != 0) {
        byte[] masked = mask(bytes, prefix);
        String network;
        try {
          network = InetAddress.getByAddress(masked).getHostAddress();
        } catch (java.net.UnknownHostException e) {
          throw new IllegalStateException(e);
        }
        throw new IllegalArgumentException(what + " \"" + text + "\" has host bits set below its /" + prefix
            + " prefix; write the block as " + network + "/" + prefix + " or the one address as " + addressText);
      }
    }
    return new Cidr(bytes, prefix, address.getHostAddress() + "/" + prefix);
  }

  private static byte[] mask(byte[] bytes, int prefix) {
    byte[] masked = bytes.clone();
    for (int bit = prefix; bit < masked.length * 8; bit++) {
      masked[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    return masked;
  }

  /** Whether {@code address} lies in this block; IPv4 blocks hold only IPv4 addresses, IPv6 ones only IPv6. */
  public boolean contains(byte[] address) {
    requireNonNull(address, "address");
    if (address.length != network.length) {
      return false;
    }
    int whole = prefix / 8;
    for (int i = 0; i < whole; i++) {
      if (address[i] != network[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int m = (0xFF00 >>> rest) & 0xFF;
    return (address[whole] & m) == (network[whole] & m);
  }

  /** Whether {@code address} lies in this block. */
  public boolean contains(InetAddress address) {
    requireNonNull(address, "address");
    return contains(address.getAddress());
  }

  @Override
  public String toString() {
    return text;
  }
}
