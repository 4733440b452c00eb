package dev.affinity.tls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyKind;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The XFCC value a target gets for a verified client certificate, and who may send one. */
class ForwardedClientCertTest {
  private static TestPki ca;

  @BeforeAll
  static void issue() {
    ca = TestPki.newCa("Clients CA");
  }

  @Test
  void carriesTheHashThePemTheSubjectAndTheAlternativeNames() throws Exception {
    Issued client = ca.issueClient("cart \\\"a\\\", O=Shop", KeyKind.EC, "spiffe://prod.example/ns/shop/sa/cart", "cart.internal", "cart.example");

    String value = ForwardedClientCert.of(client.certificate());

    String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(client.certificate().getEncoded()));
    assertThat(value).startsWith("Hash=" + hash + ";Cert=\"-----BEGIN%20CERTIFICATE-----%0A")
        // RFC 2253 escapes the quotes with a backslash; the header's quoting escapes both again.
        .contains(";Subject=\"CN=cart \\\\\\\"a\\\\\\\",O=Shop\"")
        .endsWith(";URI=spiffe://prod.example/ns/shop/sa/cart;DNS=cart.internal;DNS=cart.example");
    Matcher cert = Pattern.compile(";Cert=\"([^\"]*)\"").matcher(value);
    assertThat(cert.find()).isTrue();
    String pem = URLDecoder.decode(cert.group(1), StandardCharsets.UTF_8);
    assertThat(pem).isEqualTo(TestPki.pem(client.certificate()).replace("\r\n", "\n"));
    assertThat(Pem.certificates(pem, "xfcc")).containsExactly(client.certificate());
    assertThat(value).doesNotContain("\n").doesNotContain("\r");
  }

  @Test
  void aCertificateWithoutAlternativeNamesHasNoUriOrDns() {
    Issued client = ca.issueClient("plain", KeyKind.RSA);

    String value = ForwardedClientCert.of(client.certificate());

    assertThat(value).endsWith(";Subject=\"CN=plain\"").doesNotContain("URI=").doesNotContain("DNS=");
  }

  @Test
  void onlyATrustedProxysHeaderIsKept() {
    assertThat(ForwardedClientCert.keepsClientHeader(true)).isTrue();
    assertThat(ForwardedClientCert.keepsClientHeader(false)).isFalse();
    assertThat(ForwardedClientCert.HEADER).isEqualTo("X-Forwarded-Client-Cert");
  }

  @Test
  void urlEncodingKeepsOnlyUnreservedCharacters() {
    assertThat(ForwardedClientCert.urlEncode("a-Z_0.9~ +/=\";,\n")).isEqualTo("a-Z_0.9~%20%2B%2F%3D%22%3B%2C%0A");
    assertThat(List.of(ForwardedClientCert.urlEncode("é"))).containsExactly("%C3%A9");
  }
}
