package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Every TLS listener test of {@link TlsListenerTest} (HTTPS, h2 by ALPN and HTTP/1.1 without it, SNI,
 * protocol floors, client certificates, live rotation, key stores, openssl and curl) again with the
 * listeners' TLS on Conscrypt. Conscrypt's native library loads on the machines this project builds
 * on (linux x86_64); a machine where it does not fails here, as it should.
 */
class ConscryptTlsListenerTest extends TlsListenerTest {
  @Override
  ListenerSpec.Tls.Provider provider() {
    return ListenerSpec.Tls.Provider.CONSCRYPT;
  }

  @Test
  void conscryptLoadsHere() {
    assertThat(ListenerSpec.Tls.Provider.CONSCRYPT.unavailable()).isEmpty();
    assertThat(ListenerSpec.Tls.Provider.JDK.unavailable()).isEmpty();
  }
}
