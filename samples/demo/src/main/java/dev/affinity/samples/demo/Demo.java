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
import dev.affinity.jetty.ListenerSpec;
import dev.affinity.tls.ServerCertificates;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Level;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * {@code java -jar affinity-demo.jar [PORT] [--https[=HTTPS_PORT]]}: the Affinity balancer on
 * 127.0.0.1:PORT (default 8080) in front of three targets that run the cart WAR unchanged: target-1
 * and target-3 on Jetty 12 ee10, target-2 on Tomcat 10.1. Balancer and targets share one keyring,
 * generated at start. The balancer has no stickiness of its own: every pin is the route cookie the
 * WAR's AffinityFilter issues when the cart's session is created. The cart page gets Kill / Restart
 * buttons for the targets (admin actions the demo adds under {@code /affinity/demo/}).
 *
 * <p>With {@code --https} the balancer serves HTTPS on HTTPS_PORT (default 8443), h2 or http/1.1 by
 * ALPN, with a certificate for localhost signed by a CA made at start ({@link DemoCertificates}), and
 * PORT only redirects to it. The targets stay plain HTTP behind it and learn the shopper's scheme from
 * {@code X-Forwarded-Proto}, so the filter's cookies get {@code Secure} exactly when the shopper is on HTTPS.
 */
public final class Demo implements AutoCloseable {
  static final String WAR_RESOURCE = "affinity-sample-cart.war";
  static final String GROUP = "shop";
  static final String HOST = "127.0.0.1";
  static final int DEFAULT_PORT = 8080;
  static final int DEFAULT_HTTPS_PORT = 8443;
  static final String USAGE = "usage: java -jar affinity-demo.jar [PORT] [--https[=HTTPS_PORT]]   (defaults 8080 and 8443)";
  private static final Duration HEALTH_INTERVAL = Duration.ofSeconds(2);
  /** Held so that the level sticks: java.util.logging keeps loggers only weakly. */
  private static final java.util.logging.Logger TOMCAT_LOG = java.util.logging.Logger.getLogger("org.apache");

  private final Path workDir;
  private final String keys;
  private final List<CartTarget> targets = new ArrayList<>();
  /** The --https certificates; null for plain HTTP. */
  private DemoCertificates certificates;
  private AffinityServer balancer;

  private Demo(Path workDir, String keys) {
    this.workDir = workDir;
    this.keys = keys;
  }

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("affinity-demo: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(64);
      return;
    }
    TOMCAT_LOG.setLevel(Level.WARNING);
    Demo demo = options.https() ? startHttps(options.port(), options.httpsPort(), System.err) : start(options.port(), System.err);
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
   * The command line: {@code [PORT] [--https[=HTTPS_PORT]]} in either order. {@code httpsPort} is
   * null without {@code --https}; 0 for either port picks a free one.
   */
  record Options(int port, Integer httpsPort) {
    boolean https() {
      return httpsPort != null;
    }

    /** @throws IllegalArgumentException naming the argument that is not understood */
    static Options parse(String... args) {
      Integer port = null;
      Integer httpsPort = null;
      for (String arg : args) {
        if (arg.equals("--https") || arg.startsWith("--https=")) {
          if (httpsPort != null) {
            throw new IllegalArgumentException("--https is given twice");
          }
          httpsPort = arg.equals("--https") ? DEFAULT_HTTPS_PORT : port("--https", arg.substring("--https=".length()));
        } else if (arg.startsWith("-")) {
          throw new IllegalArgumentException("unknown option \"" + arg + "\"");
        } else {
          if (port != null) {
            throw new IllegalArgumentException("one PORT only, got \"" + port + "\" and \"" + arg + "\"");
          }
          port = port("PORT", arg);
        }
      }
      int plain = port == null ? DEFAULT_PORT : port;
      if (httpsPort != null && httpsPort != 0 && httpsPort == plain) {
        throw new IllegalArgumentException("PORT and --https are both " + plain + "; the plain port redirects to the HTTPS one");
      }
      return new Options(plain, httpsPort);
    }

    private static int port(String what, String value) {
      if (!value.matches("\\d{1,5}") || Integer.parseInt(value) > 65535) {
        throw new IllegalArgumentException(what + " must be a port number from 0 to 65535, got \"" + value + "\"");
      }
      return Integer.parseInt(value);
    }
  }

  /**
   * Starts the targets and the balancer on plain HTTP; {@code port} 0 picks a free port, and a busy
   * port falls back to a free one with a note on {@code err}.
   */
  public static Demo start(int port, PrintStream err) throws Exception {
    return start(port, null, err);
  }

  /**
   * Starts the targets and the balancer on HTTPS port {@code httpsPort} (h2 or http/1.1 by ALPN) with a
   * certificate made now for localhost, 127.0.0.1 and ::1, signed by a CA made now too ({@link #caFile()});
   * plain HTTP port {@code port} answers every request with a redirect to HTTPS. 0 picks a free port,
   * and busy ports fall back to free ones with a note on {@code err}.
   */
  public static Demo startHttps(int port, int httpsPort, PrintStream err) throws Exception {
    if (port < 0 || port > 65535 || httpsPort < 0 || httpsPort > 65535) {
      throw new IllegalArgumentException("ports must be from 0 to 65535, got " + port + " and HTTPS " + httpsPort);
    }
    if (port != 0 && port == httpsPort) {
      throw new IllegalArgumentException("port and httpsPort are both " + port + "; the plain port redirects to the HTTPS one");
    }
    return start(port, httpsPort, err);
  }

