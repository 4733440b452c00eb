package dev.affinity.cookie;

/**
 * Why a cookie value was treated as absent. Every rejection is counted; none is an error for the
 * client, which is balanced normally and given a fresh cookie.
 */
public enum Rejection {
  /** The value was empty. (A cookie that is simply not sent is not counted at all.) */
  EMPTY,
  /** Longer than the configured total, before any decoding work. */
  OVERSIZED,
  /** Not base64url. */
  NOT_BASE64,
  /** Too short to hold the header, nonce and tag, or a payload that does not parse. */
  TRUNCATED,
  /** A format version or sealing algorithm this codec does not know. */
  UNSUPPORTED_VERSION,
  /** Sealed with a key id that is not in the keyring (retired, or another deployment's). */
  UNKNOWN_KEY,
  /** Sealed for another cookie name: a value moved from one cookie to another. */
  WRONG_NAME,
  /** Authentication failed: the value was changed, or sealed with another key under the same id. */
  TAMPERED,
  /** Authentic but past its expiry. */
  EXPIRED,
  /** A sharded value with a missing, extra or malformed shard. */
  BAD_SHARDS
}
