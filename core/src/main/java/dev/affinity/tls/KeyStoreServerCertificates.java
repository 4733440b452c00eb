package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.List;

/** A PKCS#12 or JKS file; the JDK detects which from its content. */
final class KeyStoreServerCertificates implements ServerCertificates {
  private final Path file;
  private final String password;

  KeyStoreServerCertificates(Path file, String password) {
    this.file = requireNonNull(file, "file");
    this.password = requireNonNull(password, "password");
  }

  @Override
  public KeyStore load() {
    KeyStore store;
    try {
      if (!Files.isRegularFile(file)) {
        throw new KeyMaterialException(file + ": no such file");
      }
      store = KeyStore.getInstance(file.toFile(), password.toCharArray());
    } catch (IOException e) {
      // A wrong password shows up as an IOException caused by UnrecoverableKeyException.
      if (e.getCause() instanceof UnrecoverableKeyException) {
        throw new KeyMaterialException(file + ": the password does not open this key store", e);
      }
      throw new KeyMaterialException(file + ": cannot be read as a PKCS#12 or JKS key store: " + e.getMessage(), e);
    } catch (GeneralSecurityException | IllegalArgumentException | SecurityException e) {
      throw new KeyMaterialException(file + ": cannot be read as a PKCS#12 or JKS key store: " + e.getMessage(), e);
    }
    List<String> aliases = ServerCertificates.keyAliases(store);
    if (aliases.isEmpty()) {
      throw new KeyMaterialException(file + ": holds no private key with its certificate");
    }
    try {
      for (String alias : aliases) {
        // The key manager opens keys with the store's password: a key under another one fails here, not at a handshake.
        store.getKey(alias, password.toCharArray());
      }
    } catch (GeneralSecurityException e) {
      throw new KeyMaterialException(file + ": a key in it is not protected by the key store's password", e);
    }
    return store;
  }

  @Override
  public String keyPassword() {
    return password;
  }

  @Override
  public List<Path> files() {
    return List.of(file);
  }

  @Override
  public String toString() {
    return "key store " + file;
  }
}
