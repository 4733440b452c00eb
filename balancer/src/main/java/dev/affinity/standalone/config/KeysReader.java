package dev.affinity.standalone.config;

import dev.affinity.cookie.Keyring;
import java.util.ArrayList;
import java.util.List;

/** {@code keys: [ { id, secret } ]} (secret inline, from a file or from the environment); ids and secrets are checked by core's {@link Keyring}. */
final class KeysReader {
  static final Schema SCHEMA = Schema.keys("id", "secret");

  private KeysReader() {}

  static List<KeyConfig> read(YamlNode node) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("lists no key; add { id, secret } entries, or remove keys: to run with an ephemeral key");
    }
    Keyring.Builder keyring = Keyring.builder();
    List<KeyConfig> keys = new ArrayList<>();
    for (YamlNode entry : entries) {
      YamlNode.Mapping s = entry.map(SCHEMA);
      YamlNode idNode = s.required("id", "a short key id such as k1");
      YamlNode secretNode = s.required("secret", "base64 of 32 random bytes, e.g. `openssl rand -base64 32`");
      String id = idNode.string();
      String secret = secretNode.secret();
      try {
        keyring.addKey(id, secret);
      } catch (IllegalArgumentException e) {
        // Keyring's messages start with the field they are about; a secret is never echoed.
        throw (e.getMessage().startsWith("secret") ? secretNode : idNode).error(e.getMessage());
      }
      keys.add(new KeyConfig(id, secret));
    }
    keyring.build();
    return List.copyOf(keys);
  }
}
