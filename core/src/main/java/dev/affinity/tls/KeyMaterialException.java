package dev.affinity.tls;

/**
 * Certificates or keys that cannot be used: a file that cannot be read, a PEM file without what it
 * should hold, a key that does not belong to its certificate. The message names the file and the
 * problem, never key material.
 */
public final class KeyMaterialException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public KeyMaterialException(String message) {
    super(message);
  }

  public KeyMaterialException(String message, Throwable cause) {
    super(message, cause);
  }
}
