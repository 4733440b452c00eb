package dev.affinity.tls;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** PP2_TYPE_SSL's client flags decide whether the client came over TLS. */
class ProxyProtocolTlsTest {
  @Test
  void theClientSslFlagMeansTls() {
    // client=PP2_CLIENT_SSL, verify=0, then PP2_SUBTYPE_SSL_VERSION "TLSv1.3" as HAProxy sends it.
    byte[] haproxy = {0x01, 0, 0, 0, 0, 0x21, 0, 7, 'T', 'L', 'S', 'v', '1', '.', '3'};
    assertThat(ProxyProtocolTls.clientUsedTls(haproxy)).isTrue();
    // PP2_CLIENT_SSL with certificate flags (CERT_CONN | CERT_SESS) and a failed verify: still TLS.
    assertThat(ProxyProtocolTls.clientUsedTls(new byte[] {0x07, 0, 0, 0, 1})).isTrue();
  }

  @Test
  void noTlvAShortOneOrOneWithoutTheSslFlagIsPlain() {
    assertThat(ProxyProtocolTls.clientUsedTls(null)).isFalse();
    assertThat(ProxyProtocolTls.clientUsedTls(new byte[] {0x01})).isFalse();
    assertThat(ProxyProtocolTls.clientUsedTls(new byte[] {0x00, 0, 0, 0, 0})).isFalse();
    // Certificate flags without PP2_CLIENT_SSL mean nothing on their own.
    assertThat(ProxyProtocolTls.clientUsedTls(new byte[] {0x06, 0, 0, 0, 0})).isFalse();
  }
}
