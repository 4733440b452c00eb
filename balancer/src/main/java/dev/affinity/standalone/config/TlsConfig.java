package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/**
 * TLS for the listener.
 *
 * @param keystore path of a PKCS#12 or JKS key store, as written in the file (not resolved or checked)
 * @param password the key store password
 */
public record TlsConfig(String keystore, String password) {
  public TlsConfig {
    requireNonNull(keystore, "keystore");
    requireNonNull(password, "password");
  }

  @Override
  public String toString() {
    return "TlsConfig[keystore=" + keystore + ", password=****]";
  }
}
