package dev.affinity.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ActionsTest {
  @Test
  void redirectPartsDefaultToTheirPlaceholders() {
    Redirect r = new Redirect(301, null, null, null, "/new/#{path}", null);
    assertThat(r.protocol()).isEqualTo("#{protocol}");
    assertThat(r.host()).isEqualTo("#{host}");
    assertThat(r.port()).isEqualTo("#{port}");
    assertThat(r.query()).isEqualTo("#{query}");
    assertThat(r.location("https", "shop.example.com", 443, "old/cart", "a=1&b=2"))
        .isEqualTo("https://shop.example.com/new/old/cart?a=1&b=2");
    assertThat(r.location("http", "shop.example.com", 8080, "old/cart", null))
        .isEqualTo("http://shop.example.com:8080/new/old/cart");
    assertThat(r.location("http", "shop.example.com", 80, "", "")).isEqualTo("http://shop.example.com/new/");
  }

  @Test
  void httpToHttps() {
    Redirect r = new Redirect(301, "HTTPS", null, "443", null, null);
    assertThat(r.location("http", "example.com", 80, "a/b", "q=1")).isEqualTo("https://example.com/a/b?q=1");
    Redirect keepsPort = new Redirect(302, "HTTPS", null, null, null, null);
    assertThat(keepsPort.location("http", "example.com", 80, "", null))
        .as("as ALB, the port stays what it was").isEqualTo("https://example.com:80/");
  }

  @Test
  void everyPlaceholderAnywhere() {
    Redirect r = new Redirect(308, "http", "#{host}.mirror.example", "8443", "/#{protocol}/#{port}/#{path}",
        "from=#{host}&#{query}");
    assertThat(r.location("https", "www.example.com", 443, "x", "y=1"))
        .isEqualTo("http://www.example.com.mirror.example:8443/https/443/x?from=www.example.com&y=1");
    Redirect v6 = new Redirect(307, "HTTPS", null, "443", "/x", "");
    assertThat(v6.location("http", "::1", 80, "", "q")).isEqualTo("https://[::1]/x");
    assertThat(v6.location("http", "[::1]", 80, "", "q")).isEqualTo("https://[::1]/x");
  }

  @Test
  void whatCannotStandInAUrlIsEncoded() {
    Redirect r = new Redirect(302, "HTTPS", null, "443", null, null);
    assertThat(r.location("http", "example.com", 80, "a b\r\nSet-Cookie:x/é", null))
        .isEqualTo("https://example.com/a%20b%0D%0ASet-Cookie:x/%C3%A9");
    // A Host that is not a host name cannot become userinfo or a path.
    assertThat(r.location("http", "example.com@evil.com/x?", 80, "", null)).isEqualTo("https://example.com%40evil.com%2Fx%3F/");
  }

  @Test
  void badRedirectsNameTheValue() {
    assertThatThrownBy(() -> new Redirect(200, null, null, null, "/x", null)).hasMessage(
        "redirect status must be one of [301, 302, 303, 307, 308], got 200");
    assertThatThrownBy(() -> new Redirect(301, "ftp", null, null, null, null)).hasMessage(
        "redirect protocol must be HTTP, HTTPS or #{protocol}, got \"ftp\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, "0", "/x", null)).hasMessage(
        "redirect port must be 1 to 65535 or #{port}, got \"0\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, "65536", "/x", null)).hasMessageContaining("\"65536\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, "#{host}", "/x", null)).hasMessageContaining("\"#{host}\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, null, "new/#{path}", null)).hasMessage(
        "redirect path must start with '/' (#{path} has no leading slash), got \"new/#{path}\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, null, "/#{paht}", null)).hasMessage(
        "redirect path has an unknown placeholder #{paht} in \"/#{paht}\"; known: #{protocol} #{host} #{port} #{path} #{query}");
    assertThatThrownBy(() -> new Redirect(301, null, "#{host", null, null, null)).hasMessage(
        "redirect host has an unclosed #{ in \"#{host\"");
    assertThatThrownBy(() -> new Redirect(301, null, "evil.com/x", null, null, null)).hasMessage(
        "redirect host may not hold '/' outside a placeholder, got \"evil.com/x\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, null, "/a\nb", null)).hasMessageContaining("\"/a\nb\"");
    assertThatThrownBy(() -> new Redirect(301, null, null, null, "/a#frag", null)).hasMessageContaining("'#'");
    assertThatThrownBy(() -> new Redirect(301, null, "", null, null, null)).hasMessageContaining("host must not be empty");
  }

  @Test
  void aRedirectToItselfIsRefused() {
    assertThatThrownBy(() -> new Redirect(301, null, null, null, null, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a loop");
    assertThatThrownBy(() -> new Redirect(302, "#{protocol}", "#{host}", "#{port}", "/#{path}", "#{query}"))
        .hasMessageContaining("a loop");
    // Dropping the query is a change: it loops only for requests without one, which is the user's choice.
    assertThat(new Redirect(301, null, null, null, null, "").query()).isEmpty();
  }

  @Test
  void fixedResponse() {
    FixedResponse f = new FixedResponse(503, null, null);
    assertThat(f.contentType()).isEqualTo("text/plain");
    assertThat(f.body()).isEmpty();
    assertThat(f.contentTypeHeader()).isEqualTo("text/plain;charset=utf-8");
    assertThat(new FixedResponse(200, "application/json", "{}").contentTypeHeader()).isEqualTo("application/json;charset=utf-8");
    assertThat(new FixedResponse(599, "text/html", "x".repeat(1024)).body()).hasSize(1024);
    assertThatThrownBy(() -> new FixedResponse(199, null, null)).hasMessage("fixedResponse status must be between 200 and 599, got 199");
    assertThatThrownBy(() -> new FixedResponse(600, null, null)).hasMessageContaining("got 600");
    assertThatThrownBy(() -> new FixedResponse(200, "image/png", null)).hasMessage(
        "fixedResponse contentType must be one of [text/plain, text/css, text/html, application/javascript, application/json],"
            + " got \"image/png\"");
    assertThatThrownBy(() -> new FixedResponse(200, null, "x".repeat(1025))).hasMessage(
        "fixedResponse body must be at most 1024 characters, got 1025");
  }

  @Test
  void responseHeaders() {
    Map<String, String> add = new LinkedHashMap<>();
    add.put("Strict-Transport-Security", " max-age=63072000 ");
    add.put("X-Frame-Options", "DENY");
    ResponseHeaders h = new ResponseHeaders(add, List.of("Server", "X-Powered-By"));
    assertThat(h.add()).containsExactly(Map.entry("Strict-Transport-Security", "max-age=63072000"), Map.entry("X-Frame-Options", "DENY"));
    assertThat(h.remove()).containsExactly("Server", "X-Powered-By");
    assertThat(h.isEmpty()).isFalse();
    assertThat(ResponseHeaders.none().isEmpty()).isTrue();
    add.put("Later", "x");
    assertThat(h.add()).as("copied").hasSize(2);

    assertThatThrownBy(() -> new ResponseHeaders(Map.of("X-A", "a\r\nSet-Cookie: x=1"), List.of()))
        .hasMessage("responseHeaders add X-A value may not hold CR, LF or other control characters, got \"a\\r\\nSet-Cookie: x=1\"");
    assertThatThrownBy(() -> new ResponseHeaders(Map.of("Bad Name", "1"), List.of()))
        .hasMessage("responseHeaders add name must be an HTTP token, got \"Bad Name\"");
    assertThatThrownBy(() -> new ResponseHeaders(Map.of(), List.of("Content-Length")))
        .hasMessageStartingWith("responseHeaders may not remove Content-Length");
    assertThatThrownBy(() -> new ResponseHeaders(Map.of("transfer-encoding", "chunked"), List.of()))
        .hasMessageStartingWith("responseHeaders may not add transfer-encoding");
    assertThatThrownBy(() -> new ResponseHeaders(Map.of("Server", "x"), List.of("server")))
        .hasMessageContaining("remove server").hasMessageContaining("already named as Server");
    assertThatThrownBy(() -> new ResponseHeaders(Map.of(), List.of("Server", "Server")))
        .hasMessageContaining("remove Server");
  }
}
