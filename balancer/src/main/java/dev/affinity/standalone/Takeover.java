package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A new balancer process taking the place of a running one ({@code --takeover PID|PIDFILE}), as HAProxy's
 * seamless reload and NGINX's binary upgrade do: both bind the same ports with {@code SO_REUSEPORT}; the
 * new one finishes its first round (DNS answers, one health probe of every target) before it accepts, then
 * tells the old one to stop ({@code SIGUSR1}: the graceful stop without the unready delay, the address
 * being served all along), which closes its listeners, drains and exits. Clients' pins are in their
 * cookies, so the new process serves every pinned client from its first request.
 *
 * <p>Also the pid file ({@code --pid-file}), which names the process serving now: written when it serves
 * (atomically), removed at exit unless a successor has written its own pid there already. A systemd unit's
 * {@code PIDFile=} follows the successor that way.
 */
final class Takeover {
  /** The most the new process waits for its first round before it accepts and tells the old one to stop. */
  static final Duration FIRST_ROUND_BOUND = Duration.ofSeconds(15);
  /**
   * Linux ≥ 5.14: 1 moves the connections in a closing listener's accept queue to another socket of its
   * {@code SO_REUSEPORT} group; 0 (the default) resets them.
   */
  static final Path TCP_MIGRATE_REQ = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");

  private Takeover() {}

