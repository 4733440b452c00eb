package dev.affinity.standalone.config;

import java.util.regex.Pattern;

/** {@code listen: { host, port, http2, tls: { keystore, password } }}. */
final class ListenReader {
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._:%\\[\\]-]{1,253}");
  static final Schema TLS = Schema.keys("keystore", "password");
  static final Schema SCHEMA = Schema.keys("host", "port", "http2", "tls").map("tls", TLS);

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
    boolean http2 = s.has("http2") ? s.get("http2").bool() : Listen.DEFAULT_HTTP2;
    TlsConfig tls = s.has("tls") ? tls(s.get("tls")) : null;
    return new Listen(host, port, tls, http2);
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
