package dev.affinity.jetty;

import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

/**
 * Conscrypt for the listeners that ask for it ({@link ListenerSpec.Tls.Provider#CONSCRYPT}). One
 * provider instance, never registered with {@link java.security.Security}: the JVM's default TLS
 * (the upstream client's, the health checks') stays the JDK's. Conscrypt's classes are only touched
 * here, so a server without a Conscrypt listener never loads its native library.
 */
final class ConscryptTls {
  private ConscryptTls() {}

  /** Loaded once, on first use; holds either the provider or why it could not be had. */
  private static final class Holder {
    static final Provider PROVIDER;
    static final String UNAVAILABLE;

    static {
      Provider provider = null;
      String unavailable = null;
      try {
        // Throws with the native loader's reasons (every library name tried) when none loads.
        org.conscrypt.Conscrypt.checkAvailability();
        provider = org.conscrypt.Conscrypt.newProvider();
      } catch (Throwable e) { // UnsatisfiedLinkError and friends: an Error is what a missing native library is
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
          root = root.getCause();
        }
        unavailable = "Conscrypt's native library does not load on this machine (" + System.getProperty("os.name") + " "
            + System.getProperty("os.arch") + "): " + root;
      }
      PROVIDER = provider;
      UNAVAILABLE = unavailable;
    }
  }

  /**
   * @throws IllegalStateException when Conscrypt cannot run here, saying why
   */
  static void check() {
    if (Holder.PROVIDER == null) {
      throw new IllegalStateException(Holder.UNAVAILABLE);
    }
  }

  /** Null when Conscrypt runs here, else why not (for the configuration loader's message). */
  static String unavailableReason() {
    return Holder.UNAVAILABLE;
  }

  static SSLContext context(String protocol) throws NoSuchAlgorithmException {
    check();
    return SSLContext.getInstance(protocol, Holder.PROVIDER);
  }

  /** Whether {@code engine} is one of Conscrypt's, by class name so that a JDK engine loads nothing of Conscrypt. */
  static boolean isConscrypt(SSLEngine engine) {
    return engine.getClass().getName().startsWith("org.conscrypt.");
  }
}
