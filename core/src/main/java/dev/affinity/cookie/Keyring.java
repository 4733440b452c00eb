package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys that seal and open affinity cookies. The primary key seals; every key opens, so a new
 * primary can be rolled out while cookies sealed with the old one keep working, and the old one is
 * removed once those cookies have expired.
 *
 * <p>Keys are 256-bit AES keys, given as base64 secrets or derived with HKDF-SHA256 from one master
 * secret. Several balancer instances (and the filter inside the targets) that share a keyring accept
 * each other's cookies.
 */
public final class Keyring {
  public static final int KEY_BYTES = 32;
  static final int MIN_MASTER_SECRET_BYTES = 32;
  private static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9._-]{1,32}");
  private static final byte[] HKDF_SALT = "dev.affinity keyring v1".getBytes(StandardCharsets.US_ASCII);
  private static final Logger LOG = LoggerFactory.getLogger(Keyring.class);

  private final String primaryId;
  private final Map<String, Key> keys;
  private final boolean ephemeral;

  private Keyring(Map<String, Key> keys, boolean ephemeral) {
    this.keys = Collections.unmodifiableMap(keys);
    this.primaryId = keys.keySet().iterator().next();
    this.ephemeral = ephemeral;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Keys derived from one master secret (at least 32 bytes): the first id seals, all open. The same
   * secret and id always give the same key, on any machine and after any restart.
   */
  public static Keyring derived(byte[] masterSecret, String primaryId, String... olderIds) {
    requireNonNull(masterSecret, "masterSecret");
    requireNonNull(primaryId, "primaryId");
    if (masterSecret.length < MIN_MASTER_SECRET_BYTES) {
      throw new IllegalArgumentException("master secret must be at least " + MIN_MASTER_SECRET_BYTES
          + " bytes, got " + masterSecret.length);
    }
    Builder builder = builder().addKey(primaryId, hkdf(masterSecret, primaryId));
    for (String id : olderIds) {
      builder.addKey(requireNonNull(id, "olderIds[]"), hkdf(masterSecret, id));
    }
    return builder.build();
  }

  /**
   * Parses the textual keyring form shared by the filter's settings and environment variables:
   * {@code id:base64secret} entries separated by commas, semicolons or new lines, primary first.
   * Blank entries and lines starting with {@code #} are skipped.
   */
  public static Keyring parse(String spec) {
    requireNonNull(spec, "spec");
    Builder builder = builder();
    int entries = 0;
    for (String raw : spec.split("[,;\\r\\n]+")) {
      String entry = raw.trim();
      if (entry.isEmpty() || entry.startsWith("#")) {
        continue;
      }
      int colon = entry.indexOf(':');
      if (colon <= 0 || colon == entry.length() - 1) {
        throw new IllegalArgumentException(
            "keyring entry " + (entries + 1) + " must look like id:base64secret, got " + describe(entry));
      }
      String id = entry.substring(0, colon).trim();
      if (!KEY_ID.matcher(id).matches()) {
        // An entry written the wrong way round (secret:id) would otherwise echo the secret.
        throw new IllegalArgumentException("keyring entry " + (entries + 1)
            + " must look like id:base64secret with an id of 1-32 characters of A-Z a-z 0-9 . _ -, got "
            + (id.length() <= 32 ? "\"" + id + "\"" : "an id of " + id.length() + " characters"));
      }
      builder.addKey(id, entry.substring(colon + 1).trim());
      entries++;
    }
    if (entries == 0) {
      throw new IllegalArgumentException("keyring holds no id:base64secret entry");
    }
    return builder.build();
  }

  /** An entry that does not parse, described without echoing a secret that may be in it. */
  private static String describe(String entry) {
    int colon = entry.indexOf(':');
    if (colon < 0) {
      // Most likely a bare secret that lost its "id:": print none of it.
      return "an entry of " + entry.length() + " characters with no ':'";
    }
    return colon == 0 ? "an entry with no id before ':'" : "\"" + entry.substring(0, colon + 1) + "\" with no secret";
  }

  /**
   * A random key for this process only, with a warning: cookies will not survive a restart or be
   * accepted by another instance. For demos and tests, never for a fleet.
   */
  public static Keyring ephemeral() {
    byte[] secret = new byte[KEY_BYTES];
    new SecureRandom().nextBytes(secret);
    LOG.warn("No affinity keys configured: generated a random key for this process. Affinity cookies "
        + "will not survive a restart and will not be accepted by other balancer instances or targets. "
        + "Configure shared keys (keys: in YAML, or the filter's keys setting) to fix this.");
    Map<String, Key> keys = new LinkedHashMap<>();
    keys.put("ephemeral", new Key("ephemeral", secret));
    return new Keyring(keys, true);
  }

  static byte[] hkdf(byte[] masterSecret, String keyId) {
    checkKeyId(keyId);
    HKDFBytesGenerator generator = new HKDFBytesGenerator(new SHA256Digest());
    byte[] info = ("affinity cookie key " + keyId).getBytes(StandardCharsets.US_ASCII);
    generator.init(new HKDFParameters(masterSecret, HKDF_SALT, info));
    byte[] out = new byte[KEY_BYTES];
    generator.generateBytes(out, 0, out.length);
    return out;
  }

  public String primaryId() {
    return primaryId;
  }

  /** Key ids, primary first. */
  public List<String> ids() {
    return new ArrayList<>(keys.keySet());
  }

  public boolean isEphemeral() {
    return ephemeral;
  }

  Key primary() {
    return keys.get(primaryId);
  }

  /** The key for an id, or {@code null} when the keyring does not hold it. */
  Key key(String id) {
    return keys.get(id);
  }

  @Override
  public String toString() {
    // Never print secrets.
    return "Keyring{primary=" + primaryId + ", ids=" + keys.keySet() + (ephemeral ? ", ephemeral" : "") + "}";
  }

  static void checkKeyId(String id) {
    if (!KEY_ID.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "key id must be 1-32 characters of A-Z a-z 0-9 . _ -, got \"" + id + "\"");
    }
  }

  /** One key: an id and 32 secret bytes. */
  static final class Key {
    final String id;
    final byte[] idBytes;
    final byte[] secret;
    final SecretKey secretKey;

    Key(String id, byte[] secret) {
      this.id = id;
      this.idBytes = id.getBytes(StandardCharsets.US_ASCII);
      this.secret = secret.clone();
      this.secretKey = new SecretKeySpec(this.secret, "AES");
    }
  }

  /** Collects keys in order; the first added is the primary. */
  public static final class Builder {
    private final Map<String, Key> keys = new LinkedHashMap<>();

    private Builder() {}

    /** Adds a key from its base64 (standard or url-safe) secret, which must decode to 32 bytes. */
    public Builder addKey(String id, String base64Secret) {
      requireNonNull(id, "id");
      requireNonNull(base64Secret, "base64Secret");
      byte[] secret;
      try {
        secret = decodeBase64(base64Secret.trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("secret of key \"" + id + "\" is not valid base64", e);
      }
      return addKey(id, secret);
    }

    public Builder addKey(String id, byte[] secret) {
      requireNonNull(id, "id");
      requireNonNull(secret, "secret");
      checkKeyId(id);
      if (secret.length != KEY_BYTES) {
        throw new IllegalArgumentException("secret of key \"" + id + "\" must be " + KEY_BYTES
            + " bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`), got " + secret.length);
      }
      if (keys.containsKey(id)) {
        throw new IllegalArgumentException("key id \"" + id + "\" was already added");
      }
      keys.put(id, new Key(id, secret));
      return this;
    }

    public Keyring build() {
      if (keys.isEmpty()) {
        throw new IllegalStateException("a keyring needs at least one key (or use Keyring.ephemeral())");
      }
      return new Keyring(new LinkedHashMap<>(keys), false);
    }

    private static byte[] decodeBase64(String value) {
      boolean urlSafe = value.indexOf('-') >= 0 || value.indexOf('_') >= 0;
      return (urlSafe ? Base64.getUrlDecoder() : Base64.getDecoder()).decode(value);
    }
  }
}
