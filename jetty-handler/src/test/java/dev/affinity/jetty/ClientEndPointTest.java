package dev.affinity.jetty;

import static dev.affinity.jetty.RawTargets.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client side's endpoint ({@link ClientEndPoint}) skips the reads it knows would find nothing and
 * keeps its read interest while the exchange is with the target. These are the cases where bytes
 * come when it does not read: a pipelined request, the next request sent while the target still holds
 * the answer, a request head in two pieces, a client leaving mid-exchange. Each must be read when it
 * comes, over real sockets.
 */
class ClientEndPointTest extends BalancerTestBase {

  /** Answers each request with its path; {@code /slow} after 300 ms. */
  private RawTarget echo() throws Exception {
    return target("r0", eachRequest((peer, head) -> {
      String path = requestLine(head).split(" ")[1];
      if (path.startsWith("/slow")) {
        Thread.sleep(300);
      }
      peer.send(ok("r0 " + path));
    }));
  }

  private String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: shop.example\r\nCookie: " + pinCookie("r0") + "\r\n\r\n";
  }

  private static String readAnswer(InputStream in) throws Exception {
    String head = readHead(in);
    assertThat(head).as("an answer").isNotNull().startsWith("HTTP/1.1 200 ");
    int length = Integer.parseInt(headers(head).get("content-length").get(0).trim());
    return new String(readExactly(in, length), StandardCharsets.UTF_8);
  }

  private Socket connect() throws Exception {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), balancer.uri().getPort());
    socket.setSoTimeout(10_000);
    socket.setTcpNoDelay(true);
    return socket;
  }

  private static void write(OutputStream out, String s) throws Exception {
    out.write(s.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  @Test
  void keptAliveRequestsOneAfterAnotherAreEachReadWhenTheyCome() throws Exception {
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, echo());
    try (Socket socket = connect()) {
      InputStream in = new BufferedInputStream(socket.getInputStream());
      for (int i = 0; i < 50; i++) {
        // After each answer the connection reads nothing until the selector says the next request is in.
        write(socket.getOutputStream(), get("/n/" + i));
        assertThat(readAnswer(in)).isEqualTo("r0 /n/" + i);
      }
    }
  }

  @Test
  void pipelinedRequestsInOneWriteAreAllAnswered() throws Exception {
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, echo());
    try (Socket socket = connect()) {
      write(socket.getOutputStream(), get("/a") + get("/b") + get("/c"));
      InputStream in = new BufferedInputStream(socket.getInputStream());
      assertThat(List.of(readAnswer(in), readAnswer(in), readAnswer(in))).containsExactly("r0 /a", "r0 /b", "r0 /c");
    }
  }

  @Test
  void theNextRequestSentWhileTheTargetHoldsTheAnswerIsAnsweredAfterIt() throws Exception {
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, echo());
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      write(out, get("/slow"));
      Thread.sleep(100); // the first request is with the target: nobody reads the client now
      write(out, get("/after"));
      InputStream in = new BufferedInputStream(socket.getInputStream());
      assertThat(readAnswer(in)).isEqualTo("r0 /slow");
      assertThat(readAnswer(in)).isEqualTo("r0 /after");
      // And the connection goes on as usual.
      write(out, get("/third"));
      assertThat(readAnswer(in)).isEqualTo("r0 /third");
    }
  }

  @Test
  void aRequestHeadInTwoPiecesIsReadWhenTheSecondComes() throws Exception {
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, echo());
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      InputStream in = new BufferedInputStream(socket.getInputStream());
      for (int i = 0; i < 3; i++) {
        String request = get("/split/" + i);
        int cut = request.indexOf("Host:") + 3;
        write(out, request.substring(0, cut));
        Thread.sleep(150); // the first piece drained the socket
        write(out, request.substring(cut));
        assertThat(readAnswer(in)).isEqualTo("r0 /split/" + i);
      }
    }
  }

  @Test
  void aClientThatLeavesWhileTheTargetHoldsTheAnswerLeavesTheBalancerServing() throws Exception {
    startBalancer(TargetPath.DIRECT_RELAY, b -> {}, echo());
    for (int i = 0; i < 3; i++) {
      Socket leaving = connect();
      write(leaving.getOutputStream(), get("/slow/" + i));
      Thread.sleep(50);
      leaving.close(); // its close arrives while nobody reads the connection
    }
    try (Socket socket = connect()) {
      write(socket.getOutputStream(), get("/still"));
      assertThat(readAnswer(new BufferedInputStream(socket.getInputStream()))).isEqualTo("r0 /still");
    }
  }
}
