package dev.affinity.jetty;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.Executors;

/**
 * The target {@link PacketLossTest} starts in its network namespace, in a JVM of its own: the JDK's
 * HTTP server (no dependency to put on a class path) on the address and port it is given.
 * {@code GET /data?bytes=N} answers N bytes of {@code 'x'}, {@code POST} echoes the body's length,
 * anything else answers {@code ok}. Prints {@code listening} once it is.
 */
public final class PacketLossTarget {
  private PacketLossTarget() {}

  public static void main(String[] args) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(args[0], Integer.parseInt(args[1])), 100);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/", exchange -> {
      byte[] answer;
      try (InputStream in = exchange.getRequestBody()) {
        byte[] body = in.readAllBytes();
        String query = exchange.getRequestURI().getQuery();
        if (exchange.getRequestMethod().equals("POST")) {
          answer = ("received " + body.length).getBytes();
        } else if (exchange.getRequestURI().getPath().equals("/data") && query != null && query.startsWith("bytes=")) {
          answer = new byte[Integer.parseInt(query.substring(6))];
          Arrays.fill(answer, (byte) 'x');
        } else {
          answer = "ok".getBytes();
        }
      }
      exchange.sendResponseHeaders(200, answer.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(answer);
      }
    });
    server.start();
    System.out.println("listening");
    System.out.flush();
  }
}