  /** Refused {@code --takeover} or {@code --pid-file} arguments. */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message);
    }
  }

  /**
   * The process {@code pidOrFile} names: a process id, or a pid file holding one. Empty when the file does
   * not exist or the process is gone (there is nothing to take over: the caller starts as usual).
   */
  static Optional<ProcessHandle> find(String pidOrFile) throws Refused {
    requireNonNull(pidOrFile, "pidOrFile");
    String pid = pidOrFile;
    if (!pidOrFile.chars().allMatch(Character::isDigit) || pidOrFile.isEmpty()) {
      Path file = Path.of(pidOrFile);
      try {
        pid = Files.readString(file, StandardCharsets.US_ASCII).strip();
      } catch (NoSuchFileException e) {
        return Optional.empty();
      } catch (IOException e) {
        throw new Refused("--takeover " + pidOrFile + ": cannot read the pid file: " + e.getMessage());
      }
      if (pid.isEmpty() || !pid.chars().allMatch(Character::isDigit) || pid.length() > 10) {
        throw new Refused("--takeover " + pidOrFile + ": the pid file holds \"" + abbreviate(pid) + "\", not a process id");
      }
    }
    long id;
    try {
      id = Long.parseLong(pid);
    } catch (NumberFormatException e) {
      throw new Refused("--takeover takes a process id or a pid file, got \"" + abbreviate(pidOrFile) + "\"");
    }
    if (id == ProcessHandle.current().pid()) {
      throw new Refused("--takeover " + pidOrFile + " names this very process (" + id + ")");
    }
    Optional<ProcessHandle> process = ProcessHandle.of(id).filter(ProcessHandle::isAlive);
    if (process.isPresent()) {
      // A stale pid file may name a recycled id: never signal anything but a JVM.
      Optional<String> command = process.get().info().command();
      if (command.isPresent() && !Path.of(command.get()).getFileName().toString().equals("java")) {
        throw new Refused("--takeover " + pidOrFile + ": process " + id + " is not a balancer (it runs " + command.get() + ")");
      }
    }
    return process;
  }

  /**
   * Whether something already listens on {@code address}: a bind without {@code SO_REUSEPORT} fails there
   * even when that something opened it with {@code SO_REUSEPORT}. Without {@code --takeover}, a second
   * balancer on the same port is a mistake, and is refused as before port sharing.
   */
  static boolean inUse(InetSocketAddress address) {
    try (ServerSocket probe = new ServerSocket()) {
      probe.setReuseAddress(true);
      probe.bind(address);
      return false;
    } catch (BindException e) {
      return true;
    } catch (IOException e) {
      // Another failure (no such interface...): the real bind reports it with its own words.
      return false;
    }
  }

  /**
   * Waits for the new process's first round: each discovery group's first DNS answer, then one probe of
   * every health-checked target; at most {@code bound}. Returns false when the bound ran out first.
   */
  static boolean firstRound(CompletableFuture<Void> dnsAnswers, java.util.function.Supplier<CompletableFuture<Void>> healthRound,
      Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    try {
      dnsAnswers.get(bound.toNanos(), TimeUnit.NANOSECONDS);
      healthRound.get().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      // A failed probe is a result (the target's health says so); the round is over.
      return true;
    }
  }

  /**
   * What to tell the operator about {@code net.ipv4.tcp_migrate_req}, or null when it is 1: with 0 the
   * connections waiting in the old process's accept queue when it closes its listener are reset.
   */
  static String migrateReqWarning(Path sysctl) {
    String value;
    try {
      value = Files.readString(sysctl, StandardCharsets.US_ASCII).strip();
    } catch (NoSuchFileException e) {
      return "this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 and later): connections waiting in the old process's"
          + " accept queue when it closes its listener are reset";
    } catch (IOException e) {
      return "cannot read " + sysctl + " (" + e.getMessage() + "): connections waiting in the old process's accept queue"
          + " when it closes its listener may be reset";
    }
    if (value.equals("1")) {
      return null;
    }
    return "net.ipv4.tcp_migrate_req is " + value + ": connections waiting in the old process's accept queue when it closes"
        + " its listener are reset instead of moving to this one; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1, and in"
        + " /etc/sysctl.d/ to keep it)";
  }

  /**
   * Tells {@code old} that it has been taken over: {@code SIGUSR1} (a graceful stop without the unready delay),
   * sent with {@code kill} since Java sends no other signal than {@code SIGTERM}; without a {@code kill}
   * command, {@code SIGTERM} (the same stop, unready delay included). Returns the signal sent.
   */
  static String signal(ProcessHandle old) {
    try {
      Process kill = new ProcessBuilder("kill", "-USR1", Long.toString(old.pid())).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0) {
        return "SIGUSR1";
      }
      kill.destroyForcibly();
    } catch (IOException e) {
      // No kill command: SIGTERM below.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return old.destroy() ? "SIGTERM" : null;
  }

  /** Writes {@code pid} to {@code file} atomically: a reader sees the old pid or the new one, never half of one. */
  static void writePidFile(Path file, long pid) throws IOException {
    Path absolute = file.toAbsolutePath();
    Path temp = absolute.resolveSibling("." + absolute.getFileName() + "." + pid + ".tmp");
    Files.writeString(temp, pid + "\n", StandardCharsets.US_ASCII);
    try {
      Files.move(temp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temp, absolute, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** Removes {@code file} if it still names {@code pid}; a successor's pid stays. */
  static void removePidFile(Path file, long pid, PrintStream err) {
    try {
      if (Files.readString(file, StandardCharsets.US_ASCII).strip().equals(Long.toString(pid))) {
        Files.delete(file);
      }
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      err.println("affinity: cannot remove the pid file " + file + ": " + e.getMessage());
    }
  }

  /**
   * The command that started this JVM, with {@code --takeover PID} (this process) in front of its launcher
   * arguments in place of any earlier {@code --takeover}: the same java, JVM options and jar (a jar replaced in
   * place is the new version), the same file and pid file.
   */
  static List<String> successorCommand(String executable, List<String> arguments, List<String> launcherArgs, long pid) throws Refused {
    if (executable == null || arguments == null) {
      throw new Refused("cannot read this process's command line to start a successor with");
    }
    int jvmPart = arguments.size() - launcherArgs.size();
    if (jvmPart < 0 || !arguments.subList(jvmPart, arguments.size()).equals(launcherArgs)) {
      throw new Refused("this process's command line " + arguments + " does not end with its arguments " + launcherArgs);
    }
    List<String> command = new ArrayList<>();
    command.add(executable);
    command.addAll(arguments.subList(0, jvmPart));
    command.add("--takeover");
    command.add(Long.toString(pid));
    for (int i = 0; i < launcherArgs.size(); i++) {
      if (launcherArgs.get(i).equals("--takeover") && i + 1 < launcherArgs.size() - 1) {
        i++;
      } else {
        command.add(launcherArgs.get(i));
      }
    }
    return command;
  }

  /**
   * This JVM's arguments (after the executable): from {@code /proc/self/cmdline} on Linux, since
   * {@link ProcessHandle.Info#arguments()} gives nothing for a command line longer than a page (a long class
   * path); else from {@code ProcessHandle.Info}; null when neither says.
   */
  static List<String> ownArguments() {
    Path cmdline = Path.of("/proc/self/cmdline");
    if (Files.isReadable(cmdline)) {
      try {
        String all = Files.readString(cmdline, StandardCharsets.UTF_8);
        List<String> words = new ArrayList<>(List.of(all.split("\0", -1)));
        if (!words.isEmpty() && words.get(words.size() - 1).isEmpty()) {
          words.remove(words.size() - 1);
        }
        if (!words.isEmpty()) {
          return List.copyOf(words.subList(1, words.size()));
        }
      } catch (IOException e) {
        // ProcessHandle.Info below
      }
    }
    return ProcessHandle.current().info().arguments().map(List::of).orElse(null);
  }

  /**
   * {@code SIGTTIN} (what NGINX's binary upgrade does on {@code SIGUSR2}; HotSpot suspends threads with
   * {@code SIGUSR2} for JFR's and profilers' sampling, so a handler there fired hundreds of times a minute under
   * a recording): this process starts its successor ({@link #successorCommand}),
   * which takes over from it. One at a time; a successor that exits before taking over (a bad file, a port it
   * could not share) leaves this process serving, and says why in the same output.
   */
  static final class Successor {
    private final List<String> launcherArgs;
    private final PrintStream out;
    private final PrintStream err;
    private Process starting;
    private boolean serving;

    Successor(List<String> launcherArgs, PrintStream out, PrintStream err) {
      this.launcherArgs = List.copyOf(launcherArgs);
      this.out = requireNonNull(out, "out");
      this.err = requireNonNull(err, "err");
    }

    /** From now on SIGTTIN starts a successor (before, this process is not serving yet: nothing to take over). */
    synchronized void serving() {
      serving = true;
    }

    synchronized void start() {
      if (!serving) {
        err.println("affinity: SIGTTIN: not serving yet (or not a balancer: --check, --demo); ignored");
        return;
      }
      if (starting != null && starting.isAlive()) {
        err.println("affinity: SIGTTIN: a successor (pid " + starting.pid() + ") is already taking over");
        return;
      }
      long pid = ProcessHandle.current().pid();
      Process process;
      try {
        List<String> command = successorCommand(ProcessHandle.current().info().command().orElse(null), ownArguments(), launcherArgs, pid);
        // Its output goes where this process's goes (the journal, under systemd).
        process = new ProcessBuilder(command).inheritIO().start();
      } catch (Refused | IOException e) {
        err.println("affinity: SIGTTIN: cannot start a successor: " + e.getMessage());
        return;
      }
      starting = process;
      out.println("affinity: SIGTTIN: started a successor (pid " + process.pid() + ") to take over from this process (pid " + pid + ")");
      out.flush();
      process.onExit().thenAccept(p -> err.println("affinity: the successor (pid " + p.pid() + ") exited with status " + p.exitValue()
          + "; this balancer serves on"));
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
