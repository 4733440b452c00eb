package dev.affinity.standalone.config;

import dev.affinity.jetty.ListenerSpec;
import dev.affinity.tls.CertifiedKey;
import dev.affinity.tls.KeyMaterialException;
import dev.affinity.tls.Pem;
import dev.affinity.tls.PemPair;
import dev.affinity.tls.ServerCertificates;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code listen: { host, port, tls, proxyProtocol, http2 }} (the one-listener shorthand) and
 * {@code listeners: [ { host, port, tls, redirectToHttps, proxyProtocol, http2 } ]}. TLS files are read here, once, so
 * that an unreadable file, a PEM file without a certificate or a key that is not its certificate's
 * stops the balancer at load with the line of the key that names it.
 */
final class ListenReader {
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._:%\\[\\]-]{1,253}");
  static final Schema CERTIFICATE = Schema.keys("cert", "key");
  static final Schema TLS = Schema.keys("certificates", "protocols", "clientCa", "clientAuth", "keystore", "password", "provider")
      .listOf("certificates", CERTIFICATE);
  static final Schema SCHEMA = Schema.keys("host", "port", "tls", "proxyProtocol", "http2").map("tls", TLS);
  /** {@code listeners[].rules} has the keys of the top-level {@code rules} (read by {@link RulesReader}). */
  static final Schema LISTENER = Schema.keys("host", "port", "tls", "redirectToHttps", "proxyProtocol", "http2", "rules").map("tls", TLS);

  private ListenReader() {}

  /** {@code listen:}. */
  static Listen read(YamlNode node) {
    return listener(node, SCHEMA, Listen.DEFAULT_PORT);
  }

  /** {@code listeners:}: at least one, ports unique, every redirect to a TLS listener's port. */
  static List<Listen> readList(YamlNode node) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("lists no listener; add { host, port } entries, or remove listeners: to listen on "
          + Listen.DEFAULT_HOST + ":" + Listen.DEFAULT_PORT);
    }
    List<Listen> listeners = new ArrayList<>();
    Map<Integer, Integer> portLines = new HashMap<>();
    List<YamlNode> redirectNodes = new ArrayList<>();
    for (YamlNode entry : entries) {
      Listen listen = listener(entry, LISTENER, null);
      YamlNode.Mapping m = entry.map(LISTENER);
      YamlNode portNode = m.get("port");
      if (listen.port() != 0) {
        Integer first = portLines.putIfAbsent(listen.port(), portNode.line());
        if (first != null) {
          throw portNode.error("port " + listen.port() + " is already used by the listener at line " + first);
        }
      }
      redirectNodes.add(m.get("redirectToHttps"));
      listeners.add(listen);
    }
    for (int i = 0; i < listeners.size(); i++) {
      Integer target = listeners.get(i).redirectToHttps();
      if (target != null && listeners.stream().noneMatch(l -> l.tls() != null && l.port() == target)) {
        throw redirectNodes.get(i).error("must be the port of a TLS listener of this file, got " + target);
      }
    }
    return List.copyOf(listeners);
  }

  /** One listener; {@code defaultPort} null means the port is required. */
  private static Listen listener(YamlNode node, Schema schema, Integer defaultPort) {
    YamlNode.Mapping s = node.map(schema);
    String host = Listen.DEFAULT_HOST;
    if (s.has("host")) {
      YamlNode h = s.get("host");
      host = h.string();
      if (!HOST.matcher(host).matches()) {
        throw h.error("must be a host name or IP address to bind, got " + YamlNode.quote(host));
      }
    }
    int port = defaultPort != null && !s.has("port")
        ? defaultPort
        : s.required("port", "the port to listen on; 0 picks a free one").integer(0, 65535);
    TlsConfig tls = s.has("tls") ? tls(s.get("tls")) : null;
    Integer redirect = null;
    if (s.has("redirectToHttps")) {
      YamlNode r = s.get("redirectToHttps");
      if (tls != null) {
        throw r.error("a listener with tls serves HTTPS itself; redirectToHttps belongs on a plain listener");
      }
      redirect = r.integer(1, 65535);
      if (redirect == port) {
        throw r.error("must be another listener's port, not this listener's own (" + port + ")");
      }
    }
    // Whether anybody may send a PROXY header is checked with trustedProxies (BalancerConfigLoader).
    boolean proxyProtocol = s.has("proxyProtocol") && s.get("proxyProtocol").bool();
    boolean http2 = s.has("http2") ? s.get("http2").bool() : Listen.DEFAULT_HTTP2;
    return new Listen(host, port, tls, redirect, proxyProtocol, http2);
  }

  private static TlsConfig tls(YamlNode node) {
    YamlNode.Mapping t = node.map(TLS);
    boolean pem = t.has("certificates");
    boolean keyStore = t.has("keystore");
    if (pem == keyStore) {
      throw node.error(pem
          ? "give certificates (PEM) or keystore, not both"
          : "needs certificates: [ { cert, key } ] (PEM) or keystore with password");
    }
    List<PemPair> certificates = new ArrayList<>();
    Path keystore = null;
    String password = null;
    Path passwordFile = null;
    if (pem) {
      if (t.has("password")) {
        throw t.get("password").error("goes with keystore; PEM keys are read unencrypted");
      }
      YamlNode list = t.get("certificates");
      List<YamlNode> entries = list.list();
      if (entries.isEmpty()) {
        throw list.error("lists no certificate; add { cert: CHAIN.pem, key: KEY.pem }");
      }
      for (YamlNode entry : entries) {
        certificates.add(pemPair(entry));
      }
    } else {
      YamlNode keystoreNode = t.get("keystore");
      keystore = keystoreNode.filePath();
      YamlNode passwordNode = t.required("password", "the key store password: inline, { file: PATH } or { env: NAME }");
      password = passwordNode.secret();
      // From a file, the listener re-reads the password with the key store, so both can be rotated.
      passwordFile = passwordNode.secretFile();
      try {
        ServerCertificates.keyStore(keystore, password).load();
      } catch (KeyMaterialException e) {
        throw keystoreNode.error(e.getMessage());
      }
    }
    List<String> protocols = TlsConfig.DEFAULT_PROTOCOLS;
    if (t.has("protocols")) {
      protocols = protocols(t.get("protocols"));
    }
    Path clientCa = null;
    if (t.has("clientCa")) {
      YamlNode caNode = t.get("clientCa");
      clientCa = caNode.filePath();
      try {
        Pem.trustStore(clientCa);
      } catch (KeyMaterialException e) {
        throw caNode.error(e.getMessage());
      }
    }
    TlsConfig.ClientAuth clientAuth = null;
    if (t.has("clientAuth")) {
      YamlNode authNode = t.get("clientAuth");
      String value = authNode.string();
      clientAuth = switch (value) {
        case "required" -> TlsConfig.ClientAuth.REQUIRED;
        case "optional" -> TlsConfig.ClientAuth.OPTIONAL;
        default -> throw authNode.error("must be required or optional, got " + YamlNode.quote(value));
      };
      if (clientCa == null) {
        throw authNode.error("needs clientCa: the CAs that client certificates must chain to");
      }
    }
    ListenerSpec.Tls.Provider provider = ListenerSpec.Tls.Provider.JDK;
    if (t.has("provider")) {
      YamlNode providerNode = t.get("provider");
      provider = providerNode.enumValue(ListenerSpec.Tls.Provider.class);
      // Refused here, with its line, rather than when the server starts: a file that loads must run.
      String unavailable = provider.unavailable().orElse(null);
      if (unavailable != null) {
        throw providerNode.error(unavailable + "; use provider: jdk (the default) on this machine");
      }
    }
    return new TlsConfig(certificates, keystore, password, passwordFile, protocols, clientCa, clientAuth, provider);
  }

  static PemPair pemPair(YamlNode entry) {
    YamlNode.Mapping c = entry.map(CERTIFICATE);
    YamlNode certNode = c.required("cert", "the PEM certificate chain, leaf first (tls.crt, fullchain.pem)");
    YamlNode keyNode = c.required("key", "the PEM private key (tls.key, privkey.pem)");
    Path cert = certNode.filePath();
    Path key = keyNode.filePath();
    List<X509Certificate> chain;
    try {
      chain = Pem.certificates(cert);
    } catch (KeyMaterialException e) {
      throw certNode.error(e.getMessage());
    }
    try {
      PrivateKey privateKey = Pem.privateKey(key);
      CertifiedKey.of(chain, privateKey, key + " with " + cert);
    } catch (KeyMaterialException e) {
      throw keyNode.error(e.getMessage());
    }
    return new PemPair(cert, key);
  }

  private static List<String> protocols(YamlNode node) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("lists no protocol; give TLSv1.3, TLSv1.2 or both, or remove protocols: for both");
    }
    List<String> protocols = new ArrayList<>();
    for (YamlNode entry : entries) {
      String protocol = entry.string();
      if (!TlsConfig.DEFAULT_PROTOCOLS.contains(protocol)) {
        throw entry.error("must be TLSv1.3 or TLSv1.2 (older versions are broken), got " + YamlNode.quote(protocol));
      }
      if (protocols.contains(protocol)) {
        throw entry.error(protocol + " is listed twice");
      }
      protocols.add(protocol);
    }
    return List.copyOf(protocols);
  }
}
