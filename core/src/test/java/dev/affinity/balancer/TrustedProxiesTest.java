package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** DESIGN.md "Client address and scheme": who the client is, from the socket and (only from trusted peers) the headers. */
class TrustedProxiesTest {
  private static final TrustedProxies EDGE = TrustedProxies.of("10.0.0.0/8", "127.0.0.1", "2001:db8::/32");

  /** Header lines by name, case-insensitive, several lines per name as a client may send them. */
  private static final class Headers implements TrustedProxies.RequestHeaders {
    final Map<String, List<String>> lines = new HashMap<>();
    int reads;

    Headers add(String name, String value) {
      lines.computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(value);
      return this;
    }

    @Override
    public List<String> values(String name) {
      reads++;
      return lines.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }
  }

  private static Headers headers() {
    return new Headers();
  }

  private static InetAddress ip(String literal) {
    InetAddress a = IpLiteral.parse(literal);
    assertThat(a).as(literal).isNotNull();
    return a;
  }

  private static ClientOrigin resolve(TrustedProxies proxies, String peer, Headers headers) {
    return proxies.resolve(ip(peer), false, "balancer.example", 80, headers);
  }

  @Test
  void withNoTrustedProxiesTheSocketIsTheClientAndNoHeaderIsRead() {
    Headers h = headers().add("X-Forwarded-For", "203.0.113.9").add("X-Forwarded-Proto", "https");
    ClientOrigin origin = TrustedProxies.none().resolve(ip("10.1.2.3"), false, "shop.example", 8080, h);
    assertThat(origin).isEqualTo(new ClientOrigin(ip("10.1.2.3"), "http", 8080, "shop.example", false));
    assertThat(origin.isSecure()).isFalse();
    assertThat(h.reads).isZero();
    assertThat(TrustedProxies.none().isEmpty()).isTrue();
    assertThat(TrustedProxies.none().trusts(ip("127.0.0.1"))).isFalse();
  }

  @Test
  void anUntrustedPeersHeadersAreIgnoredWhateverTheySay() {
    Headers h = headers().add("X-Forwarded-For", "127.0.0.1").add("X-Forwarded-Proto", "https")
        .add("X-Forwarded-Host", "admin.internal").add("X-Forwarded-Port", "443").add("Forwarded", "for=127.0.0.1;proto=https");
    ClientOrigin origin = EDGE.resolve(ip("203.0.113.9"), true, "shop.example", 443, h);
    assertThat(origin).isEqualTo(new ClientOrigin(ip("203.0.113.9"), "https", 443, "shop.example", false));
    assertThat(h.reads).isZero();
  }

  @Test
  void aTrustedPeersClientIsTheRightmostUntrustedAddress() {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.0.0.4"));
    assertThat(origin.address()).isEqualTo(ip("203.0.113.9"));
    assertThat(origin.relayed()).isTrue();
    assertThat(origin.scheme()).isEqualTo("http");
    assertThat(origin.host()).isEqualTo("balancer.example");
    assertThat(origin.port()).isEqualTo(80);
  }

  @Test
  void aSpoofedChainInFrontOfTheRealClientIsNotBelieved() {
    // The client sent "X-Forwarded-For: 127.0.0.1, 10.9.9.9"; the edge appended what it saw.
    ClientOrigin origin = resolve(EDGE, "127.0.0.1",
        headers().add("X-Forwarded-For", "127.0.0.1, 10.9.9.9").add("X-Forwarded-For", "198.51.100.66"));
    assertThat(origin.address()).isEqualTo(ip("198.51.100.66"));
    assertThat(origin.address().isLoopbackAddress()).isFalse();
  }

