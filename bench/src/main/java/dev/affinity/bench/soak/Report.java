package dev.affinity.bench.soak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The soak's files: {@code intervals.csv}, {@code latency.csv}, {@code errors.txt}, {@code summary.txt}, {@code soak.png}. */
final class Report {
  private Report() {
  }

  private static String f(String pattern, Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }

  /** One line per interval on the console while the soak runs. */
  static String line(Soak.Interval i) {
    Recorder.PerKind sticky = i.traffic().get(Kind.STICKY_GET);
    return f("soak: %3d  %6.0f s  idle %5.1f %%  own cpu %5.1f %%  heap after full GC %7d KB  threads %3d  fds %4d  conns %3d  rss %7d KB"
            + "  sticky %6d p99 %7.1f ms  idempotent errors %d  hostile 5xx %d  re-pins %d/%d  kills %d  backlog %d",
        i.index(), i.seconds(), i.idlePercent(), i.ownCpuPercent(), i.heapAfterFullGcKb(), i.threads(), i.fds(), i.clientConnections(), i.rssKb(),
        sticky.count(), sticky.quantileMillis(0.99), i.traffic().errors(true), i.traffic().hostileServerErrors(),
        i.balancerRePins(), i.observedRePins(), i.kills(), i.backlog());
  }

  /** {text, "flat" | "not flat"}: heap after full GC, threads and descriptors, last interval against the baseline. */
  static String[] flatness(List<Soak.Interval> intervals, int baseline) {
    if (intervals.size() < baseline) {
      return new String[] {"not enough intervals for the baseline " + baseline, "not flat"};
    }
    Soak.Interval base = intervals.get(baseline - 1);
    Soak.Interval last = intervals.get(intervals.size() - 1);
    StringBuilder b = new StringBuilder();
    boolean flat = true;
    flat &= compare(b, "heap after full GC (KB)", base.heapAfterFullGcKb(), last.heapAfterFullGcKb(), base.index(), last.index());
    flat &= compare(b, "threads (median of 1 s samples)", base.threads(), last.threads(), base.index(), last.index());
    flat &= compare(b, "open fds (median of 1 s samples)", base.fds(), last.fds(), base.index(), last.index());
    return new String[] {b.toString(), flat ? "flat" : "not flat"};
  }

  private static boolean compare(StringBuilder b, String what, long base, long last, int baseIndex, int lastIndex) {
    double change = base == 0 ? (last == 0 ? 0 : Double.POSITIVE_INFINITY) : (double) (last - base) / base;
    boolean ok = Math.abs(change) <= Soak.FLAT_TOLERANCE;
    b.append(f("  %-34s interval %2d: %8d   interval %2d: %8d   %+6.1f %%   %s%n", what, baseIndex, base, lastIndex, last,
        change * 100, ok ? "within 5 %" : "NOT within 5 %"));
    return ok;
  }

