package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;

/**
 * The client certificate a TLS listener verified, as the target's request carries it: Envoy's
 * {@code X-Forwarded-Client-Cert} (XFCC), one element
 * {@code Hash=<sha256 of the DER, hex>;Cert="<PEM, URL-encoded>";Subject="<RFC 2253>";URI=<first URI SAN>;DNS=<each DNS SAN>}.
 *
 * <p>The rule ({@link #keepsClientHeader}): a target believes this header, so a client may not write
 * it. The header a peer sent is passed on as sent only when the peer is a trusted proxy (it terminated
 * TLS, so the certificate was presented to it, not to the balancer); from anyone else it is dropped,
 * and the balancer writes its own when, and only when, the client presented a certificate on the
 * balancer's own TLS connection that the listener's {@code clientCa} verified.
 */
public final class ForwardedClientCert {
  /** The header's name, as Envoy and Istio send it. */
  public static final String HEADER = "X-Forwarded-Client-Cert";
  private static final int SAN_DNS = 2;
  private static final int SAN_URI = 6;

  private ForwardedClientCert() {}

  /** Whether the header a peer sent goes to the target: only from a trusted proxy. */
  public static boolean keepsClientHeader(boolean peerIsTrustedProxy) {
    return peerIsTrustedProxy;
  }

  /** The header's value for {@code leaf}, the verified client certificate (the first of the peer's chain). */
  public static String of(X509Certificate leaf) {
    requireNonNull(leaf, "leaf");
    byte[] der;
    try {
      der = leaf.getEncoded();
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("the client certificate cannot be encoded: " + e.getMessage(), e);
    }
    StringBuilder b = new StringBuilder(der.length * 2);
    b.append("Hash=").append(HexFormat.of().formatHex(sha256(der)));
    b.append(";Cert=\"").append(urlEncode(pem(der))).append('"');
    b.append(";Subject=");
    quoted(b, leaf.getSubjectX500Principal().getName());
    List<String> uris = alternativeNames(leaf, SAN_URI);
    if (!uris.isEmpty()) {
      // Envoy gives the first URI SAN only: a SPIFFE certificate has exactly one.
      b.append(";URI=");
      value(b, uris.get(0));
    }
    for (String dns : alternativeNames(leaf, SAN_DNS)) {
      b.append(";DNS=");
      value(b, dns);
    }
    return b.toString();
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private static String pem(byte[] der) {
    return "-----BEGIN CERTIFICATE-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END CERTIFICATE-----\n";
  }

  /** Percent-encodes all but RFC 3986's unreserved characters, so the value holds no quote, comma or semicolon. */
  static String urlEncode(String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    StringBuilder b = new StringBuilder(bytes.length * 3 / 2);
    for (byte raw : bytes) {
      int c = raw & 0xFF;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
        b.append((char) c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16))).append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
      }
    }
    return b.toString();
  }

  /** As is when it holds nothing XFCC's syntax gives a meaning to, else quoted. */
  private static void value(StringBuilder b, String v) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == ',' || c == ';' || c == '=' || c == '"' || c == '\\' || c <= 0x20 || c == 0x7F) {
        quoted(b, v);
        return;
      }
    }
    b.append(v);
  }

  private static void quoted(StringBuilder b, String v) {
    b.append('"');
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\');
      }
      // A certificate's name may hold control characters; a header line may not.
      if (c >= 0x20 && c != 0x7F) {
        b.append(c);
      }
    }
    b.append('"');
  }

  private static List<String> alternativeNames(X509Certificate certificate, int type) {
    Collection<List<?>> names;
    try {
      names = certificate.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return List.of();
    }
    if (names == null) {
      return List.of();
    }
    return names.stream().filter(n -> n.size() >= 2 && Integer.valueOf(type).equals(n.get(0)) && n.get(1) instanceof String)
        .map(n -> (String) n.get(1)).toList();
  }
}
