package dev.affinity.cookie;

import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.modes.GCMSIVBlockCipher;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * One AEAD over a token laid out as {@code header | nonce | ciphertext+tag}: the header bytes and the
 * cookie name are associated data. Ciphers are per thread because neither the JDK's nor Bouncy
 * Castle's are thread-safe and creating them costs more than using them.
 */
abstract class Aead {
  static final int NONCE_BYTES = 12;
  static final int TAG_BYTES = 16;
  static final int TAG_BITS = TAG_BYTES * 8;

  static Aead of(Sealing sealing) {
    return sealing == Sealing.AES_256_GCM ? JdkAesGcm.INSTANCE : BcAesGcmSiv.INSTANCE;
  }

  /**
   * Encrypts {@code plaintext} into {@code token} at {@code nonceOffset + NONCE_BYTES}; the nonce is
   * already in place and {@code token[0, nonceOffset)} is the header.
   */
  abstract void seal(Keyring.Key key, byte[] token, int nonceOffset, byte[] name, byte[] plaintext)
      throws GeneralSecurityException, InvalidCipherTextException;

  /** The plaintext, or {@code null} when authentication fails. */
  abstract byte[] open(Keyring.Key key, byte[] token, int nonceOffset, byte[] name);

  private static final class JdkAesGcm extends Aead {
    static final JdkAesGcm INSTANCE = new JdkAesGcm();
    private static final ThreadLocal<Cipher> CIPHER = ThreadLocal.withInitial(() -> {
      try {
        return Cipher.getInstance("AES/GCM/NoPadding");
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("this JDK has no AES/GCM/NoPadding", e);
      }
    });

    @Override
    void seal(Keyring.Key key, byte[] token, int nonceOffset, byte[] name, byte[] plaintext)
        throws GeneralSecurityException {
      Cipher cipher = CIPHER.get();
      cipher.init(Cipher.ENCRYPT_MODE, key.secretKey, new GCMParameterSpec(TAG_BITS, token, nonceOffset, NONCE_BYTES));
      cipher.updateAAD(token, 0, nonceOffset);
      cipher.updateAAD(name);
      cipher.doFinal(plaintext, 0, plaintext.length, token, nonceOffset + NONCE_BYTES);
    }

    @Override
    byte[] open(Keyring.Key key, byte[] token, int nonceOffset, byte[] name) {
      Cipher cipher = CIPHER.get();
      try {
        cipher.init(Cipher.DECRYPT_MODE, key.secretKey, new GCMParameterSpec(TAG_BITS, token, nonceOffset, NONCE_BYTES));
        cipher.updateAAD(token, 0, nonceOffset);
        cipher.updateAAD(name);
        int offset = nonceOffset + NONCE_BYTES;
        return cipher.doFinal(token, offset, token.length - offset);
      } catch (GeneralSecurityException e) {
        // AEADBadTagException in practice; any other failure means the same thing for the caller.
        return null;
      }
    }
  }

  private static final class BcAesGcmSiv extends Aead {
    static final BcAesGcmSiv INSTANCE = new BcAesGcmSiv();
    private static final ThreadLocal<GCMSIVBlockCipher> CIPHER =
        ThreadLocal.withInitial(() -> new GCMSIVBlockCipher(AESEngine.newInstance()));

    @Override
    void seal(Keyring.Key key, byte[] token, int nonceOffset, byte[] name, byte[] plaintext)
        throws InvalidCipherTextException {
      GCMSIVBlockCipher cipher = init(true, key, token, nonceOffset, name);
      int written = cipher.processBytes(plaintext, 0, plaintext.length, token, nonceOffset + NONCE_BYTES);
      cipher.doFinal(token, nonceOffset + NONCE_BYTES + written);
    }

    @Override
    byte[] open(Keyring.Key key, byte[] token, int nonceOffset, byte[] name) {
      int offset = nonceOffset + NONCE_BYTES;
      GCMSIVBlockCipher cipher = init(false, key, token, nonceOffset, name);
      byte[] plaintext = new byte[token.length - offset - TAG_BYTES];
      try {
        int written = cipher.processBytes(token, offset, token.length - offset, plaintext, 0);
        cipher.doFinal(plaintext, written);
        return plaintext;
      } catch (InvalidCipherTextException | RuntimeException e) {
        return null;
      }
    }

    private static GCMSIVBlockCipher init(boolean encrypt, Keyring.Key key, byte[] token, int nonceOffset, byte[] name) {
      GCMSIVBlockCipher cipher = CIPHER.get();
      byte[] nonce = new byte[NONCE_BYTES];
      System.arraycopy(token, nonceOffset, nonce, 0, NONCE_BYTES);
      cipher.init(encrypt, new AEADParameters(new KeyParameter(key.secret), TAG_BITS, nonce));
      cipher.processAADBytes(token, 0, nonceOffset);
      cipher.processAADBytes(name, 0, name.length);
      return cipher;
    }
  }
}