  private static Demo start(int port, Integer httpsPort, PrintStream err) throws Exception {
    Path workDir = Files.createTempDirectory("affinity-demo-");
    Demo demo = new Demo(workDir, generateKeys());
    try {
      if (httpsPort != null) {
        demo.certificates = DemoCertificates.create(workDir.resolve("tls"), Instant.now());
      }
      Path webapp = demo.unpackWar(workDir.resolve("cart"));
      demo.targets.add(CartTarget.jetty("target-1", webapp, demo.keys));
      demo.targets.add(CartTarget.tomcat("target-2", webapp, demo.keys, workDir.resolve("tomcat")));
      demo.targets.add(CartTarget.jetty("target-3", webapp, demo.keys));
      for (CartTarget target : demo.targets) {
        target.start();
      }
      demo.balancer = demo.startBalancer(port, httpsPort, err);
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

  private AffinityServer startBalancer(int port, Integer httpsPort, PrintStream err) throws Exception {
    if (httpsPort == null) {
      try {
        return newBalancer(port, null).start();
      } catch (IOException e) {
        if (port == 0 || !(rootCause(e) instanceof BindException)) {
          throw e;
        }
        err.println("affinity-demo: port " + port + " is busy; using a free port instead");
        return newBalancer(0, null).start();
      }
    }
    // The redirect needs the HTTPS port before anything is bound, so a free one is looked for first;
    // should another process take it in between, the retry below looks again.
    AffinityServer first = newBalancer(port, httpsPort == 0 ? freePort() : httpsPort);
    try {
      return first.start();
    } catch (IOException e) {
      if (!(rootCause(e) instanceof BindException)) {
        throw e;
      }
      first.stop();
      err.println("affinity-demo: " + e.getMessage() + "; using free ports instead");
      return newBalancer(0, freePort()).start();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return probe.getLocalPort();
    }
  }

  /** Plain HTTP on {@code port}, or with {@code httpsPort} HTTPS there and a redirect to it on {@code port}. */
  private AffinityServer newBalancer(int port, Integer httpsPort) {
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
    AffinityServer.Builder server = AffinityServer.builder(router, counters)
        .adminHandler((path, loopbackOnly, balancer, codecCounters) ->
            new DemoAdminHandler(path, loopbackOnly, balancer, codecCounters, () -> view));
    if (httpsPort == null) {
      return server.host(HOST).port(port).build();
    }
    ListenerSpec.Tls tls = ListenerSpec.Tls.builder(ServerCertificates.pem(List.of(certificates.server()))).build();
    // HTTPS first: it is the balancer's uri(), the address the demo prints. h2 is on by default.
    return server
        .listener(ListenerSpec.builder().host(HOST).port(httpsPort).tls(tls).build())
        .listener(ListenerSpec.builder().host(HOST).port(port).redirectToHttps(httpsPort).build())
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
    if (certificates == null) {
      out.println("  shop       " + uri + "/");
    } else {
      out.println("  shop       " + uri + "/   (HTTP/2 or HTTP/1.1; " + redirectUri() + "/ redirects here)");
    }
    out.println("  status     " + uri + "/affinity/status");
    for (CartTarget t : targets) {
      out.println("  " + t.id() + "   " + t.uri() + "  (" + t.container() + ")");
    }
    out.println();
    if (certificates != null) {
      String local = "https://localhost:" + uri.getPort() + "/";
      out.println("HTTPS with a certificate for localhost, 127.0.0.1 and ::1 from a CA made at start (deleted on exit):");
      out.println("  CA         " + certificates.caFile());
      out.println("  curl       curl --cacert " + certificates.caFile() + " " + local + "api/products");
      out.println("  chromium   chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list="
          + certificates.serverKeyPin() + " " + local);
      out.println("That chromium trusts this one server key and no other; other browsers warn until the CA is imported.");
      out.println();
    }
    out.println("Open the shop and add a few products: creating the cart pins you to the target that");
    out.println("served it (the banner says which). Press Kill next to the target marked \"you\", then");
    out.println("reload: the balancer fails you over, the banner turns and says so, and the cart is still full.");
    out.println("The status page shows the pins, the failover and the dead target. Ctrl+C stops everything.");
    out.flush();
  }

  /** The balancer's base URI, {@code http://127.0.0.1:PORT}, or {@code https://127.0.0.1:HTTPS_PORT} with --https. */
  public URI uri() {
    return balancer.uri();
  }

  /** With --https, the plain listener that redirects to {@link #uri()}, {@code http://127.0.0.1:PORT}. */
  public URI redirectUri() {
    if (certificates == null) {
      throw new IllegalStateException("the demo runs plain HTTP on " + uri() + "; there is no redirect listener");
    }
    return balancer.uri(1);
  }

  /** With --https, the CA certificate (PEM) that signed the balancer's: {@code curl --cacert} it. */
  public Path caFile() {
    if (certificates == null) {
      throw new IllegalStateException("the demo runs plain HTTP on " + uri() + "; there is no CA");
    }
    return certificates.caFile();
  }

  /** The --https certificates, or null. */
  DemoCertificates certificates() {
    return certificates;
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
