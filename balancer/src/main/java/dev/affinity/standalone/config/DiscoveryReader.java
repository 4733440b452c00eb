package dev.affinity.standalone.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.xbill.DNS.Address;
import org.xbill.DNS.Name;
import org.xbill.DNS.TextParseException;

/**
 * {@code targetGroups[].discovery: { dns, type, port, scheme, interval, timeout, resolvers, hold: { nx } }}.
 * Nothing is asked at load: a name that does not resolve yet is a state of the world, not a bad file.
 */
final class DiscoveryReader {
  static final Schema HOLD = Schema.keys("nx");
  static final Schema SCHEMA = Schema.keys("dns", "type", "port", "scheme", "interval", "timeout", "resolvers", "hold")
      .map("hold", HOLD);
  private static final Duration MIN_INTERVAL = Duration.ofSeconds(1);
  private static final Duration MAX_INTERVAL = Duration.ofHours(1);
  private static final Duration MIN_TIMEOUT = Duration.ofMillis(10);
  private static final Duration MAX_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration MAX_HOLD_NX = Duration.ofDays(1);
  private static final int MAX_RESOLVERS = 8;

  private DiscoveryReader() {}

  static DiscoveryConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    String dns = name(s.required("dns", "the DNS name to ask, such as api.service.internal"));
    DiscoveryConfig.Type type = s.has("type") ? type(s.get("type")) : DiscoveryConfig.Type.A;
    int port = 0;
    if (type == DiscoveryConfig.Type.SRV) {
      if (s.has("port")) {
        throw s.get("port").error("is refused with type SRV: each SRV record names its target's port");
      }
    } else {
      port = s.required("port", "the targets' port, as " + type + " records carry none").integer(1, 65535);
    }
    String scheme = "http";
    if (s.has("scheme")) {
      YamlNode n = s.get("scheme");
      scheme = n.string().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw n.error("must be http or https, got " + YamlNode.quote(n.string()));
      }
    }
    Duration interval = s.has("interval")
        ? s.get("interval").duration(MIN_INTERVAL, MAX_INTERVAL, "must be between PT1S and 1 hour (PT1H)")
        : DiscoveryConfig.DEFAULT_INTERVAL;
    Duration timeout = DiscoveryConfig.DEFAULT_TIMEOUT;
    if (s.has("timeout")) {
      timeout = s.get("timeout").duration(MIN_TIMEOUT, MAX_TIMEOUT, "must be between PT0.01S and PT30S");
    }
    if (timeout.compareTo(interval) >= 0) {
      YamlNode at = s.has("timeout") ? s.get("timeout") : s.get("interval");
      throw at.error("timeout (" + timeout + ") must be shorter than interval (" + interval + ")");
    }
    List<InetSocketAddress> resolvers = new ArrayList<>();
    if (s.has("resolvers")) {
      List<YamlNode> entries = s.get("resolvers").list();
      if (entries.isEmpty() || entries.size() > MAX_RESOLVERS) {
        throw s.get("resolvers").error("must list 1-" + MAX_RESOLVERS + " resolvers (leave it out for the system's)");
      }
      for (YamlNode entry : entries) {
        resolvers.add(resolver(entry));
      }
    }
    Duration holdNx = DiscoveryConfig.DEFAULT_HOLD_NX;
    if (s.has("hold")) {
      YamlNode nx = s.get("hold").map(HOLD).required("nx", "how long an NXDOMAIN or empty answer must last, such as PT30S");
      holdNx = nx.duration(Duration.ZERO, MAX_HOLD_NX, "must be between PT0S and 1 day (P1D)");
    }
    return new DiscoveryConfig(dns, type, port, scheme, interval, timeout, resolvers, holdNx);
  }

  private static String name(YamlNode node) {
    String text = node.string().trim();
    try {
      Name name = Name.fromString(text, Name.root);
      if (name.labels() < 2) {
        throw node.error(YamlNode.quote(text) + " must be a DNS name with at least one label");
      }
      String absolute = name.toString(true).toLowerCase(Locale.ROOT);
      return absolute;
    } catch (TextParseException e) {
      throw node.error(YamlNode.quote(text) + " is not a DNS name (" + e.getMessage() + ")");
    }
  }

  private static DiscoveryConfig.Type type(YamlNode node) {
    String value = node.string().toUpperCase(Locale.ROOT);
    return switch (value) {
      case "A" -> DiscoveryConfig.Type.A;
      case "AAAA" -> DiscoveryConfig.Type.AAAA;
      case "SRV" -> DiscoveryConfig.Type.SRV;
      default -> throw node.error("must be one of A, AAAA, SRV, got " + YamlNode.quote(node.string()));
    };
  }

  /**
   * An IP address with an optional port (53): {@code 10.0.0.2}, {@code 10.0.0.2:5353}, {@code [fd00::53]:5353}.
   * A host name is refused: finding the resolver would itself need DNS.
   */
  static InetSocketAddress resolver(YamlNode node) {
    String text = node.string().trim();
    String host = text;
    int port = 53;
    String rule = " must be a resolver's IP address with an optional port: 10.0.0.2, 10.0.0.2:5353 or [fd00::53]:5353";
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0) {
        throw node.error(YamlNode.quote(text) + rule);
      }
      host = text.substring(1, close);
      String rest = text.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw node.error(YamlNode.quote(text) + rule);
        }
        port = port(node, text, rest.substring(1), rule);
      }
    } else if (text.indexOf(':') >= 0 && text.indexOf(':') == text.lastIndexOf(':')) {
      host = text.substring(0, text.indexOf(':'));
      port = port(node, text, text.substring(text.indexOf(':') + 1), rule);
    }
    InetAddress address = literal(host);
    if (address == null) {
      throw node.error(YamlNode.quote(text) + rule);
    }
    return new InetSocketAddress(address, port);
  }

  private static int port(YamlNode node, String text, String digits, String rule) {
    if (!digits.matches("[0-9]{1,5}") || Integer.parseInt(digits) < 1 || Integer.parseInt(digits) > 65535) {
      throw node.error(YamlNode.quote(text) + rule + " (port 1-65535)");
    }
    return Integer.parseInt(digits);
  }

  /** The address {@code host} spells, or null when it is not an IP literal; never a DNS lookup. */
  private static InetAddress literal(String host) {
    for (int family : new int[] {Address.IPv4, Address.IPv6}) {
      byte[] bytes = Address.toByteArray(host, family);
      if (bytes != null) {
        try {
          return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
          return null;
        }
      }
    }
    return null;
  }
}
