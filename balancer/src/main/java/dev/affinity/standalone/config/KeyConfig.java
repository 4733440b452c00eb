package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.Keyring;
import java.util.List;

/**
 * One cookie key: an id and the base64 of 32 secret bytes. {@link #toString()} never shows the secret.
 */
public record KeyConfig(String id, String secret) {
  public KeyConfig {
    requireNonNull(id, "id");
    requireNonNull(secret, "secret");
  }

  /** A keyring of these keys, the first one sealing. */
  public static Keyring toKeyring(List<KeyConfig> keys) {
    requireNonNull(keys, "keys");
    Keyring.Builder builder = Keyring.builder();
    for (KeyConfig key : keys) {
      builder.addKey(key.id(), key.secret());
    }
    return builder.build();
  }

  @Override
  public String toString() {
    return "KeyConfig[id=" + id + ", secret=****]";
  }
}
