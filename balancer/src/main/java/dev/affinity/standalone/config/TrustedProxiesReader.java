package dev.affinity.standalone.config;

import dev.affinity.balancer.TrustedProxies;

/**
 * {@code trustedProxies: [cidr, ...]} (DESIGN's shorthand: X-Forwarded-For, recursive) or
 * {@code trustedProxies: { cidrs: [...], header: X-Forwarded-For | Forwarded, recursive: true | false }}.
 * Core checks each block; its message is reported at the block's line.
 */
final class TrustedProxiesReader {
  static final Schema SCHEMA = Schema.keys("cidrs", "header", "recursive");

  private TrustedProxiesReader() {}

  static TrustedProxies read(YamlNode node) {
    TrustedProxies.Builder builder = TrustedProxies.builder();
    if (node.isMap()) {
      YamlNode.Mapping s = node.map(SCHEMA);
      cidrs(s.required("cidrs", "a list of IPv4 or IPv6 addresses or blocks, such as [ 10.0.0.0/8 ]"), builder);
      if (s.has("header")) {
        YamlNode h = s.get("header");
        try {
          builder.header(TrustedProxies.Header.named(h.string().trim()));
        } catch (IllegalArgumentException e) {
          throw h.error("must be X-Forwarded-For or Forwarded, got " + YamlNode.quote(h.string()));
        }
      }
      if (s.has("recursive")) {
        builder.recursive(s.get("recursive").bool());
      }
    } else {
      cidrs(node, builder);
    }
    return builder.build();
  }

  private static void cidrs(YamlNode list, TrustedProxies.Builder builder) {
    for (YamlNode item : list.list()) {
      try {
        builder.cidr(item.string());
      } catch (IllegalArgumentException e) {
        throw item.error(e.getMessage());
      }
    }
  }
}
