package dev.affinity.standalone.config;

import java.util.regex.Pattern;

/** {@code listen: { host, port, tls: { keystore, password }, proxyProtocol }}. */
final class ListenReader {
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._:%\\[\\]-]{1,253}");
  static final Schema TLS = Schema.keys("keystore", "password");
  static final Schema SCHEMA = Schema.keys("host", "port", "tls", "proxyProtocol").map("tls", TLS);

  private ListenReader() {}

  static Listen read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    String host = Listen.DEFAULT_HOST;
    if (s.has("host")) {
      YamlNode h = s.get("host");
      host = h.string();
      if (!HOST.matcher(host).matches()) {
        throw h.error("must be a host name or IP address to bind, got " + YamlNode.quote(host));
      }
    }
    int port = s.has("port") ? s.get("port").integer(0, 65535) : Listen.DEFAULT_PORT;
    TlsConfig tls = s.has("tls") ? tls(s.get("tls")) : null;
    // Whether anybody may send a PROXY header is checked with trustedProxies (BalancerConfigLoader).
    boolean proxyProtocol = s.has("proxyProtocol") && s.get("proxyProtocol").bool();
    return new Listen(host, port, tls, proxyProtocol);
  }

  private static TlsConfig tls(YamlNode node) {
    YamlNode.Mapping t = node.map(TLS);
    YamlNode keystoreNode = t.required("keystore", "the path of a PKCS#12 or JKS key store");
    String keystore = keystoreNode.string();
    if (keystore.isBlank()) {
      throw keystoreNode.error("must be the path of a key store, got an empty string");
    }
    String password = t.required("password", "the key store password").string();
    return new TlsConfig(keystore, password);
  }
}
