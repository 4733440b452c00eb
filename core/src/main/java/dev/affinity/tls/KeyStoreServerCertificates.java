package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.List;

/**
 * A PKCS#12 or JKS file; the JDK detects which from its content. The password is fixed, or read from
 * a secret file at each {@link #load}, so that a key store rotated together with its password file is
 * picked up as a pair.
 */
final class KeyStoreServerCertificates implements ServerCertificates {
  /** Larger than any password; keeps a wrong path (a log, a device) cheap to refuse. */
  static final int MAX_PASSWORD_FILE_BYTES = 64 * 1024;

  private final Path file;
  private final Path passwordFile;
  /** The password the last successful {@link #load} opened the store with (the fixed one without a password file). */
  private volatile String password;

  KeyStoreServerCertificates(Path file, String password) {
    this.file = requireNonNull(file, "file");
    this.password = requireNonNull(password, "password");
    this.passwordFile = null;
  }

  KeyStoreServerCertificates(Path file, Path passwordFile) {
    this.file = requireNonNull(file, "file");
    this.passwordFile = requireNonNull(passwordFile, "passwordFile");
  }

  @Override
  public KeyStore load() {
    String password = passwordFile != null ? readPassword(passwordFile) : this.password;
    KeyStore store = load(password);
    this.password = password;
    return store;
  }

  private KeyStore load(String password) {
    KeyStore store;
    try {
      if (!Files.isRegularFile(file)) {
        throw new KeyMaterialException(file + ": no such file");
      }
      store = KeyStore.getInstance(file.toFile(), password.toCharArray());
    } catch (IOException e) {
      // A wrong password shows up as an IOException caused by UnrecoverableKeyException.
      if (e.getCause() instanceof UnrecoverableKeyException) {
        throw new KeyMaterialException(file + ": the password" + (passwordFile != null ? " in " + passwordFile : "")
            + " does not open this key store", e);
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

  /** The password of the last key store {@link #load} returned. */
  @Override
  public String keyPassword() {
    String p = password;
    if (p == null) {
      throw new IllegalStateException("the key store " + file + " was not loaded yet");
    }
    return p;
  }

  @Override
  public List<Path> files() {
    return passwordFile != null ? List.of(file, passwordFile) : List.of(file);
  }

  /**
   * A password file as secret files are read everywhere in the balancer: a regular file of at most
   * {@value #MAX_PASSWORD_FILE_BYTES} bytes, UTF-8, one trailing newline dropped, not empty. The
   * message names the file, never its content.
   */
  static String readPassword(Path passwordFile) {
    String secret;
    try {
      // A FIFO or a device would block or never end; secrets live in regular files.
      if (Files.exists(passwordFile) && !Files.isRegularFile(passwordFile)) {
        throw new KeyMaterialException(passwordFile + ": the password file is not a regular file");
      }
      if (Files.size(passwordFile) > MAX_PASSWORD_FILE_BYTES) {
        throw new KeyMaterialException(passwordFile + ": the password file is larger than " + MAX_PASSWORD_FILE_BYTES + " bytes");
      }
      secret = Files.readString(passwordFile, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new KeyMaterialException(passwordFile + ": no such password file", e);
    } catch (IOException | SecurityException e) {
      throw new KeyMaterialException(passwordFile + ": the password file cannot be read: " + e.getClass().getSimpleName(), e);
    }
    if (secret.endsWith("\r\n")) {
      secret = secret.substring(0, secret.length() - 2);
    } else if (secret.endsWith("\n")) {
      secret = secret.substring(0, secret.length() - 1);
    }
    if (secret.isEmpty()) {
      throw new KeyMaterialException(passwordFile + ": the password file is empty");
    }
    return secret;
  }

  @Override
  public String toString() {
    return "key store " + file + (passwordFile != null ? " with the password in " + passwordFile : "");
  }
}
