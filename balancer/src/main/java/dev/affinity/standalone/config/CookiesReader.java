package dev.affinity.standalone.config;

import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;

/** {@code cookies: { prefix, cors, sameSite, secure, maxShardBytes, maxTotalBytes, sealReuse }}, checked by core's {@link CookiePolicy}. */
final class CookiesReader {
  static final Schema SCHEMA = Schema.keys("prefix", "cors", "sameSite", "secure", "maxShardBytes", "maxTotalBytes", "sealReuse");

  private CookiesReader() {}

  static CookieConfig read(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    CookiePolicy.Builder policy = CookiePolicy.builder();
    CookieConfig d = CookieConfig.defaults();
    String prefix = d.prefix();
    boolean cors = d.cors();
    SameSite sameSite = d.sameSite();
    SecureMode secure = d.secure();
    int maxShardBytes = d.maxShardBytes();
    int maxTotalBytes = d.maxTotalBytes();
    boolean sealReuse = d.sealReuse();
    if (s.has("prefix")) {
      YamlNode n = s.get("prefix");
      prefix = n.string();
      String value = prefix;
      n.core(() -> policy.prefix(value));
    }
    if (s.has("cors")) {
      cors = s.get("cors").bool();
    }
    if (s.has("sameSite")) {
      YamlNode n = s.get("sameSite");
      sameSite = n.core(() -> SameSite.parse(n.string()));
    }
    if (s.has("secure")) {
      YamlNode n = s.get("secure");
      secure = n.core(() -> SecureMode.parse(n.string()));
    }
    if (s.has("maxShardBytes")) {
      YamlNode n = s.get("maxShardBytes");
      int value = n.integer();
      maxShardBytes = value;
      n.core(() -> policy.maxShardBytes(value));
    }
    if (s.has("maxTotalBytes")) {
      YamlNode n = s.get("maxTotalBytes");
      int value = n.integer();
      maxTotalBytes = value;
      n.core(() -> policy.maxTotalBytes(value));
    }
    if (s.has("sealReuse")) {
      sealReuse = s.get("sealReuse").bool();
    }
    CookieConfig config = new CookieConfig(prefix, cors, sameSite, secure, maxShardBytes, maxTotalBytes, sealReuse);
    // A conflict between settings (sameSite None with secure never) is reported at the later of them.
    YamlNode at = s.has("secure") ? s.get("secure") : s.has("sameSite") ? s.get("sameSite") : node;
    at.core(config::toPolicy);
    return config;
  }
}
