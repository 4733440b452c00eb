package dev.affinity.tls;

/**
 * What a PROXY protocol v2 header's {@code PP2_TYPE_SSL} TLV (0x20) says about the client's own
 * connection, as HAProxy's {@code send-proxy-v2-ssl} and AWS NLB's TLS listeners send it: one byte of
 * client flags, four of verify result, then sub-TLVs (version, cipher, ...).
 *
 * <p>Only read from a trusted proxy (the PROXY header of anyone else closes the connection).
 */
public final class ProxyProtocolTls {
  /** The TLV type of the SSL information. */
  public static final int PP2_TYPE_SSL = 0x20;
  /** Client flag: the client connected over SSL/TLS. */
  static final int PP2_CLIENT_SSL = 0x01;

  private ProxyProtocolTls() {}

  /**
   * Whether the client reached the proxy over TLS: the TLV is there, is long enough for its flags and
   * verify field, and has {@code PP2_CLIENT_SSL} set. The other flags (a client certificate was sent on
   * the connection or the session) mean nothing without it; a TLV too short to be one counts as absent.
   *
   * @param sslTlv the value of the {@code PP2_TYPE_SSL} TLV, or {@code null} when the header had none
   */
  public static boolean clientUsedTls(byte[] sslTlv) {
    return sslTlv != null && sslTlv.length >= 5 && (sslTlv[0] & PP2_CLIENT_SSL) != 0;
  }
}
