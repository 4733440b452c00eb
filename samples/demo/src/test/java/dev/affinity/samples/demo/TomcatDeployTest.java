package dev.affinity.samples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.HttpCookie;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The cart WAR, exactly as built, deployed to a stock Tomcat 10.1: Debian's {@code tomcat10} package
 * (which {@code .ci/run} installs), run as its own process with its own {@code CATALINA_BASE} on a
 * free port, not as the system service. The target id and the keys come from the environment, as an
 * operator would give them; the route cookie Tomcat's copy of the filter issues must open with those
 * keys to that id. Skipped locally when the package is missing; in CI ({@code CI} set) that fails.
 */
class TomcatDeployTest {
  private static final Path CATALINA_HOME = Path.of("/usr/share/tomcat10");
  private static final String TARGET_ID = "tomcat-1";

  @Test
  void theWarDeploysUnchangedToDebiansTomcatAndIssuesRouteCookies() throws Exception {
    Path catalina = CATALINA_HOME.resolve("bin/catalina.sh");
    boolean installed = Files.isExecutable(catalina) && Files.isDirectory(CATALINA_HOME.resolve("etc"));
    if (System.getenv("CI") == null) {
      Assumptions.assumeTrue(installed, "Debian's tomcat10 is not installed (apt-get install tomcat10)");
    } else {
      assertThat(installed).as("CI must install tomcat10").isTrue();
    }
    Path war = Path.of(Demo.class.getResource(Demo.WAR_RESOURCE).toURI());
    Path base = catalinaBase(freePort());
    Files.copy(war, base.resolve("webapps/cart.war"));
    int port = Integer.parseInt(Files.readString(base.resolve("port")));
    String keys = Demo.generateKeys();

    ProcessBuilder builder = new ProcessBuilder(catalina.toString(), "run").redirectErrorStream(true);
    Map<String, String> env = builder.environment();
    env.put("CATALINA_HOME", CATALINA_HOME.toString());
    env.put("CATALINA_BASE", base.toString());
    env.put("CATALINA_TMPDIR", base.resolve("temp").toString());
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.remove("JAVA_OPTS");
    env.remove("CATALINA_OPTS");
    // How an operator configures the WAR's filter without touching web.xml:
    env.put("AFFINITY_TARGET_ID", TARGET_ID);
    env.put("AFFINITY_KEYS", keys);
    Process tomcat = builder.start();
    try {
      awaitStartup(tomcat, base.resolve("catalina.out"));
      HttpClient http = HttpClient.newHttpClient();
      URI app = URI.create("http://127.0.0.1:" + port + "/cart/");

      HttpResponse<String> page = http.send(HttpRequest.newBuilder(app).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.statusCode()).isEqualTo(200);
      assertThat(page.body()).contains("Affinity Corner Shop");
      HttpResponse<String> health = http.send(HttpRequest.newBuilder(app.resolve("health")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(health.body()).isEqualTo("ok\n");
      assertThat(health.headers().allValues("Set-Cookie")).as("no session, no pin").isEmpty();

      // Creating the cart creates the session, and the filter pins the client to this target.
      HttpResponse<String> cart = http.send(HttpRequest.newBuilder(app.resolve("api/cart")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(cart.statusCode()).as(cart.body()).isEqualTo(200);
      assertThat(cart.body()).contains("\"target\":\"" + TARGET_ID + "\"", "\"pinnedTarget\":\"" + TARGET_ID + "\"");
      Map<String, String> jar = new HashMap<>();
      for (String header : cart.headers().allValues("Set-Cookie")) {
        for (HttpCookie cookie : HttpCookie.parse(header)) {
          jar.put(cookie.getName(), cookie.getValue());
        }
      }
      assertThat(jar).containsKey("AFFINITYROUTE");
      AffinityCookies shared = AffinityCookies.of(
          AffinityCookieCodec.builder().keyring(Keyring.parse(keys)).build(), CookiePolicy.defaults());
      AffinityTicket ticket = shared.read(CookieSource.of(jar), "AFFINITYROUTE").orElseThrow(
          () -> new AssertionError("AFFINITYROUTE does not open with the shared keyring: " + jar));
      assertThat(ticket.targetId()).isEqualTo(TARGET_ID);
      AffinityCookies foreign = AffinityCookies.of(
          AffinityCookieCodec.builder().keyring(Keyring.parse(Demo.generateKeys())).build(), CookiePolicy.defaults());
      assertThat(foreign.read(CookieSource.of(jar), "AFFINITYROUTE")).as("another keyring cannot open it").isEmpty();
    } finally {
      tomcat.destroy();
      if (!tomcat.waitFor(20, TimeUnit.SECONDS)) {
        tomcat.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** A CATALINA_BASE under target/: the package's stock configuration, with the HTTP connector moved to {@code port}. */
  private static Path catalinaBase(int port) throws Exception {
    Path base = Files.createTempDirectory(Files.createDirectories(Path.of("target").toAbsolutePath()), "catalina-base-");
    for (String dir : List.of("conf", "logs", "temp", "webapps", "work")) {
      Files.createDirectories(base.resolve(dir));
    }
    try (Stream<Path> files = Files.list(CATALINA_HOME.resolve("etc"))) {
      for (Path file : (Iterable<Path>) files::iterator) {
        Files.copy(file, base.resolve("conf").resolve(file.getFileName()));
      }
    }
    Path serverXml = base.resolve("conf/server.xml");
    String xml = Files.readString(serverXml);
    String stock = "<Connector port=\"8080\" protocol=\"HTTP/1.1\"";
    assertThat(xml).as("the stock server.xml's HTTP connector").contains(stock);
    Files.writeString(serverXml, xml.replace(stock,
        "<Connector port=\"" + port + "\" address=\"127.0.0.1\" protocol=\"HTTP/1.1\""));
    Files.writeString(base.resolve("port"), Integer.toString(port));
    return base;
  }

  private static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** Copies the process output to {@code log} and returns once Tomcat says it started (or fails when it exits). */
  private static void awaitStartup(Process tomcat, Path log) throws Exception {
    CompletableFuture<Void> started = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(tomcat.getInputStream(), StandardCharsets.UTF_8));
           PrintWriter out = new PrintWriter(Files.newBufferedWriter(log), true)) {
        for (String line; (line = in.readLine()) != null; ) {
          out.println(line);
          if (line.contains("Server startup in")) {
            started.complete(null);
          }
        }
        started.completeExceptionally(new AssertionError("Tomcat exited before it started; see " + log));
      } catch (Exception e) {
        started.completeExceptionally(e);
      }
    }, "catalina-out");
    reader.setDaemon(true);
    reader.start();
    started.get(90, TimeUnit.SECONDS);
    assertThat(Files.readString(log)).as("deployment of cart.war, see " + log)
        .contains("Deployment of web application archive")
        .doesNotContain("SEVERE");
  }
}
