package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * A certificate chain (leaf first) and the private key of its leaf, checked to belong together. A
 * half-rotated pair (a new certificate with the old key) is refused here, so whoever reloads keeps
 * the pair it has.
 */
public final class CertifiedKey {
  private static final byte[] PROOF = "affinity: does this key belong to this certificate?".getBytes(StandardCharsets.US_ASCII);

  private final List<X509Certificate> chain;
  private final PrivateKey privateKey;

  private CertifiedKey(List<X509Certificate> chain, PrivateKey privateKey) {
    this.chain = chain;
    this.privateKey = privateKey;
  }

  /**
   * {@code chain} with {@code privateKey}; {@code source} names them in messages.
   *
   * @throws KeyMaterialException when the chain is empty or the key is not the leaf certificate's
   */
  public static CertifiedKey of(List<X509Certificate> chain, PrivateKey privateKey, String source) {
    requireNonNull(chain, "chain");
    requireNonNull(privateKey, "privateKey");
    requireNonNull(source, "source");
    if (chain.isEmpty()) {
      throw new KeyMaterialException(source + ": no certificate");
    }
    X509Certificate leaf = chain.get(0);
    if (!belongTogether(leaf.getPublicKey(), privateKey)) {
      throw new KeyMaterialException(source + ": the private key does not match the certificate "
          + leaf.getSubjectX500Principal().getName() + " (its public key is another one; is the pair half-rotated?)");
    }
    return new CertifiedKey(List.copyOf(chain), privateKey);
  }

  /**
   * An in-memory PKCS#12 key store holding each key under its alias, in the map's order, with
   * {@code password} on every entry; {@code source} names them in messages.
   *
   * @throws KeyMaterialException when the JDK cannot make it
   */
  static KeyStore keyStore(Map<String, CertifiedKey> byAlias, String password, String source) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      for (Map.Entry<String, CertifiedKey> entry : byAlias.entrySet()) {
        CertifiedKey key = entry.getValue();
        store.setKeyEntry(entry.getKey(), key.privateKey(), password.toCharArray(), key.chain().toArray(new X509Certificate[0]));
      }
      return store;
    } catch (IOException | GeneralSecurityException e) {
      throw new KeyMaterialException("cannot make a key store of " + source + ": " + e.getMessage(), e);
    }
  }

  /**
   * A random password for the entries of an in-memory key store: it protects them from nothing in
   * particular, but the JDK's key stores need one.
   */
  static String newKeyStorePassword() {
    byte[] random = new byte[18];
    new SecureRandom().nextBytes(random);
    return Base64.getEncoder().encodeToString(random);
  }

  /** Reads a PEM chain and a PEM key (see {@link Pem}) and checks that they belong together. */
  public static CertifiedKey readPem(Path certificateFile, Path keyFile) {
    requireNonNull(certificateFile, "certificateFile");
    requireNonNull(keyFile, "keyFile");
    List<X509Certificate> chain = Pem.certificates(certificateFile);
    PrivateKey key = Pem.privateKey(keyFile);
    return of(chain, key, keyFile + " with " + certificateFile);
  }

  public List<X509Certificate> chain() {
    return chain;
  }

  public X509Certificate certificate() {
    return chain.get(0);
  }

  public PrivateKey privateKey() {
    return privateKey;
  }

  /**
   * Whether {@code privateKey} is {@code publicKey}'s other half: RSA keys by their modulus, any
   * other kind (EC, EdDSA) by signing with the one and verifying with the other, which needs no
   * curve arithmetic of ours.
   */
  static boolean belongTogether(PublicKey publicKey, PrivateKey privateKey) {
    if (!publicKey.getAlgorithm().equals(privateKey.getAlgorithm())) {
      return false;
    }
    if (publicKey instanceof RSAPublicKey rsa && privateKey instanceof RSAKey rsaPrivate) {
      return rsa.getModulus().equals(rsaPrivate.getModulus());
    }
    String algorithm = switch (privateKey.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "Ed448", "EdDSA" -> privateKey.getAlgorithm();
      case "DSA" -> "SHA256withDSA";
      default -> throw new KeyMaterialException("unsupported private key type " + privateKey.getAlgorithm()
          + "; use an RSA, EC or EdDSA key");
    };
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(privateKey);
      signer.update(PROOF);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(publicKey);
      verifier.update(PROOF);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      // Keys on different curves or of different sizes fail here rather than verify as false.
      return false;
    }
  }
}
