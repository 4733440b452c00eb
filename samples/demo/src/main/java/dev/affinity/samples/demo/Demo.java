package dev.affinity.samples.demo;

import dev.affinity.balancer.BalancingAlgorithm;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CodecMetrics;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Keyring;
import dev.affinity.jetty.AffinityServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Level;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * {@code java -jar affinity-demo.jar [PORT]}: the Affinity balancer on 127.0.0.1:PORT (default 8080)
 * in front of three targets that run the cart WAR unchanged: target-1 and target-3 on Jetty 12 ee10,
 * target-2 on Tomcat 10.1. Balancer and targets share one keyring, generated at start. The balancer
 * has no stickiness of its own: every pin is the route cookie the WAR's AffinityFilter issues when the
 * cart's session is created. The cart page gets Kill / Restart buttons for the targets (admin actions
 * the demo adds under {@code /affinity/demo/}).
 */
public final class Demo implements AutoCloseable {
  static final String WAR_RESOURCE = "affinity-sample-cart.war";
  static final String GROUP = "shop";
  private static final Duration HEALTH_INTERVAL = Duration.ofSeconds(2);
  /** Held so that the level sticks: java.util.logging keeps loggers only weakly. */
  private static final java.util.logging.Logger TOMCAT_LOG = java.util.logging.Logger.getLogger("org.apache");

  private final Path workDir;
  private final String keys;
  private final List<CartTarget> targets = new ArrayList<>();
  private AffinityServer balancer;

  private Demo(Path workDir, String keys) {
    this.workDir = workDir;
    this.keys = keys;
  }

  public static void main(String[] args) throws Exception {
    int port = 8080;
    if (args.length > 1 || args.length == 1 && !args[0].matches("\\d{1,5}")) {
      System.err.println("usage: java -jar affinity-demo.jar [PORT]   (default 8080)");
      System.exit(64);
    }
    if (args.length == 1) {
      port = Integer.parseInt(args[0]);
    }
    TOMCAT_LOG.setLevel(Level.WARNING);
    Demo demo = start(port, System.err);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        demo.close();
      } catch (Exception e) {
        // exiting anyway
      }
    }, "affinity-demo-shutdown"));
    demo.printWelcome(System.out);
    demo.balancer.server().join();
  }

  /**
   * Starts the targets and the balancer; {@code port} 0 picks a free port, and a busy port falls back
   * to a free one with a note on {@code err}.
   */
  public static Demo start(int port, PrintStream err) throws Exception {
    Path workDir = Files.createTempDirectory("affinity-demo-");
    Demo demo = new Demo(workDir, generateKeys());
    try {
      Path webapp = demo.unpackWar(workDir.resolve("cart"));
      demo.targets.add(CartTarget.jetty("target-1", webapp, demo.keys));
      demo.targets.add(CartTarget.tomcat("target-2", webapp, demo.keys, workDir.resolve("tomcat")));
      demo.targets.add(CartTarget.jetty("target-3", webapp, demo.keys));
      for (CartTarget target : demo.targets) {
        target.start();
      }
      demo.balancer = demo.startBalancer(port, err);
      return demo;
    } catch (Exception | Error e) {
      demo.close();
      throw e;
    }
  }

  /** One fresh key, {@code "demo:base64"}: the balancer seals and opens with it, and so do the targets. */
  static String generateKeys() {
    byte[] secret = new byte[Keyring.KEY_BYTES];
    new SecureRandom().nextBytes(secret);
    return "demo:" + Base64.getEncoder().encodeToString(secret);
  }

  private AffinityServer startBalancer(int port, PrintStream err) throws Exception {
    try {
      return newBalancer(port).start();
    } catch (IOException e) {
      if (port == 0 || !(rootCause(e) instanceof BindException)) {
        throw e;
      }
      err.println("affinity-demo: port " + port + " is busy; using a free port instead");
      return newBalancer(0).start();
    }
  }

  private AffinityServer newBalancer(int port) {
    CodecCounters counters = CodecMetrics.counting();
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.parse(keys)).metrics(counters).build(), CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder(GROUP)
        .algorithm(BalancingAlgorithm.roundRobin())
        // No stickiness of the balancer's own: the WAR pins its clients with AFFINITYROUTE.
        .stickiness(StickinessPolicy.none())
        .healthCheck(new HealthCheckSettings(true, "/health", HEALTH_INTERVAL, Duration.ofSeconds(1), 2, 2, 200, 399,
            HEALTH_INTERVAL));
    for (CartTarget target : targets) {
      group.target(target.id(), target.uri(), 1);
    }
    Router router = Router.builder(cookies).group(group.build()).build();
    List<CartTarget> view = List.copyOf(targets);
    return AffinityServer.builder(router, counters)
        .host("127.0.0.1")
        .port(port)
        .adminHandler((path, loopbackOnly, balancer, codecCounters) ->
            new DemoAdminHandler(path, loopbackOnly, balancer, codecCounters, () -> view))
        .build();
  }

  private Path unpackWar(Path dir) throws IOException {
    Files.createDirectories(dir);
    try (InputStream war = Demo.class.getResourceAsStream(WAR_RESOURCE)) {
      if (war == null) {
        throw new IllegalStateException(WAR_RESOURCE + " is not in the demo jar: build with mvn install (it copies the cart WAR in)");
      }
      try (ZipInputStream zip = new ZipInputStream(war)) {
        for (ZipEntry entry; (entry = zip.getNextEntry()) != null; ) {
          Path out = dir.resolve(entry.getName()).normalize();
          if (!out.startsWith(dir)) {
            throw new IOException("bad entry in " + WAR_RESOURCE + ": " + entry.getName());
          }
          if (entry.isDirectory()) {
            Files.createDirectories(out);
          } else {
            Files.createDirectories(out.getParent());
            Files.copy(zip, out, StandardCopyOption.REPLACE_EXISTING);
          }
        }
      }
    }
    return dir;
  }

  void printWelcome(PrintStream out) {
    URI uri = uri();
    out.println();
    out.println("Affinity demo: the cart WAR on three targets behind a sticky balancer");
    out.println("  shop       " + uri + "/");
    out.println("  status     " + uri + "/affinity/status");
    for (CartTarget t : targets) {
      out.println("  " + t.id() + "   " + t.uri() + "  (" + t.container() + ")");
    }
    out.println();
    out.println("Open the shop and add a few products: creating the cart pins you to the target that");
    out.println("served it (the banner says which). Press Kill next to the target marked \"you\", then");
    out.println("reload: the balancer fails you over, the banner turns and says so, and the cart is still full.");
    out.println("The status page shows the pins, the failover and the dead target. Ctrl+C stops everything.");
    out.flush();
  }

  /** The balancer's base URI, {@code http://127.0.0.1:PORT}. */
  public URI uri() {
    return balancer.uri();
  }

  /** The shared keyring, as {@code Keyring.parse} and the filter's {@code keys} read it. */
  public String keys() {
    return keys;
  }

  public AffinityServer balancer() {
    return balancer;
  }

  List<CartTarget> targets() {
    return targets;
  }

  @Override
  public void close() throws Exception {
    Exception failure = null;
    if (balancer != null) {
      try {
        balancer.stop();
      } catch (Exception e) {
        failure = e;
      }
    }
    for (CartTarget target : targets) {
      try {
        target.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    try (Stream<Path> files = Files.walk(workDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temp directory left behind
    }
    if (failure != null) {
      throw failure;
    }
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }
}
