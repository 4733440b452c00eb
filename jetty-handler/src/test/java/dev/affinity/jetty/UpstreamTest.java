package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import org.eclipse.jetty.http.HttpFields;
import org.junit.jupiter.api.Test;

class UpstreamTest {
  @Test
  void connectionListedNamesTheListedHeadersLowerCase() {
    HttpFields headers = HttpFields.build().add("Connection", "keep-alive, X-Trace").add("Connection", "\"Upgrade\"");
    assertThat(Upstream.connectionListed(headers)).containsExactlyInAnyOrder("keep-alive", "x-trace", "upgrade");
  }

  @Test
  void connectionListedIsEmptyWithoutAConnectionHeaderOrWithOnlyKeepAliveOrClose() {
    assertThat(Upstream.connectionListed(HttpFields.build().add("Host", "a"))).isEmpty();
    assertThat(Upstream.connectionListed(HttpFields.build().add("Connection", "Keep-Alive"))).isEmpty();
    assertThat(Upstream.connectionListed(HttpFields.build().add("Connection", "close"))).isEmpty();
    // keep-alive is dropped as a hop-by-hop header anyway; a listed name after it is not lost.
    assertThat(Upstream.connectionListed(HttpFields.build().add("Connection", "keep-alive").add("Connection", "X-A")))
        .contains("x-a");
  }

  @Test
  void forwardedElementQuotesOnlyWhereRfc7239NeedsIt() {
    assertThat(Upstream.forwardedElement("10.0.0.1", "192.0.2.60", "example.com:8080", "https"))
        .isEqualTo("by=10.0.0.1;for=192.0.2.60;host=\"example.com:8080\";proto=https");
    assertThat(Upstream.forwardedElement("10.0.0.1", "2001:db8::1", null, "http"))
        .isEqualTo("by=10.0.0.1;for=\"2001:db8::1\";host=\"\";proto=http");
  }
}
