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

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
