package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
import org.junit.jupiter.api.Test;

/**
 * {@link StrictHead} against Jetty's own parser: a request head with the listener's settings (RFC 9110
 * compliance, no field cache), an answer head as the direct relay's parser has it. Whatever head the
 * strict reader takes, Jetty's parser reads the same way (method and target, or status; every field's
 * name and value in order; where the head ends). The heads are
 * generated from a fixed seed out of the pieces that make parsers disagree: bare LF and CR, obsolete
 * folds, whitespace around names and colons, controls and non-ASCII bytes, case, framing headers.
 */
class StrictHeadTest {
  private static final int MAX = 2048;

  /** What one parser made of a head. */
  record Read(String method, String target, List<String> fields, int end) {}

  static Read strict(byte[] bytes) {
    return strict(bytes, null);
  }

  static Read strict(byte[] bytes, StrictHead.Lines seen) {
    List<String> fields = new ArrayList<>();
    String[] line = new String[2];
    int end = StrictHead.request(bytes, 0, bytes.length, MAX, new StrictHead.Sink() {
      @Override
      public void requestLine(String method, String target) {
        line[0] = method;
        line[1] = target;
      }

      @Override
      public void field(HttpField field) {
        fields.add(described(field));
        writtenAlike(field);
      }
    }, seen);
    return end < 0 ? null : new Read(line[0], line[1], fields, end);
  }

  /** A field as the comparisons see it: its name, value and known header. */
  private static String described(HttpField field) {
    return field.getName() + ": " + field.getValue() + " (" + field.getHeader() + ")";
  }

  /** A field a head writes from the line it came in is written as from its name and value. */
  private static void writtenAlike(HttpField field) {
    HttpHead fromLine = HttpHead.answer(200, 64).header(field);
    HttpHead fromText = HttpHead.answer(200, 64).header(field.getName(), field.getValue());
    assertThat(fromLine.toString()).isEqualTo(fromText.toString());
  }

  /** What Jetty's parser says of a head, whichever kind: its first line, its fields, whether it read it whole and well. */
  static final class JettysReading implements HttpParser.RequestHandler, HttpParser.ResponseHandler {
    final List<String> fields = new ArrayList<>();
    String method;
    String target;
    int status;
    boolean http11;
    boolean headComplete;
    boolean complete;
    boolean bad;

    @Override
    public void startRequest(String requestMethod, String uri, HttpVersion version) {
      method = requestMethod;
      target = uri;
      http11 = version == HttpVersion.HTTP_1_1;
    }

    @Override
    public void startResponse(HttpVersion version, int answerStatus, String reason) {
      status = answerStatus;
      http11 = version == HttpVersion.HTTP_1_1;
    }

    @Override
    public void parsedHeader(HttpField field) {
      fields.add(described(field));
    }

    @Override
    public boolean headerComplete() {
      headComplete = true;
      // An answer is compared up to the end of its head; a request runs on to its (empty) end.
      return method == null;
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
      complete = true;
      return true;
    }

    @Override
    public void earlyEOF() {
      bad = true;
    }

    @Override
    public void badMessage(HttpException failure) {
      bad = true;
    }
  }

  static Read jettys(byte[] bytes) {
    JettysReading reading = new JettysReading();
    HttpParser parser = new HttpParser((HttpParser.RequestHandler) reading, MAX, HttpCompliance.RFC9110);
    parser.setHeaderCacheSize(0);
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    parser.parseNext(buffer);
    return reading.complete && !reading.bad && reading.http11 ? new Read(reading.method, reading.target, reading.fields, buffer.position())
        : null;
  }

