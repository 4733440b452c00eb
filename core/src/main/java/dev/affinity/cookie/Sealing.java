package dev.affinity.cookie;

/**
 * The authenticated encryption that seals new cookies. Opening follows what each token says it was
 * sealed with, so switching the sealing of a running deployment drops no client.
 */
public enum Sealing {
  /** AES-256-GCM from the JDK: hardware-accelerated, the default. Nonces never repeat within a process. */
  AES_256_GCM(1),
  /**
   * AES-256-GCM-SIV (RFC 8452) from Bouncy Castle: slower, but a repeated nonce leaks only whether two
   * plaintexts were equal. For deployments that want nonce-misuse resistance.
   */
  AES_256_GCM_SIV(2);

  final byte id;

  Sealing(int id) {
    this.id = (byte) id;
  }

  static Sealing byId(byte id) {
    switch (id) {
      case 1:
        return AES_256_GCM;
      case 2:
        return AES_256_GCM_SIV;
      default:
        return null;
    }
  }
}
