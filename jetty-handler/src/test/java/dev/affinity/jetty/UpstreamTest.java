package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
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

  private static final String ANSWER = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
      + "X-Served-By: b1\r\nSet-Cookie: app=1\r\nConnection: keep-alive\r\n\r\nok";

  @Test
  void fieldsFromJettysParserAreCopiedOntoTheClientsResponseWithoutTheirParser() {
    List<HttpField> parsed = parse(HttpParser::new);
    // Jetty's fields are an inner class of its parser (the premise of Upstream.detached).
    assertThat(parsed).anySatisfy(f -> assertThat(f.getClass().getEnclosingClass()).isEqualTo(HttpParser.class));

    HttpFields.Mutable toClient = HttpFields.build();
    Upstream.toClient(HttpFields.build().add(HttpFields.from(parsed.toArray(HttpField[]::new))), toClient);

    assertThat(toClient.stream().map(HttpField::getName)).containsExactly("Content-Type", "Content-Length", "X-Served-By", "Set-Cookie");
    assertThat(toClient).allSatisfy(f -> assertThat(f.getClass().getEnclosingClass()).isNotEqualTo(HttpParser.class));
    assertThat(toClient.get("X-Served-By")).isEqualTo("b1");
    assertThat(toClient.getLongField("Content-Length")).isEqualTo(2);
  }

  @Test
  void fieldsFromTheDirectRelaysParserReferToNothingAndAreNotCopiedAgain() {
    List<HttpField> parsed = parse(TargetConnection.DetachedFieldsParser::new);
    assertThat(parsed).hasSize(5).allSatisfy(f -> {
      assertThat(f.getClass().getEnclosingClass()).isNotEqualTo(HttpParser.class);
      assertThat(Upstream.detached(f)).isSameAs(f);
    });
  }

  private static List<HttpField> parse(Function<HttpParser.ResponseHandler, HttpParser> parsers) {
    List<HttpField> fields = new ArrayList<>();
    HttpParser parser = parsers.apply(new HttpParser.ResponseHandler() {
      @Override
      public void startResponse(HttpVersion version, int status, String reason) {
      }

      @Override
      public void parsedHeader(HttpField field) {
        fields.add(field);
      }

      @Override
      public boolean headerComplete() {
        return false;
      }

      @Override
      public boolean content(ByteBuffer item) {
        return false;
      }

      @Override
      public boolean contentComplete() {
        return false;
      }

      @Override
      public boolean messageComplete() {
        return true;
      }

      @Override
      public void earlyEOF() {
      }

      @Override
      public void badMessage(org.eclipse.jetty.http.HttpException failure) {
        throw new AssertionError(failure);
      }
    });
    parser.parseNext(ByteBuffer.wrap(ANSWER.getBytes(StandardCharsets.US_ASCII)));
    assertThat(parser.isComplete()).isTrue();
    return fields;
  }
}
