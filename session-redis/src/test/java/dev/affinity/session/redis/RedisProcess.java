package dev.affinity.session.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} on 127.0.0.1 and an ephemeral port, with its own directory under
 * {@code target/}: the binary named by the system property {@code affinity.redisServer} ({@code embedded}
 * forces the jar's), else
 * Debian's {@code /usr/bin/redis-server} (the CI installs the package), else the Linux x86-64 binary
 * inside the {@code com.github.codemonstur:embedded-redis} test dependency, extracted to
 * {@code target/redis/bin}.
 */
public final class RedisProcess implements AutoCloseable {
  private static final String DEBIAN = "/usr/bin/redis-server";
  private static final String EMBEDDED = "/redis-server-6.2.6-v5-linux-amd64";
  public static final String BINARY = binary();

  private static String binary() {
    String configured = System.getProperty("affinity.redisServer");
    if (configured != null && !configured.equals("embedded")) {
      return configured;
    }
    if (configured == null && Files.isExecutable(Path.of(DEBIAN))) {
      return DEBIAN;
    }
    try (InputStream in = RedisProcess.class.getResourceAsStream(EMBEDDED)) {
      if (in == null || !System.getProperty("os.arch").matches("amd64|x86_64")) {
        return DEBIAN;
      }
      Path bin = Path.of("target", "redis", "bin").toAbsolutePath();
      Files.createDirectories(bin);
      Path server = bin.resolve("redis-server");
      if (!Files.isExecutable(server)) {
        Path tmp = Files.createTempFile(bin, "redis-server", ".tmp");
        Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        tmp.toFile().setExecutable(true);
        Files.move(tmp, server, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      return server.toString();
    } catch (IOException e) {
      return DEBIAN;
    }
  }

  /** True when {@code redis-cli} (Debian's redis-tools, which redis-server pulls in) is there. */
  public static boolean hasRedisCli() {
    return Files.isExecutable(Path.of("/usr/bin/redis-cli"));
  }

  private final int port;
  private final Path dir;
  private final List<String> extra;
  private Process process;

  private RedisProcess(int port, Path dir, List<String> extra) {
    this.port = port;
    this.dir = dir;
    this.extra = extra;
  }

  /** Starts a server; {@code options} are {@code redis-server} flags such as {@code "--appendonly", "yes"}. */
  public static RedisProcess start(String... options) throws IOException {
    return start(freePort(), options);
  }

  public static RedisProcess start(int port, String... options) throws IOException {
    if (!Files.isExecutable(Path.of(BINARY))) {
      throw new IllegalStateException(BINARY + " is missing: install the Debian package redis-server (the CI script"
          + " .ci/run does) or set -Daffinity.redisServer=/path/to/redis-server");
    }
    Path root = Path.of("target", "redis").toAbsolutePath();
    Files.createDirectories(root);
    RedisProcess redis = new RedisProcess(port, Files.createTempDirectory(root, "redis-" + port + "-"), List.of(options));
    redis.startProcess();
    return redis;
  }

  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private void startProcess() throws IOException {
    List<String> command = new ArrayList<>(List.of(BINARY, "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--dir", dir.toString(), "--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"));
    command.addAll(extra);
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server on port " + port + " exited: " + log());
      }
      try {
        if (command("PING").startsWith("+PONG")) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.onSpinWait();
    }
    throw new IllegalStateException("redis-server on port " + port + " did not answer PING: " + log());
  }

  private String log() {
    try {
      return Files.readString(dir.resolve("redis.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }

  public int port() {
    return port;
  }

  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Kills the server at once (SIGKILL): only what it already wrote to disk survives. */
  public void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Starts it again on the same port and directory (with appendonly, it replays its log). */
  public void restart() throws IOException {
    startProcess();
  }

  /** Sends one inline command and returns the first reply line (RESP). */
  public String command(String... args) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      socket.setSoTimeout(5000);
      StringBuilder resp = new StringBuilder("*").append(args.length).append("\r\n");
      for (String a : args) {
        resp.append('$').append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(a).append("\r\n");
      }
      OutputStream out = socket.getOutputStream();
      out.write(resp.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder line = new StringBuilder();
      int c;
      while ((c = in.read()) != -1 && c != '\n') {
        line.append((char) c);
      }
      if (line.length() > 0 && line.charAt(0) == '$' && !line.toString().startsWith("$-1")) {
        StringBuilder value = new StringBuilder();
        while ((c = in.read()) != -1 && c != '\n') {
          value.append((char) c);
        }
        return value.toString().trim();
      }
      return line.toString().trim();
    }
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
