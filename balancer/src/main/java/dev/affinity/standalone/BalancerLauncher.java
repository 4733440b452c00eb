package dev.affinity.standalone;

import dev.affinity.cookie.CodecMetrics;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.standalone.config.BalancerConfig;
import dev.affinity.standalone.config.BalancerConfigLoader;
import dev.affinity.standalone.config.ConfigException;
import dev.affinity.tls.KeyMaterialException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * {@code java -jar affinity-balancer.jar balancer.yaml}: the standalone balancer.
 *
 * <pre>
 *   affinity-balancer.jar FILE            run the balancer FILE describes
 *   affinity-balancer.jar [--pid-file PIDFILE] [--takeover PID|PIDFILE] FILE
 *                                         the same, writing its pid to PIDFILE; with --takeover, in place of
 *                                         the balancer running there, without a failed request ({@link Takeover})
 *   affinity-balancer.jar --check FILE    validate FILE and exit
 *   affinity-balancer.jar --demo [PORT]   three demo targets behind a balancer on PORT (default 8080)
 * </pre>
 *
 * A bad file gets one message naming the line and the key, exit status 2, and nothing starts.
 *
 * <p>{@code SIGTERM} stops the balancer gracefully ({@code shutdown:} in the file, see
 * {@link dev.affinity.jetty.GracefulShutdown}) and exits 0 when every connection closed within the grace,
 * {@value #EXIT_CUT} when the grace ran out and the rest was cut. {@code SIGINT} (Ctrl+C) drains the same
 * way through the JVM's shutdown hook, whose exit status is the JVM's (130). {@code SIGUSR1} is what a
 * successor started with {@code --takeover} sends: the same stop, without the unready delay. {@code SIGTTIN}
 * starts that successor: the same command line with {@code --takeover} this process ({@link Takeover.Successor}).
 */
public final class BalancerLauncher {
  static final int EXIT_USAGE = 64;
  static final int EXIT_CONFIG = 2;
  static final int EXIT_START = 1;
  /** Stopped, but the shutdown grace ran out first: what was still open was cut. */
  static final int EXIT_CUT = 3;
  /** How often the running configuration file is looked at for changes. */
  static final Duration RELOAD_POLL_INTERVAL = Duration.ofSeconds(2);

  private BalancerLauncher() {}

  public static void main(String[] args) throws Exception {
    // Before any logger exists: the launcher's own logging, unless the user chose another.
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "dev/affinity/standalone/logback-launcher.xml");
    }
    // Before the server starts: a SIGTERM that comes while it starts (or right after "balancing on") still
    // drains and exits with the drain's status, instead of the JVM's default 143.
    Sigterm sigterm = Sigterm.install();
    // Before the start as well: SIGTTIN's default action would stop the JVM. Not SIGUSR2 (NGINX's): HotSpot
    // suspends threads with it for JFR's sampling, and a handler there would start a successor at each sample.
    Takeover.Successor successor = new Takeover.Successor(List.of(args), System.out, System.err);
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("TTIN"), signal -> successor.start());
    } catch (IllegalArgumentException e) {
      // A platform without SIGTTIN: --takeover still works, started by hand.
    }
    Running running = run(args, System.out, System.err);
    if (running.exitCode != 0) {
      System.exit(running.exitCode);
    }
    if (running.server != null) {
      if (running.extra != null) {
        // The pid file goes with the process however it ends (SIGINT runs the JVM's hooks, not the SIGTERM path).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try {
            running.extra.close();
          } catch (Exception e) {
            // removePidFile reports its own trouble
          }
        }, "affinity-pid-file"));
      }
      sigterm.started(running);
      if (!args[0].equals("--demo")) {
        successor.serving();
      }
      running.server.server().join();
    }
  }

  /**
   * {@code SIGTERM} (systemd, Kubernetes, ECS, {@code docker stop}) becomes {@link Running#stopGracefully}
   * and an exit with its status, once the balancer has started. Without this the JVM would run its shutdown
   * hooks (which drain too) and exit 143 whatever happened; a second {@code SIGTERM} changes nothing, the
   * grace bounds the stop.
   */
  private static final class Sigterm {
    private Running running;
    private boolean signalled;
    private boolean takenOver;
    private boolean stopping;

    @SuppressWarnings("restriction")
    static Sigterm install() {
      Sigterm sigterm = new Sigterm();
      try {
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), signal -> sigterm.signalled(false));
      } catch (IllegalArgumentException e) {
        // A platform without SIGTERM: the JVM's shutdown hook still stops the server gracefully.
      }
      try {
        // What a successor sends once it serves (--takeover), as HAProxy's -sf does.
        sun.misc.Signal.handle(new sun.misc.Signal("USR1"), signal -> sigterm.signalled(true));
      } catch (IllegalArgumentException e) {
        // A platform without SIGUSR1: a successor falls back to SIGTERM.
      }
      return sigterm;
    }

    synchronized void signalled(boolean byTakeover) {
      if (!signalled) {
        takenOver = byTakeover;
      }
      signalled = true;
      stopIfDue();
    }

    synchronized void started(Running started) {
      running = started;
      stopIfDue();
    }

    private void stopIfDue() {
      if (!signalled || running == null || stopping) {
        return;
      }
      stopping = true;
      Running toStop = running;
      boolean successorServes = takenOver;
      // Not on the signal's own thread: the stop waits for the grace, and the exit must come after it.
      // Not a daemon either (it would inherit the signal thread's): main returns once the server has
      // stopped, and the JVM must wait for this thread's exit status rather than end with 0.
      Thread stop = new Thread(() -> System.exit(toStop.stopGracefully(successorServes)), "affinity-sigterm");
      stop.setDaemon(false);
      stop.start();
    }
  }

  /** What {@link #run} left behind: a started server, or an exit code. */
  public record Running(int exitCode, AffinityServer server, AutoCloseable extra) implements AutoCloseable {
    /**
     * What {@code SIGTERM} runs: stops the server gracefully and returns the process's exit status, 0
     * when it drained, {@value BalancerLauncher#EXIT_CUT} when the grace ran out and connections were cut,
     * {@value BalancerLauncher#EXIT_START} when the stop itself failed.
     */
    public int stopGracefully() {
      return stopGracefully(false);
    }

    /**
     * As {@link #stopGracefully()}; {@code takenOver}: a successor serves the same ports already
     * ({@code SIGUSR1}, sent by {@code --takeover}), so the listeners close at once, without
     * {@code shutdown.unreadyDelay}: that delay lets a load balancer in front stop sending to this address,
     * which stays served, and a readiness probe reaching this process through the shared port would only
     * read a 503 for nothing.
     */
    public int stopGracefully(boolean takenOver) {
      if (takenOver && server != null && !server.shutdown().unreadyDelay().isZero()) {
        server.setShutdown(new GracefulShutdown(server.shutdown().grace(), Duration.ZERO));
      }
      try {
        close();
      } catch (Exception e) {
        System.err.println("affinity: the stop failed: " + rootMessage(e));
        return EXIT_START;
      }
      GracefulShutdown.Outcome outcome = server == null ? null : server.shutdownOutcome();
      if (outcome == null || outcome.drained()) {
        return 0;
      }
      System.err.println("affinity: stopped after the shutdown grace (" + server.shutdown().grace() + ") ran out; "
          + outcome.connectionsCut() + " client connections were cut (exit status " + EXIT_CUT + ")");
      return EXIT_CUT;
    }

    @Override
    public void close() throws Exception {
      if (server != null) {
        server.stop();
      }
      if (extra != null) {
        extra.close();
      }
    }
  }

  public static Running run(String[] args, PrintStream out, PrintStream err) throws Exception {
    return run(args, out, err, new ScheduledExecutorScheduler("affinity-reload", true));
  }

  /** As {@link #run(String[], PrintStream, PrintStream)}, polling the file for changes on {@code reloadScheduler}. */
  static Running run(String[] args, PrintStream out, PrintStream err, Scheduler reloadScheduler) throws Exception {
    return run(args, out, err, reloadScheduler, null);
  }

  /**
   * As {@link #run(String[], PrintStream, PrintStream, Scheduler)}, with a stop's unready delay and grace
   * timed on {@code shutdownTimer} ({@code null}: the server's own scheduler).
   */
  static Running run(String[] args, PrintStream out, PrintStream err, Scheduler reloadScheduler, Scheduler shutdownTimer)
      throws Exception {
    return run(args, out, err, reloadScheduler, shutdownTimer, Clock.systemUTC());
  }

  /** As above, with the balancer's time (pins, drains, the registration API's deadlines) from {@code clock}. */
  static Running run(String[] args, PrintStream out, PrintStream err, Scheduler reloadScheduler, Scheduler shutdownTimer, Clock clock)
      throws Exception {
    return run(args, out, err, reloadScheduler, shutdownTimer, clock, Warmup.once());
  }

  /** As above, warming up (when the file asks for it) with {@code warmup}. */
  static Running run(String[] args, PrintStream out, PrintStream err, Scheduler reloadScheduler, Scheduler shutdownTimer, Clock clock,
      Warmup warmup) throws Exception {
    List<String> list = List.of(args);
    if (list.isEmpty() || list.contains("-h") || list.contains("--help")) {
      usage(list.isEmpty() ? err : out);
      return new Running(list.isEmpty() ? EXIT_USAGE : 0, null, null);
    }
    if (list.get(0).equals("--demo")) {
      int port = 8080;
      if (list.size() > 1) {
        try {
          port = Integer.parseInt(list.get(1));
        } catch (NumberFormatException e) {
          err.println("affinity: --demo takes a port number, got \"" + list.get(1) + "\"");
          return new Running(EXIT_USAGE, null, null);
        }
      }
      return demo(port, out, err);
    }
    boolean checkOnly = list.get(0).equals("--check");
    if (checkOnly && list.size() != 2) {
      usage(err);
      return new Running(EXIT_USAGE, null, null);
    }
    String takeoverArgument = null;
    Path pidFile = null;
    int next = checkOnly ? 1 : 0;
    while (!checkOnly && next < list.size() - 1 && list.get(next).startsWith("--")) {
      String option = list.get(next);
      if (option.equals("--takeover") && takeoverArgument == null) {
        takeoverArgument = list.get(next + 1);
      } else if (option.equals("--pid-file") && pidFile == null) {
        pidFile = Path.of(list.get(next + 1));
      } else {
        err.println("affinity: " + option + (option.equals("--takeover") || option.equals("--pid-file") ? " given twice" : ": no such option"));
        usage(err);
        return new Running(EXIT_USAGE, null, null);
      }
      next += 2;
    }
    if (next != list.size() - 1 || list.get(next).startsWith("--")) {
      usage(err);
      return new Running(EXIT_USAGE, null, null);
    }
    Path file = Path.of(list.get(next));
    BalancerConfig config;
    try {
      config = BalancerConfigLoader.load(file);
    } catch (ConfigException e) {
      err.println("affinity: " + e.getMessage());
      return new Running(EXIT_CONFIG, null, null);
    }
    if (checkOnly) {
      out.println("affinity: " + file + " is valid (" + config.targetGroups().size() + " target groups)");
      return new Running(0, null, null);
    }
    // The process this one takes over, if it still runs: until this one is ready, that one serves alone.
    ProcessHandle old = null;
    if (takeoverArgument != null) {
      try {
        old = Takeover.find(takeoverArgument).orElse(null);
      } catch (Takeover.Refused e) {
        err.println("affinity: " + e.getMessage());
        return new Running(EXIT_USAGE, null, null);
      }
      if (old == null) {
        out.println("affinity: --takeover " + takeoverArgument + ": no balancer runs there; starting as usual");
      }
    }
    if (old == null) {
      // The ports are opened with SO_REUSEPORT (so that a successor can take them over), which would also let a
      // second balancer started by mistake share them: refused here, as a plain bind would.
      for (var address : ownAddresses(config)) {
        if (Takeover.inUse(address)) {
          err.println("affinity: cannot listen on " + address.getHostString() + ":" + address.getPort() + ": another process listens"
              + " there (a balancer running? --takeover PID|PIDFILE replaces it without a failed request)");
          return new Running(EXIT_START, null, null);
        }
      }
    }
    BalancerFactory factory = shutdownTimer == null
        ? new BalancerFactory(clock, CodecMetrics.counting())
        : new BalancerFactory(clock, CodecMetrics.counting(), shutdownTimer);
    AffinityServer server;
    try {
      server = factory.server(config, true, old == null);
    } catch (KeyMaterialException e) {
      // The loader read these files a moment ago; they changed (or went) since.
      err.println("affinity: " + file + ": " + e.getMessage());
      return new Running(EXIT_CONFIG, null, null);
    }
    // Reloads, the registration API and DNS discovery all rebuild the router through one Topology.
    Topology topology = new Topology(factory, server, config);
    // Before the start: the first request already finds the registered targets (and the draining ones).
    Path stateFile = stateFile(file, config);
    if (config.admin().hasWriteToken() && !Files.isWritable(stateFile.toAbsolutePath().getParent())) {
      err.println("affinity: " + file + ": admin.stateFile: cannot write in " + stateFile.toAbsolutePath().getParent()
          + ", where the registration API keeps its targets (" + stateFile.getFileName() + "); set admin.stateFile to a writable place");
      server.stop();
      return new Running(EXIT_CONFIG, null, null);
    }
    RegistrationApi api = new RegistrationApi(topology, new RegistrationState(stateFile), clock, () -> ownPorts(server));
    try {
      api.restore();
    } catch (IOException e) {
      err.println("affinity: " + e.getMessage());
      server.stop();
      return new Running(EXIT_CONFIG, null, null);
    }
    server.admin().setApi(api);
    // Before the listeners open, and when taking over, before this process shares the ports: the JIT compiles
    // the hot path on no client's time (while the process taken over still serves them). Bounded by
    // warmup.timeout; a warm-up that fails is reported and the start goes on.
    warmup.run(config, clock, out, err);
    try {
      server.start();
    } catch (IOException e) {
      StringBuilder addresses = new StringBuilder();
      for (var listen : config.listeners()) {
        addresses.append(addresses.length() == 0 ? "" : ", ").append(listen.host()).append(':').append(listen.port());
      }
      err.println("affinity: cannot listen on " + addresses + ": " + rootMessage(e)
          + (old != null ? " (if that is the balancer taken over: one from a version before --takeover does not share its ports;"
              + " restart it once)" : ""));
      server.stop();
      return new Running(EXIT_START, null, null);
    }
    // Edits to the file (or SIGHUP) are applied without a restart.
    server.server().addBean(topology, false);
    server.server().addManaged(new ConfigReloader(file, config, factory, server, topology, reloadScheduler, RELOAD_POLL_INTERVAL));
    // Groups with discovery: get their targets from DNS (and follow reloads that change it).
    DnsDiscovery discovery = new DnsDiscovery(topology, new ScheduledExecutorScheduler("affinity-dns", true), Clock.systemUTC());
    server.server().addManaged(discovery);
    if (old != null) {
      takeOver(old, server, discovery, out, err);
    }
    AutoCloseable removePidFile = null;
    if (pidFile != null) {
      long pid = ProcessHandle.current().pid();
      try {
        Takeover.writePidFile(pidFile, pid);
      } catch (IOException e) {
        err.println("affinity: --pid-file " + pidFile + ": cannot write it: " + rootMessage(e));
        server.stop();
        return new Running(EXIT_START, null, null);
      }
      Path written = pidFile;
      removePidFile = () -> Takeover.removePidFile(written, pid, err);
    }
    if (old != null) {
      // After the pid file names this process: a systemd unit's PIDFile= follows it when the old one exits.
      String signal = Takeover.signal(old);
      long oldPid = old.pid();
      if (signal == null) {
        err.println("affinity: could not signal pid " + oldPid + "; it still serves beside this process: stop it yourself");
      } else {
        out.println("affinity: took over from pid " + oldPid + " (" + signal + "): it stops accepting, drains and exits");
        old.onExit().thenRun(() -> {
          out.println("affinity: pid " + oldPid + " has exited; this balancer serves alone");
          out.flush();
        });
      }
    }
    out.println("affinity: balancing on " + server.uri() + "  (status page: " + server.adminUri() + "/status)");
    out.flush();
    return new Running(0, server, removePidFile);
  }

  /**
   * The takeover's wait: bound and listening but not accepting (the kernel queues this process's share of
   * new connections), it finishes its first round (DNS answers, one probe of every target) so that it
   * knows the targets before it serves, then accepts.
   */
  private static void takeOver(ProcessHandle old, AffinityServer server, DnsDiscovery discovery, PrintStream out, PrintStream err)
      throws InterruptedException {
    out.println("affinity: taking over from pid " + old.pid() + ": listening beside it; first DNS answers and health checks");
    out.flush();
    if (!Takeover.firstRound(discovery.firstAnswers(), () -> server.healthChecker().checkAll(), Takeover.FIRST_ROUND_BOUND)) {
      err.println("affinity: the first DNS answers and health checks took longer than " + Takeover.FIRST_ROUND_BOUND
          + "; taking over anyway (targets not yet answered are taken as healthy, as at any start)");
    }
    server.accept();
    String warning = Takeover.migrateReqWarning(Takeover.TCP_MIGRATE_REQ);
    if (warning != null) {
      err.println("affinity: warning: " + warning);
    }
  }

  /** The fixed ports the file asks for (public listeners and admin port; port 0 is always free). */
  private static List<InetSocketAddress> ownAddresses(BalancerConfig config) {
    List<InetSocketAddress> addresses = new ArrayList<>();
    for (var listen : config.listeners()) {
      if (listen.port() != 0) {
        addresses.add(new InetSocketAddress(listen.host(), listen.port()));
      }
    }
    Integer adminPort = config.admin().port();
    if (adminPort != null && adminPort != 0) {
      // The admin port is on the first listener's interface (AffinityServer).
      addresses.add(new InetSocketAddress(config.listeners().get(0).host(), adminPort));
    }
    return addresses;
  }

  /**
   * Where the registration API keeps its targets: {@code admin.stateFile}, else beside the YAML file, named
   * after it ({@code balancer.yaml} keeps {@code balancer.state.json}).
   */
  static Path stateFile(Path yaml, BalancerConfig config) {
    if (config.admin().stateFile() != null) {
      return config.admin().stateFile();
    }
    String name = yaml.getFileName().toString().replaceFirst("\\.(yaml|yml)$", "");
    Path directory = yaml.toAbsolutePath().getParent();
    return directory.resolve(name + ".state.json");
  }

  /** The ports this balancer listens on, admin port included: a target there on this machine would be itself. */
  private static java.util.Set<Integer> ownPorts(AffinityServer server) {
    java.util.Set<Integer> ports = new java.util.HashSet<>();
    for (org.eclipse.jetty.server.Connector connector : server.server().getConnectors()) {
      if (connector instanceof org.eclipse.jetty.server.NetworkConnector network && network.getLocalPort() > 0) {
        ports.add(network.getLocalPort());
      }
    }
    return ports;
  }

  private static Running demo(int port, PrintStream out, PrintStream err) throws Exception {
    DemoTargets targets = DemoTargets.start(3);
    StringBuilder yaml = new StringBuilder()
        .append("listen: { host: 127.0.0.1, port: ").append(port).append(" }\n")
        .append("targetGroups:\n")
        .append("  - name: demo\n")
        .append("    algorithm: round_robin\n")
        .append("    stickiness: { type: duration, duration: PT1H, sliding: true }\n")
        .append("    healthCheck: { path: /health, interval: PT2S, timeout: PT1S, healthyThreshold: 2, unhealthyThreshold: 2 }\n")
        .append("    targets:\n");
    int i = 1;
    for (URI uri : targets.uris()) {
      yaml.append("      - { id: target-").append(i++).append(", uri: \"").append(uri).append("\" }\n");
    }
    BalancerConfig config = BalancerConfigLoader.parse(yaml.toString(), "demo.yaml");
    AffinityServer server = new BalancerFactory(Clock.systemUTC(), CodecMetrics.counting()).server(config);
    try {
      server.start();
    } catch (IOException e) {
      if (!(rootCause(e) instanceof BindException) || port == 0) {
        throw e;
      }
      server.stop();
      err.println("affinity: port " + port + " is busy; using a free port instead");
      String freePort = yaml.toString().replace("port: " + port + " }", "port: 0 }");
      server = new BalancerFactory(Clock.systemUTC(), CodecMetrics.counting()).server(BalancerConfigLoader.parse(freePort, "demo.yaml"));
      server.start();
    }
    URI uri = server.uri();
    out.println();
    out.println("Affinity demo: a sticky balancer in front of three targets");
    out.println("  balancer   " + uri + "/");
    for (int t = 0; t < targets.uris().size(); t++) {
      out.println("  target-" + (t + 1) + "   " + targets.uris().get(t));
    }
    out.println("  status     " + uri + "/affinity/status");
    out.println();
    out.println("Stickiness: the first request pins you, the next ones stay on the same target:");
    out.println("  curl -s -c /tmp/affinity.jar -b /tmp/affinity.jar " + uri + "/   # run it a few times");
    out.println("A new client (no cookie jar) is balanced round robin:");
    out.println("  curl -s " + uri + "/");
    out.println("Press Ctrl+C to stop.");
    out.flush();
    return new Running(0, server, targets);
  }

  private static void usage(PrintStream stream) {
    stream.println("usage: java -jar affinity-balancer.jar [--pid-file PIDFILE] [--takeover PID|PIDFILE] FILE.yaml");
    stream.println("                                                     run the balancer; --takeover: in place of the running one");
    stream.println("       java -jar affinity-balancer.jar --check FILE  validate a configuration");
    stream.println("       java -jar affinity-balancer.jar --demo [PORT] run a demo with three targets");
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  private static String rootMessage(Throwable t) {
    Throwable root = rootCause(t);
    return root.getMessage() == null ? root.toString() : root.getMessage();
  }

}
