package dev.affinity.bench.soak;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The soak: real Jetty targets in this JVM, the real balancer in a child JVM, a fixed-rate mix of
 * normal and hostile clients, and a target killed and restarted every churn period. At every interval
 * mark it records the balancer's heap after a forced full GC, threads, open descriptors, RSS, the
 * machine's idle share, latency and errors per kind of client, and re-pins as the balancer counted
 * them and as the clients saw them; then checks that heap, threads and descriptors in the last interval
 * are within 5 % of the baseline interval.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.affinity.bench.soak.Soak --balancer-jar balancer/target/affinity-balancer.jar \
 *     --minutes 20 --rate 150 --out bench/results/soak-DATE
 * </pre>
 *
 * Run {@code bench/soak.sh --help} for every option.
 */
public final class Soak {
  static final double FLAT_TOLERANCE = 0.05;
  /** The balancer's own counts of what went wrong, reported at the end of a run. */
  static final List<String> BALANCER_COUNTERS = List.of("affinity_failovers", "affinity_bad_gateway_responses",
      "affinity_gateway_timeout_responses", "affinity_no_target_responses", "affinity_request_head_timeouts",
      "affinity_target_ejections", "affinity_target_failures");

  private final Settings settings;

  public Soak(Settings settings) {
    this.settings = requireNonNull(settings, "settings");
  }

  public static void main(String[] args) throws Exception {
    Settings settings;
    try {
      settings = Settings.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("soak: " + e.getMessage());
      System.exit(64);
      return;
    }
    Result result = new Soak(settings).run();
    System.out.println(result.summary());
    System.exit(result.passed() ? 0 : 1);
  }

  /** {@code --rate auto}: measure the soak's own CPU per request first, see {@link #calibrated}. */
  static final double AUTO_RATE = 0;
  /** The share of the machine (all cores) the soak's own JVMs may use at the rate {@code --rate auto} picks. */
  static final double CPU_BUDGET_PERCENT = 50;
  private static final double PROBE_RATE = 60;

  /**
   * The rate that leaves the machine at least 30 % idle: a 30 s probe of the same mix (no churn) at
   * 60 requests/s measures the CPU the soak's own JVMs (clients, targets, balancer) use, and the rate is
   * scaled so that they would use {@link #CPU_BUDGET_PERCENT} of the machine: half, which leaves room
   * for what else runs. What else runs is not known in advance; each interval reports the idle share.
   */
  static Settings calibrated(Settings s) throws Exception {
    Settings probe = new Settings(Duration.ofSeconds(30), Duration.ofSeconds(15), PROBE_RATE, s.clients(), s.webSockets(),
        s.wsMessagesPerSecond(), s.wsSessionLength(), s.slowloris(), s.targets(), Duration.ofHours(1), Duration.ofSeconds(1),
        1, s.out().resolve("calibration"), s.balancerLaunch(), s.balancerJvm(), s.headTimeout(), s.ejectFor());
    Result r = new Soak(probe).run();
    // The second interval: the first one carries the JIT's warm-up.
    double own = r.interval(2).ownCpuPercent();
    double rate = Math.max(10, Math.min(1000, Math.floor(PROBE_RATE * CPU_BUDGET_PERCENT / Math.max(own, 0.1))));
    System.out.println(format("soak: calibration: %.0f requests/s used %.1f %% of the machine (idle %.1f %%); rate %.0f "
        + "requests/s for a budget of %.0f %%", PROBE_RATE, own, r.interval(2).idlePercent(), rate, CPU_BUDGET_PERCENT));
    return new Settings(s.duration(), s.interval(), rate, s.clients(), s.webSockets(), s.wsMessagesPerSecond(),
        s.wsSessionLength(), s.slowloris(), s.targets(), s.churnEvery(), s.downFor(), s.baseline(), s.out(),
        s.balancerLaunch(), s.balancerJvm(), s.headTimeout(), s.ejectFor());
  }