  @Test
  void aChainOfOnlyTrustedAddressesGivesTheLeftmost() {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "10.7.7.7, 127.0.0.1,10.0.0.4"));
    assertThat(origin.address()).isEqualTo(ip("10.7.7.7"));
  }

  @Test
  void aTrustedPeerWithoutAChainIsItselfTheClient() {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Proto", "https"));
    assertThat(origin.address()).isEqualTo(ip("10.0.0.5"));
    assertThat(origin.scheme()).isEqualTo("https");
    assertThat(origin.relayed()).isTrue();
  }

  @Test
  void nonRecursiveTakesTheRightmostEntryWhateverItIs() {
    TrustedProxies oneHop = TrustedProxies.builder().cidr("10.0.0.0/8").recursive(false).build();
    assertThat(resolve(oneHop, "10.0.0.5", headers().add("X-Forwarded-For", "203.0.113.9, 10.0.0.4")).address())
        .isEqualTo(ip("10.0.0.4"));
    assertThat(resolve(oneHop, "10.0.0.5", headers().add("X-Forwarded-For", "10.0.0.4, 203.0.113.9")).address())
        .isEqualTo(ip("203.0.113.9"));
    assertThat(oneHop.recursive()).isFalse();
  }

  @Test
  void aMalformedEntryStopsTheChainAtTheLastAddressReadBeforeIt() {
    // Right to left: 10.0.0.4 (trusted), then "unknown": nothing further left can be vouched for.
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "203.0.113.9, unknown, 10.0.0.4")).address())
        .isEqualTo(ip("10.0.0.4"));
    // The rightmost entry is garbage: the peer is the client.
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "203.0.113.9, <script>")).address())
        .isEqualTo(ip("10.0.0.5"));
    // A client's stray quote cannot swallow what the edge appended after it.
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "127.0.0.1, \"").add("X-Forwarded-For", "198.51.100.66"))
        .address()).isEqualTo(ip("198.51.100.66"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", ",,,", "garbage", "999.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4:0", "1.2.3.4:65536",
      "1.2.3.4:http", "::g", "[::1", "[::1]x", "[1.2.3.4]", "fe80::1%eth0", "localhost", "example.com", "_hidden", "1.2.3.-4",
      "\u0661.2.3.4", "1.2.3.4 5.6.7.8", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"})
  void garbageInTheChainIsAbsentNeverAFailure(String entry) {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", entry));
    assertThat(origin.address()).isEqualTo(ip("10.0.0.5"));
    assertThat(origin.relayed()).isTrue();
  }

  @Test
  void addressesWithPortsAndIpv6AreRead() {
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "203.0.113.9:51234")).address()).isEqualTo(ip("203.0.113.9"));
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "2001:db9::7")).address()).isEqualTo(ip("2001:db9::7"));
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "[2001:db9::7]:443")).address()).isEqualTo(ip("2001:db9::7"));
    // An IPv6 peer in 2001:db8::/32 is trusted; the IPv6 chain is walked like an IPv4 one.
    assertThat(resolve(EDGE, "2001:db8::1", headers().add("X-Forwarded-For", "2001:db9::7, 2001:db8::2")).address())
        .isEqualTo(ip("2001:db9::7"));
    // An IPv4 block never holds an IPv6 address, nor the reverse.
    assertThat(TrustedProxies.of("0.0.0.0/0").trusts(ip("::1"))).isFalse();
    assertThat(TrustedProxies.of("::/0").trusts(ip("127.0.0.1"))).isFalse();
    // IPv4-mapped IPv6 is the IPv4 address.
    assertThat(TrustedProxies.of("10.0.0.0/8").trusts(ip("::ffff:10.1.2.3"))).isTrue();
  }

  @Test
  void schemeHostAndPortComeFromTheTrustedProxyAndOnlyValidValuesCount() {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-For", "203.0.113.9")
        .add("X-Forwarded-Proto", "HTTPS").add("X-Forwarded-Host", "shop.example").add("X-Forwarded-Port", "8443"));
    assertThat(origin).isEqualTo(new ClientOrigin(ip("203.0.113.9"), "https", 8443, "shop.example", true));
    assertThat(origin.isSecure()).isTrue();

    // The rightmost value is the nearest trusted proxy's.
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Proto", "http, https")).scheme()).isEqualTo("https");
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Proto", "https").add("X-Forwarded-Proto", "http")).scheme())
        .isEqualTo("http");
    // Without a port, the host's, else the scheme's default.
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Host", "shop.example:9443")).port()).isEqualTo(9443);
    assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Proto", "https")).port()).isEqualTo(443);
  }

  @ParameterizedTest
  @ValueSource(strings = {"ftp", "htt ps", "javascript", "", "h\u0000ttps", "wss"})
  void anUnknownSchemeIsAbsent(String proto) {
    ClientOrigin origin = resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Proto", proto));
    assertThat(origin.scheme()).isEqualTo("http");
  }

  @Test
  void badHostsAndPortsAreAbsent() {
    for (String host : List.of("evil.example/path", "a b", "x\r\nSet-Cookie: a=b", "é.example", "a".repeat(256))) {
      assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Host", host)).host()).as(host).isEqualTo("balancer.example");
    }
    for (String port : List.of("0", "65536", "-1", "80a", "123456", "")) {
      assertThat(resolve(EDGE, "10.0.0.5", headers().add("X-Forwarded-Port", port)).port()).as(port).isEqualTo(80);
    }
  }

  @Test
  void theForwardedHeaderIsReadWhenChosen() {
    TrustedProxies rfc = TrustedProxies.builder().cidr("10.0.0.0/8").header(TrustedProxies.Header.FORWARDED).build();
    Headers h = headers()
        .add("Forwarded", "for=127.0.0.1;proto=https;host=evil.example")
        .add("Forwarded", "for=\"[2001:db9::7]:4711\";proto=https;host=\"shop.example:8443\", for=10.0.0.4;proto=http")
        .add("X-Forwarded-For", "198.51.100.1");
    ClientOrigin origin = rfc.resolve(ip("10.0.0.5"), false, "balancer.example", 80, h);
    assertThat(origin).isEqualTo(new ClientOrigin(ip("2001:db9::7"), "https", 8443, "shop.example:8443", true));

    // Obfuscated or unknown for= stops the chain; the element to its right (the trusted one) is the client.
    ClientOrigin hidden = rfc.resolve(ip("10.0.0.5"), false, "b", 80,
        headers().add("Forwarded", "for=198.51.100.1, for=_hidden, for=10.0.0.4;proto=https"));
    assertThat(hidden.address()).isEqualTo(ip("10.0.0.4"));
    assertThat(hidden.scheme()).isEqualTo("https");
    // Malformed elements (no for, no '=', unterminated quote, a parameter twice) count as absent.
    for (String bad : List.of("proto=https", "for", "for=\"198.51.100.1", "for=198.51.100.1;for=198.51.100.2", "for=\"1.2.3.4\"x")) {
      ClientOrigin o = rfc.resolve(ip("10.0.0.5"), false, "b", 80, headers().add("Forwarded", bad));
      assertThat(o.address()).as(bad).isEqualTo(ip("10.0.0.5"));
      assertThat(o.scheme()).as(bad).isEqualTo("http");
    }
    // Commas inside a quoted value do not split; the whole element is read as one.
    assertThat(TrustedProxies.elements(List.of("for=\"a,b\";proto=http, for=1.2.3.4"), true))
        .containsExactly("for=\"a,b\";proto=http", "for=1.2.3.4");
    assertThat(rfc.header()).isEqualTo(TrustedProxies.Header.FORWARDED);
  }

  @Test
  void blocksAreReadStrictlyAndNamedWhenRefused() {
    assertThat(TrustedProxies.of("127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::1").cidrs())
        .containsExactly("127.0.0.1/32", "10.0.0.0/8", "2001:db8:0:0:0:0:0:0/32", "0:0:0:0:0:0:0:1/128");
    assertThat(TrustedProxies.of("10.128.0.0/9").trusts(ip("10.200.0.1"))).isTrue();
    assertThat(TrustedProxies.of("10.128.0.0/9").trusts(ip("10.100.0.1"))).isFalse();
    assertThat(TrustedProxies.of("0.0.0.0/0").trusts(ip("198.51.100.1"))).isTrue();
    assertThat(TrustedProxies.of("127.0.0.1").trusts(ip("127.0.0.2"))).isFalse();

    assertThatThrownBy(() -> TrustedProxies.of("10.0.0.1/8"))
        .hasMessage("trusted proxy \"10.0.0.1/8\" has host bits set below its /8 prefix; write the block as 10.0.0.0/8 or the one address as 10.0.0.1");
    assertThatThrownBy(() -> TrustedProxies.of("10.0.0.0/33"))
        .hasMessage("trusted proxy prefix must be between 0 and 32 for IPv4, got \"10.0.0.0/33\"");
    assertThatThrownBy(() -> TrustedProxies.of("::/129"))
        .hasMessage("trusted proxy prefix must be between 0 and 128 for IPv6, got \"::/129\"");
    assertThatThrownBy(() -> TrustedProxies.of("proxy.internal"))
        .hasMessageStartingWith("trusted proxy must be an IPv4 or IPv6 address with an optional /prefix").hasMessageEndingWith("got \"proxy.internal\"");
    assertThatThrownBy(() -> TrustedProxies.of("10.0.0.0/x")).hasMessageContaining("got \"10.0.0.0/x\"");
    assertThatThrownBy(() -> TrustedProxies.of("127.0.0.1", "127.0.0.1/32"))
        .hasMessage("trusted proxy \"127.0.0.1/32\" is listed twice (as 127.0.0.1/32)");
    assertThatThrownBy(() -> TrustedProxies.builder().header(TrustedProxies.Header.FORWARDED).header(TrustedProxies.Header.FORWARDED))
        .hasMessage("trusted proxy header was already set to Forwarded");
    assertThatThrownBy(() -> TrustedProxies.builder().recursive(true).recursive(false))
        .hasMessage("trusted proxy recursive was already set to true");
    assertThatThrownBy(() -> TrustedProxies.Header.named("X-Real-IP"))
        .hasMessage("trusted proxy header must be X-Forwarded-For or Forwarded, got \"X-Real-IP\"");
    assertThat(TrustedProxies.Header.named("x-forwarded-for")).isEqualTo(TrustedProxies.Header.X_FORWARDED_FOR);
  }

  @Test
  void originValuesAreChecked() {
    assertThatThrownBy(() -> new ClientOrigin(ip("1.2.3.4"), "ftp", 80, null, false)).hasMessage("scheme must be http or https, got \"ftp\"");
    assertThatThrownBy(() -> new ClientOrigin(ip("1.2.3.4"), "http", 0, null, false))
        .hasMessage("port must be between 1 and 65535 (or -1 for unknown), got 0");
  }

  @Test
  void ipLiteralsNeverResolveNames() {
    assertThat(IpLiteral.parse("localhost")).isNull();
    assertThat(IpLiteral.parse("abc::xyz")).isNull();
    assertThat(IpLiteral.parse("0.0.0.0")).isEqualTo(ip("0.0.0.0"));
    assertThat(IpLiteral.parse("255.255.255.255")).isNotNull();
    assertThat(IpLiteral.parse("256.0.0.0")).isNull();
    assertThat(IpLiteral.parseWithOptionalPort("[::1]:1")).isEqualTo(ip("::1"));
  }
}