  @Test
  void aPlainHeadIsReadAsJettyReadsIt() {
    byte[] head = ("GET /a/b?c=d HTTP/1.1\r\nhost: example.com:8080\r\nCookie:  AFFINITY=x; b=c \t\r\nX-Custom: v\r\n"
        + "Accept:\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    Read strict = strict(head);
    assertThat(strict).isNotNull().isEqualTo(jettys(head));
    assertThat(strict.fields()).containsExactly("Host: example.com:8080 (Host)", "Cookie: AFFINITY=x; b=c (Cookie)",
        "X-Custom: v (null)", "Accept:  (Accept)");
  }

  @Test
  void whatItDoesNotTakeAsItIsIsLeftToJetty() {
    for (String head : List.of(
        "GET / HTTP/1.1\nHost: x\r\n\r\n", // bare LF
        "GET / HTTP/1.1\r\nHost: x\r\n X-Folded: y\r\n\r\n", // obsolete fold
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n", // space before the colon
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", // two spaces
        "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\u0001y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: caf\u00e9\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n", // not whole
        "GET / HTTP/1.1\r\n\r\n", // no Host
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET / HTTP/1.1\r\nX-Pad: " + "x".repeat(MAX) + "\r\n\r\n")) {
      assertThat(strict(head.getBytes(StandardCharsets.ISO_8859_1))).as(head).isNull();
    }
  }

  @Test
  void aLineTakenAgainIsHeldToTheRulesOfTheHeadItIsIn() {
    StrictHead.Lines requests = new StrictHead.Lines();
    byte[] first = "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(strict(first, requests)).isEqualTo(strict(first));
    // The same Host line twice: each taken again, but two hosts are one too many.
    assertThat(strict("GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), requests)).isNull();
    // A line that only begins like the one seen is read anew.
    byte[] longer = "GET / HTTP/1.1\r\nHost: x\r\nX-A: bc\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(strict(longer, requests)).isEqualTo(strict(longer)).isNotNull();
    assertThat(strict("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\n\r\n".getBytes(StandardCharsets.ISO_8859_1), requests)).isNull();

    StrictHead.Lines answers = new StrictHead.Lines();
    byte[] answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(strictAnswer(answer, answers)).isEqualTo(strictAnswer(answer)).isNotNull();
    assertThat(strictAnswer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"
        .getBytes(StandardCharsets.ISO_8859_1), answers)).isNull();
  }

  @Test
  void whateverItTakesJettyReadsTheSameWay() {
    Random random = new Random(20261203);
    String[] methods = {"GET", "HEAD", "get", "POST", "GET ", "G\u00e9T", ""};
    String[] separators = {" ", " ", " ", "  ", "\t", ""};
    String[] targets = {"/", "/a/b?x=1&y=%41", "*", "http://h/x", "/a b", "/caf\u00e9", "/x\u0000", "//x", "/%2e%2e/y", "/?"};
    String[] versions = {"HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "http/1.1", "HTTP/1.1 ", "HTTP/2.0", "HTTP/1.10"};
    String[] eols = {"\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n"};
    String[] names = {"Host", "host", "HOST", "Cookie", "X-Custom", "x-custom", "Content-Length", "Transfer-Encoding", "Connection",
        "X Bad", "", "Host ", "User-Agent", "X-Forwarded-For", "Referer", "Upgrade", "E\u00e9", "X_Under", "Accept-Encoding"};
    String[] colons = {": ", ": ", ":", " : ", ":\t", ":  ", "::"};
    String[] values = {"x", "example.com", "AFFINITY=abc; x=y", "", " ", "a\tb", "trailing  ", "\t", "close", "keep-alive, close",
        "v\u0001", "caf\u00e9", "x\u007f", "0", "chunked", "a\rb", "a\nb"};
    int taken = 0;
    StrictHead.Lines seen = new StrictHead.Lines();
    for (int i = 0; i < 40_000; i++) {
      // Each piece is the plain one most of the time, so that most heads differ from a plain head in a thing or two.
      StringBuilder head = new StringBuilder();
      head.append(plain(random) ? (random.nextBoolean() ? "GET" : "HEAD") : pick(random, methods))
          .append(plain(random) ? " " : pick(random, separators))
          .append(plain(random) ? "/a/b?x=1" : pick(random, targets));
      if (random.nextInt(20) == 0) {
        head.append((char) random.nextInt(256));
      }
      head.append(plain(random) ? " " : pick(random, separators)).append(plain(random) ? "HTTP/1.1" : pick(random, versions))
          .append(plain(random) ? "\r\n" : pick(random, eols));
      int fields = random.nextInt(6);
      int hostAt = plain(random) ? random.nextInt(fields + 1) : -1;
      for (int f = 0; f <= fields; f++) {
        if (f == hostAt) {
          head.append(plain(random) ? "Host" : pick(random, names)).append(plain(random) ? ": " : pick(random, colons))
              .append(plain(random) ? "example.com:8080" : pick(random, values)).append(plain(random) ? "\r\n" : pick(random, eols));
        }
        if (f == fields) {
          break;
        }
        if (random.nextInt(40) == 0) {
          head.append(" folded").append(pick(random, eols));
        }
        head.append(plain(random) ? "X-Custom" : pick(random, names)).append(plain(random) ? ": " : pick(random, colons))
            .append(pick(random, values));
        if (random.nextInt(30) == 0) {
          head.append((char) random.nextInt(256));
        }
        head.append(plain(random) ? "\r\n" : pick(random, eols));
      }
      head.append(plain(random) ? "\r\n" : pick(random, eols));
      if (random.nextInt(10) == 0) {
        head.append("GET / HTTP/1.1\r\n");
      }
      taken += agree(head, StrictHeadTest::strict, StrictHeadTest::jettys, seen);
    }
    // The seed makes enough heads the strict reader takes for the comparison to mean something.
    assertThat(taken).isGreaterThan(1_000);
  }

  /**
   * 1 when the strict reader takes {@code head} (and Jetty's parser then reads it the same way), else 0.
   * The strict reader reads it twice: on its own, and with {@code seen}, the lines of the heads before
   * it (as on a kept-alive connection, where some lines are taken again as they were): both the same.
   */
  private static <T> int agree(CharSequence head, java.util.function.BiFunction<byte[], StrictHead.Lines, T> strict,
      java.util.function.Function<byte[], T> jettys, StrictHead.Lines seen) {
    byte[] bytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
    String shown = head.toString().replace("\r", "\\r").replace("\n", "\\n");
    T taken = strict.apply(bytes, null);
    assertThat(strict.apply(bytes, seen)).as("the reading of %s after the heads before it", shown).isEqualTo(taken);
    if (taken == null) {
      return 0;
    }
    assertThat(jettys.apply(bytes)).as("Jetty's reading of %s", shown).isEqualTo(taken);
    return 1;
  }

  private static boolean plain(Random random) {
    return random.nextInt(10) != 0;
  }

  private static String pick(Random random, String[] choices) {
    return choices[random.nextInt(choices.length)];
  }

  /** What one parser made of an answer head. */
  record Answer(int status, List<String> fields, int end) {}

  static Answer strictAnswer(byte[] bytes) {
    return strictAnswer(bytes, null);
  }

  static Answer strictAnswer(byte[] bytes, StrictHead.Lines seen) {
    List<String> fields = new ArrayList<>();
    int[] status = {0};
    int end = StrictHead.answer(bytes, 0, bytes.length, MAX, new StrictHead.Sink() {
      @Override
      public void statusLine(int answerStatus) {
        status[0] = answerStatus;
      }

      @Override
      public void field(HttpField field) {
        fields.add(described(field));
        writtenAlike(field);
      }
    }, seen);
    return end < 0 ? null : new Answer(status[0], fields, end);
  }

  static Answer jettysAnswer(byte[] bytes) {
    JettysReading reading = new JettysReading();
    HttpParser parser = new TargetConnection.DetachedFieldsParser(reading);
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    parser.parseNext(buffer);
    return reading.headComplete && !reading.bad && reading.http11 ? new Answer(reading.status, reading.fields, buffer.position()) : null;
  }

  @Test
  void aPlainAnswerHeadIsReadAsJettyReadsIt() {
    byte[] head = ("HTTP/1.1 200 OK\r\nserver: nginx\r\nContent-Length: 5\r\nX-Backend:  t1 \r\nSet-Cookie: a=b; Path=/\r\n\r\nhello")
        .getBytes(StandardCharsets.ISO_8859_1);
    Answer strict = strictAnswer(head);
    assertThat(strict).isNotNull().isEqualTo(jettysAnswer(head));
    assertThat(strict.fields()).containsExactly("Server: nginx (Server)", "Content-Length: 5 (Content-Length)", "X-Backend: t1 (null)",
        "Set-Cookie: a=b; Path=/ (Set-Cookie)");
    for (String other : List.of("HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n", "HTTP/1.1 200 OK\nContent-Length: 0\n\n")) {
      assertThat(strictAnswer(other.getBytes(StandardCharsets.ISO_8859_1))).as(other).isNull();
    }
  }

  @Test
  void whateverAnswerItTakesJettyReadsTheSameWay() {
    Random random = new Random(20261204);
    String[] versions = {"HTTP/1.1", "HTTP/1.0", "http/1.1", "HTTP/1.1 ", "HTTP/2"};
    String[] statuses = {"200", "204", "304", "404", "503", "100", "101", "199", "600", "20", "2000", "abc", "099"};
    String[] reasons = {" OK", " Not Found", " ", "", " \u00e9", " A\u0001", "  Two  Spaces", " Tab\tOK"};
    String[] eols = {"\r\n", "\r\n", "\n", "\r", "\r\r\n"};
    String[] names = {"Content-Length", "content-length", "Transfer-Encoding", "Connection", "Set-Cookie", "X-Custom", "Server",
        "Date", "X Bad", "", "Host", "Keep-Alive", "E\u00e9"};
    String[] colons = {": ", ":", " : ", ":\t", "::"};
    String[] values = {"5", "0", "12345678901234567890", "-1", "+5", "5, 5", " 7 ", "chunked", "close", "a=b; Path=/", "", "v\u0001",
        "caf\u00e9", "x\u007f", "gzip, chunked"};
    int taken = 0;
    StrictHead.Lines seen = new StrictHead.Lines();
    for (int i = 0; i < 40_000; i++) {
      StringBuilder head = new StringBuilder();
      head.append(plain(random) ? "HTTP/1.1" : pick(random, versions)).append(' ')
          .append(plain(random) ? "200" : pick(random, statuses)).append(plain(random) ? " OK" : pick(random, reasons))
          .append(plain(random) ? "\r\n" : pick(random, eols));
      int fields = random.nextInt(6);
      for (int f = 0; f < fields; f++) {
        if (random.nextInt(40) == 0) {
          head.append(" folded").append(pick(random, eols));
        }
        head.append(plain(random) ? "X-Custom" : pick(random, names)).append(plain(random) ? ": " : pick(random, colons))
            .append(pick(random, values));
        if (random.nextInt(30) == 0) {
          head.append((char) random.nextInt(256));
        }
        head.append(plain(random) ? "\r\n" : pick(random, eols));
      }
      head.append(plain(random) ? "\r\n" : pick(random, eols)).append("body");
      taken += agree(head, StrictHeadTest::strictAnswer, StrictHeadTest::jettysAnswer, seen);
    }
    assertThat(taken).isGreaterThan(1_000);
  }
}