  /** What to run. {@link #parse} reads the command line; every option has a default but the balancer. */
  public record Settings(Duration duration, Duration interval, double rate, int clients, int webSockets,
      double wsMessagesPerSecond, Duration wsSessionLength, int slowloris, int targets, Duration churnEvery,
      Duration downFor, int baseline, Path out, List<String> balancerLaunch, List<String> balancerJvm,
      Duration headTimeout, Duration ejectFor) {
    public Settings {
      requireNonNull(duration, "duration");
      requireNonNull(interval, "interval");
      requireNonNull(out, "out");
      requireNonNull(balancerLaunch, "balancerLaunch");
      requireNonNull(balancerJvm, "balancerJvm");
      if (interval.isZero() || interval.isNegative() || duration.compareTo(interval) < 0) {
        throw new IllegalArgumentException("the interval must be positive and at most the duration, got interval "
            + interval + " for duration " + duration);
      }
      long intervals = duration.toMillis() / interval.toMillis();
      if (baseline < 1 || baseline > intervals) {
        throw new IllegalArgumentException("baseline must be an interval between 1 and " + intervals + ", got " + baseline);
      }
      if (targets < 2) {
        throw new IllegalArgumentException("targets must be at least 2 (one is killed at a time), got " + targets);
      }
      if (downFor.compareTo(churnEvery) >= 0) {
        throw new IllegalArgumentException("down must be shorter than the churn period, got " + downFor + " of " + churnEvery);
      }
      if (balancerLaunch.isEmpty()) {
        throw new IllegalArgumentException("no balancer: give --balancer-jar JAR or --balancer-classpath CP");
      }
    }

    int intervals() {
      return (int) (duration.toMillis() / interval.toMillis());
    }

    /** Reads {@code --name value} options; see {@code bench/soak.sh --help}. */
    public static Settings parse(String... args) {
      Duration duration = Duration.ofMinutes(20);
      Duration interval = Duration.ofMinutes(1);
      double rate = AUTO_RATE;
      int clients = 300;
      int webSockets = 8;
      double wsRate = 4;
      Duration wsLength = Duration.ofSeconds(30);
      int slowloris = 8;
      int targets = 3;
      Duration churn = Duration.ofMinutes(1);
      Duration down = Duration.ofSeconds(15);
      Integer baseline = null;
      Path out = null;
      List<String> launch = List.of();
      List<String> jvm = List.of("-Xms64m", "-Xmx256m", "-XX:+UseG1GC");
      Duration headTimeout = Duration.ofSeconds(2);
      Duration ejectFor = Duration.ofSeconds(5);
      for (int i = 0; i < args.length; i++) {
        String name = args[i];
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(name + " needs a value");
        }
        String v = args[++i];
        switch (name) {
          case "--minutes" -> duration = Duration.ofSeconds(Math.round(number(name, v) * 60));
          case "--seconds" -> duration = Duration.ofSeconds(Math.round(number(name, v)));
          case "--interval-seconds" -> interval = Duration.ofMillis(Math.round(number(name, v) * 1000));
          case "--rate" -> rate = v.equals("auto") ? AUTO_RATE : positive(name, v);
          case "--clients" -> clients = (int) number(name, v);
          case "--websockets" -> webSockets = (int) number(name, v);
          case "--ws-rate" -> wsRate = number(name, v);
          case "--ws-session-seconds" -> wsLength = Duration.ofMillis(Math.round(number(name, v) * 1000));
          case "--slowloris" -> slowloris = (int) number(name, v);
          case "--targets" -> targets = (int) number(name, v);
          case "--churn-every-seconds" -> churn = Duration.ofMillis(Math.round(number(name, v) * 1000));
          case "--down-seconds" -> down = Duration.ofMillis(Math.round(number(name, v) * 1000));
          case "--baseline" -> baseline = (int) number(name, v);
          case "--out" -> out = Path.of(v);
          case "--balancer-jar" -> launch = List.of("-jar", v);
          case "--balancer-classpath" -> launch = List.of("-cp", v, "dev.affinity.standalone.BalancerLauncher");
          case "--balancer-jvm" -> jvm = Arrays.asList(v.trim().split("\\s+"));
          case "--head-timeout-ms" -> headTimeout = Duration.ofMillis((long) number(name, v));
          default -> throw new IllegalArgumentException("unknown option " + name);
        }
      }
      if (out == null) {
        out = Path.of("bench", "results", "soak-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmm")));
      }
      int intervals = (int) (duration.toMillis() / interval.toMillis());
      int base = baseline != null ? baseline : Math.min(5, Math.max(1, intervals / 2));
      return new Settings(duration, interval, rate, clients, webSockets, wsRate, wsLength, slowloris, targets, churn, down,
          base, out, launch, jvm, headTimeout, ejectFor);
    }

    private static double positive(String name, String value) {
      double d = number(name, value);
      if (d == 0) {
        throw new IllegalArgumentException(name + " takes a positive number or auto, got \"" + value + "\"");
      }
      return d;
    }

    private static double number(String name, String value) {
      try {
        double d = Double.parseDouble(value);
        if (!(d >= 0) || Double.isInfinite(d)) {
          throw new NumberFormatException();
        }
        return d;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(name + " takes a non-negative number, got \"" + value + "\"");
      }
    }
  }

  /** One interval's figures (the resources at its end; the traffic within it). */
  public record Interval(int index, double seconds, double idlePercent, double ownCpuPercent, long heapAfterFullGcKb,
      long threads, long threadsMax, long fds, long fdsMax, long clientConnections, long rssKb, long balancerRePins, long observedRePins,
      int kills, int backlog, Recorder.Window traffic) {
  }

  /** The whole run: intervals, totals and the checks. */
  public record Result(Settings settings, List<Interval> intervals, Recorder.Window total, long balancerRePins,
      long observedRePins, long toldPinned, long toldUnpinned, long unexplainedRePins, List<String> unexplainedExamples, long wsCutByKill,
      long forgedAccepted, int kills, long leftOpenAtKill, Map<String, Long> balancerCounters, int balancerExit,
      String flatness, boolean flat) {

    public long idempotentErrors() {
      return total.errors(true);
    }

    public long hostileServerErrors() {
      return total.hostileServerErrors();
    }

    /**
     * Every re-pin the balancer counted reached a client with the previous target named, each pinned
     * client that was told so saw its target change, and every move left a target that had been killed.
     */
    public boolean rePinsAccounted() {
      return balancerRePins == toldPinned + toldUnpinned && observedRePins == toldPinned && unexplainedRePins == 0;
    }

    public boolean passed() {
      return idempotentErrors() == 0 && hostileServerErrors() == 0 && rePinsAccounted() && forgedAccepted == 0 && flat;
    }

    public Interval interval(int oneBased) {
      return intervals.get(oneBased - 1);
    }

    public String summary() {
      return Report.summary(this);
    }
  }

  public Result run() throws Exception {
    Settings s = settings.rate() == AUTO_RATE ? calibrated(settings) : settings;
    Files.createDirectories(s.out());
    Recorder recorder = new Recorder();
    List<Interval> intervals = new ArrayList<>();
    List<long[]> procSamples = new CopyOnWriteArrayList<>();
    ScheduledExecutorService churn = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "soak-churn");
      t.setDaemon(true);
      return t;
    });
    java.util.concurrent.atomic.AtomicInteger kills = new java.util.concurrent.atomic.AtomicInteger();
    long selfPid = ProcessHandle.current().pid();
    try (SoakTargets targets = SoakTargets.start(s.targets());
         BalancerProcess balancer = BalancerProcess.start(s.out(), s.balancerLaunch(), s.balancerJvm(),
             targets.all().stream().map(SoakTargets.Target::uri).toList(),
             new BalancerProcess.Settings(s.ejectFor(), s.headTimeout()))) {
      HttpClient admin = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      awaitReady(admin, balancer, s.targets());
      Traffic traffic = new Traffic(balancer.uri(), targets, recorder, new Traffic.Params(s.rate(), s.clients(),
          s.webSockets(), s.wsMessagesPerSecond(), s.wsSessionLength(), s.slowloris(), s.headTimeout(), 24L));
      try {
        long startNanos = System.nanoTime();
        traffic.start();
        // Churn: target k % n is killed half a period into period k and restarted after the down time.
        for (long at = s.churnEvery().toMillis() / 2, k = 0; at < s.duration().toMillis(); at += s.churnEvery().toMillis(), k++) {
          SoakTargets.Target victim = targets.get((int) (k % s.targets()));
          churn.schedule(() -> {
            try {
              victim.kill();
              kills.incrementAndGet();
            } catch (Exception e) {
              recorder.error(Kind.STICKY_GET, 0, "the soak could not kill " + victim.id + ": " + Traffic.reason(e), false);
            }
          }, at, TimeUnit.MILLISECONDS);
          churn.schedule(() -> {
            try {
              victim.restart();
            } catch (Exception e) {
              recorder.error(Kind.STICKY_GET, 0, "the soak could not restart " + victim.id + ": " + Traffic.reason(e), false);
            }
          }, at + s.downFor().toMillis(), TimeUnit.MILLISECONDS);
        }
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "soak-proc");
          t.setDaemon(true);
          return t;
        });
        sampler.scheduleAtFixedRate(() -> {
          if (balancer.isAlive()) {
            BalancerProcess.ProcSample p = balancer.sample();
            procSamples.add(new long[] {p.threads(), p.fds()});
          }
        }, 0, 1, TimeUnit.SECONDS);
        long[] cpu = Cpu.machine();
        long ownTicks = BalancerProcess.cpuTicks(selfPid) + BalancerProcess.cpuTicks(balancer.pid());
        long rePinsLast = (long) metric(admin, balancer, "affinity_target_repins");
        long observedLast = 0;
        int killsLast = 0;
        try {
          for (int i = 1; i <= s.intervals(); i++) {
            long markNanos = startNanos + s.interval().toNanos() * i;
            long waitNanos = markNanos - System.nanoTime();
            if (waitNanos > 0) {
              TimeUnit.NANOSECONDS.sleep(waitNanos);
            }
            if (!balancer.isAlive()) {
              throw new IllegalStateException("the balancer exited with " + balancer.exitCode() + "; see " + balancer.log());
            }
            Recorder.Window window = recorder.roll();
            long[] cpuNow = Cpu.machine();
            long ownNow = BalancerProcess.cpuTicks(selfPid) + BalancerProcess.cpuTicks(balancer.pid());
            double total = cpuNow[0] - cpu[0];
            double idle = 100.0 * (cpuNow[1] - cpu[1]) / total;
            double own = 100.0 * (ownNow - ownTicks) / total;
            cpu = cpuNow;
            ownTicks = ownNow;
            List<long[]> samples = new ArrayList<>(procSamples);
            procSamples.clear();
            long rePins = (long) metric(admin, balancer, "affinity_target_repins");
            long connections = (long) metric(admin, balancer, "affinity_open_connections");
            long observed = traffic.observedRePins();
            int killsNow = kills.get();
            // After the traffic figures: the forced GC must not land inside the measured window.
            long heap = balancer.heapAfterFullGcKb(s.out());
            BalancerProcess.ProcSample now = balancer.sample();
            Interval interval = new Interval(i, (System.nanoTime() - startNanos) / 1e9, idle, own, heap,
                median(samples, 0, now.threads()), max(samples, 0, now.threads()), median(samples, 1, now.fds()),
                max(samples, 1, now.fds()), connections, now.rssKb(), rePins - rePinsLast, observed - observedLast, killsNow - killsLast,
                traffic.backlog(), window);
            rePinsLast = rePins;
            observedLast = observed;
            killsLast = killsNow;
            intervals.add(interval);
            System.out.println(Report.line(interval));
          }
        } finally {
          sampler.shutdownNow();
        }
        // Stop scheduling, let the answers on their way arrive (the balancer counted their re-pins
        // before the clients saw them), then take the totals.
        traffic.stopScheduling();
        traffic.awaitQuiet(Duration.ofSeconds(15));
      } finally {
        traffic.close();
        churn.shutdownNow();
      }
      long rePinsEnd = (long) metric(admin, balancer, "affinity_target_repins");
      Map<String, Long> counters = new java.util.LinkedHashMap<>();
      for (String name : BALANCER_COUNTERS) {
        counters.put(name, (long) metric(admin, balancer, name));
      }
      long leftOpen = targets.all().stream().mapToLong(t -> t.leftOpenAtKill.get()).sum();
      balancer.close();
      String[] flatness = Report.flatness(intervals, s.baseline());
      int killed = kills.get();
      Result result = new Result(s, intervals, recorder.total(), rePinsEnd, traffic.observedRePins(),
          traffic.toldPinned(), traffic.toldUnpinned(), traffic.unexplainedRePins(), traffic.unexplainedExamples(), traffic.webSocketsCutByKill(),
          traffic.forgedAccepted(), killed, leftOpen, counters, balancer.isAlive() ? -1 : balancer.exitCode(), flatness[0],
          flatness[1].equals("flat"));
      Report.write(result, s.out());
      return result;
    } finally {
      churn.shutdownNow();
    }
  }

  private static void awaitReady(HttpClient admin, BalancerProcess balancer, int targets) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      if (!balancer.isAlive()) {
        throw new IllegalStateException("the balancer exited with " + balancer.exitCode() + " at start: "
            + Files.readString(balancer.log(), StandardCharsets.UTF_8).strip());
      }
      try {
        if (metric(admin, balancer, "affinity_target_healthy") == targets) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the balancer did not report " + targets + " healthy targets within 60 s; see "
            + balancer.log());
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
  }

  /** The sum of every sample of a metric in the balancer's Prometheus text ({@code _total} suffix or not). */
  static double metric(HttpClient admin, BalancerProcess balancer, String name) throws IOException, InterruptedException {
    HttpResponse<String> r = admin.send(HttpRequest.newBuilder(balancer.uri().resolve(BalancerProcess.ADMIN_PATH + "/metrics"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("metrics answered " + r.statusCode());
    }
    return sum(r.body(), name);
  }

  static double sum(String prometheusText, String name) {
    double sum = 0;
    for (String line : prometheusText.split("\n")) {
      if (line.startsWith("#")) {
        continue;
      }
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
        end++;
      }
      String metric = line.substring(0, end);
      if (metric.equals(name) || metric.equals(name + "_total")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  private static long median(List<long[]> samples, int field, long fallback) {
    if (samples.isEmpty()) {
      return fallback;
    }
    long[] v = samples.stream().mapToLong(a -> a[field]).sorted().toArray();
    return v[v.length / 2];
  }

  private static long max(List<long[]> samples, int field, long fallback) {
    return samples.stream().mapToLong(a -> a[field]).max().orElse(fallback);
  }

  /** The machine's CPU from {@code /proc/stat}: total and idle (idle + iowait) ticks over all CPUs. */
  static final class Cpu {
    private Cpu() {
    }

    static long[] machine() throws IOException {
      for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
        if (line.startsWith("cpu ")) {
          String[] f = line.trim().split("\\s+");
          long total = 0;
          // user nice system idle iowait irq softirq steal (guest time is already in user)
          for (int i = 1; i <= 8 && i < f.length; i++) {
            total += Long.parseLong(f[i]);
          }
          return new long[] {total, Long.parseLong(f[4]) + Long.parseLong(f[5])};
        }
      }
      throw new IOException("/proc/stat has no cpu line");
    }
  }

  static String format(String pattern, Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }
}