  static String summary(Soak.Result r) {
    Soak.Settings s = r.settings();
    StringBuilder b = new StringBuilder();
    b.append(f("soak: %s, %d intervals of %s, %.0f scheduled requests/s, %d pinned clients, %d WebSockets, %d slowloris, "
            + "%d targets, one killed every %s for %s%n",
        s.duration(), s.intervals(), s.interval(), s.rate(), s.clients(), s.webSockets(), s.slowloris(), s.targets(),
        s.churnEvery(), s.downFor()));
    b.append(f("%-18s %9s %7s %6s %9s %9s %9s%n", "kind", "count", "errors", "5xx", "p50 ms", "p99 ms", "max ms"));
    for (Kind k : Kind.values()) {
      Recorder.PerKind p = r.total().get(k);
      b.append(f("%-18s %9d %7d %6d %9.1f %9.1f %9.1f%n", k.label(), p.count(), p.errors(), p.serverErrors(),
          p.quantileMillis(0.5), p.quantileMillis(0.99), p.quantileMillis(1.0)));
    }
    b.append(f("idempotent errors (sticky_get, new_get, ws_upgrade): %d%n", r.idempotentErrors()));
    b.append(f("hostile requests answered 5xx: %d%n", r.hostileServerErrors()));
    b.append(f("forged cookies accepted: %d%n", r.forgedAccepted()));
    b.append(f("kills: %d; WebSockets cut because their target was killed: %d; connections a killed target's stop had "
        + "left open (closed by the kill): %d%n", r.kills(), r.wsCutByKill(), r.leftOpenAtKill()));
    b.append("balancer counters at the end:");
    r.balancerCounters().forEach((name, value) -> b.append(' ').append(name).append('=').append(value));
    b.append('\n');
    b.append(f("re-pins: balancer counted %d; answers naming a previous target: %d to pinned clients (%d of them saw "
            + "their target change), %d to requests without a pin (retried after a refused connection); moves from a "
            + "target that had not been killed: %d: %s%n",
        r.balancerRePins(), r.toldPinned(), r.observedRePins(), r.toldUnpinned(), r.unexplainedRePins(),
        r.rePinsAccounted() ? "every re-pin accounted for" : "NOT accounted for"));
    for (String e : r.unexplainedExamples()) {
      b.append("  ").append(e).append('\n');
    }
    double minIdle = r.intervals().stream().mapToDouble(Soak.Interval::idlePercent).min().orElse(Double.NaN);
    double meanIdle = r.intervals().stream().mapToDouble(Soak.Interval::idlePercent).average().orElse(Double.NaN);
    double meanOwn = r.intervals().stream().mapToDouble(Soak.Interval::ownCpuPercent).average().orElse(Double.NaN);
    b.append(f("machine idle: mean %.1f %%, lowest interval %.1f %% (goal: at least 30 %%); soak's own JVMs: mean %.1f %% "
        + "of the machine%n", meanIdle, minIdle, meanOwn));
    b.append(f("balancer exit status after SIGTERM: %d%n", r.balancerExit()));
    b.append("flatness (last interval against interval ").append(s.baseline()).append(", 5 % allowed):\n").append(r.flatness());
    b.append(r.flat() ? "FLAT\n" : "NOT FLAT\n");
    b.append(r.passed() ? "PASS\n" : "FAIL\n");
    return b.toString();
  }

  static void write(Soak.Result r, Path dir) throws IOException {
    StringBuilder intervals = new StringBuilder("interval,seconds,idle_pct,own_cpu_pct,heap_after_full_gc_kb,threads,threads_max,"
        + "fds,fds_max,client_connections,rss_kb,repins_balancer,repins_observed,kills,backlog,idempotent_errors,hostile_5xx,"
        + "sticky_get_p50_ms,sticky_get_p99_ms,sticky_get_max_ms\n");
    StringBuilder latency = new StringBuilder("interval,kind,count,errors,status_5xx,p50_ms,p99_ms,max_ms\n");
    StringBuilder errors = new StringBuilder();
    for (Soak.Interval i : r.intervals()) {
      Recorder.PerKind sticky = i.traffic().get(Kind.STICKY_GET);
      intervals.append(f("%d,%.1f,%.1f,%.1f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.2f,%.2f,%.2f%n", i.index(), i.seconds(),
          i.idlePercent(), i.ownCpuPercent(), i.heapAfterFullGcKb(), i.threads(), i.threadsMax(), i.fds(), i.fdsMax(),
          i.clientConnections(), i.rssKb(), i.balancerRePins(), i.observedRePins(), i.kills(), i.backlog(), i.traffic().errors(true),
          i.traffic().hostileServerErrors(), sticky.quantileMillis(0.5), sticky.quantileMillis(0.99),
          sticky.quantileMillis(1.0)));
      for (Kind k : Kind.values()) {
        Recorder.PerKind p = i.traffic().get(k);
        latency.append(f("%d,%s,%d,%d,%d,%.2f,%.2f,%.2f%n", i.index(), k.label(), p.count(), p.errors(), p.serverErrors(),
            p.quantileMillis(0.5), p.quantileMillis(0.99), p.quantileMillis(1.0)));
        for (Map.Entry<String, Long> e : p.reasons().entrySet()) {
          errors.append(f("interval %d  %-16s %6d  %s%n", i.index(), k.label(), e.getValue(), e.getKey()));
        }
      }
    }
    Files.writeString(dir.resolve("intervals.csv"), intervals.toString().replace("NaN", ""), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("latency.csv"), latency.toString().replace("NaN", ""), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("errors.txt"), errors.length() == 0 ? "no errors\n" : errors.toString(), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("summary.txt"), summary(r), StandardCharsets.UTF_8);
    Files.deleteIfExists(dir.resolve("jcmd-commands.txt"));
    SoakPlot.write(r, dir.resolve("soak.png"));
  }
}
