package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.GracefulShutdown;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dist/affinity-balancer.service} runs what this module builds: the jar the shade plugin makes,
 * its main class, and launcher flags that exist, run here against a real file; the stop settings fit
 * the shutdown grace; and {@code systemd-analyze verify} finds nothing to say about it where it is installed.
 */
class SystemdUnitTest {
  private static final Path UNIT = Path.of("dist/affinity-balancer.service");

  @TempDir
  Path dir;

  /** The [Service] section: each key with its values in order (ExecStartPre may repeat). */
  private static Map<String, List<String>> service() throws IOException {
    Map<String, List<String>> keys = new LinkedHashMap<>();
    String section = "";
    for (String raw : Files.readAllLines(UNIT)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      if (line.startsWith("[")) {
        section = line;
        continue;
      }
      assertThat(line).as("a continued line in %s", UNIT).doesNotEndWith("\\");
      int eq = line.indexOf('=');
      assertThat(eq).as("key=value: %s", line).isPositive();
      if (section.equals("[Service]")) {
        keys.computeIfAbsent(line.substring(0, eq), k -> new ArrayList<>()).add(line.substring(eq + 1));
      }
    }
    return keys;
  }

  /** The launcher's arguments in a command line: what follows {@code -jar JAR}; the JAR is checked. */
  private static List<String> launcherArguments(String commandLine) throws IOException {
    List<String> words = Arrays.asList(commandLine.trim().split("\\s+"));
    int jar = words.indexOf("-jar");
    assertThat(jar).as("-jar in %s", commandLine).isPositive();
    assertThat(words.get(0)).as("an absolute java").startsWith("/").endsWith("/java");
    String pom = Files.readString(Path.of("pom.xml"));
    String jarName = Path.of(words.get(jar + 1)).getFileName().toString();
    assertThat(pom).as("the shade plugin builds %s", jarName).contains("<outputFile>${project.build.directory}/" + jarName + "</outputFile>");
    assertThat(pom).contains("<mainClass>" + BalancerLauncher.class.getName() + "</mainClass>");
    return words.subList(jar + 2, words.size());
  }

  @Test
  void execStartPreChecksTheFileAndExecStartRunsItWithTheLaunchersRealFlags() throws Exception {
    Map<String, List<String>> service = service();
    List<String> check = launcherArguments(service.get("ExecStartPre").get(0));
    List<String> run = launcherArguments(service.get("ExecStart").get(0));
    assertThat(check).hasSize(2);
    assertThat(check.get(0)).isEqualTo("--check");
    assertThat(run).as("ExecStart runs the file ExecStartPre checked, writing the unit's PIDFile")
        .containsExactly("--pid-file", service.get("PIDFile").get(0), check.get(1));
    assertThat(Path.of(service.get("PIDFile").get(0)).getParent()).as("the pid file in the service's own runtime directory")
        .isEqualTo(Path.of("/run", service.get("RuntimeDirectory").get(0)));

    // The same arguments, the file swapped for a real one: --check validates, the bare file runs.
    Path good = Files.writeString(dir.resolve("balancer.yaml"), "listen: { host: 127.0.0.1, port: 0 }\n"
        + "keys: [ { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" } ]\n"
        + "targetGroups: [ { name: web, targets: [ { id: t1, uri: \"http://127.0.0.1:9\" } ] } ]\n");
    assertThat(launch(swap(check, good)).exitCode()).isZero();
    Path bad = Files.writeString(dir.resolve("bad.yaml"), "targetGroups: [ { name: web, targets: [ { id: t1, uri: \"ftp://x\" } ] } ]\n");
    assertThat(launch(swap(check, bad)).exitCode()).as("a bad file stops the unit before ExecStart").isEqualTo(BalancerLauncher.EXIT_CONFIG);
    String[] here = swap(run, good);
    Path pidFile = dir.resolve("balancer.pid");
    here[1] = pidFile.toString();
    try (BalancerLauncher.Running running = launch(here)) {
      assertThat(running.exitCode()).isZero();
      assertThat(running.server()).isNotNull();
      assertThat(running.server().server().isStarted()).isTrue();
      assertThat(Files.readString(pidFile).strip()).isEqualTo(Long.toString(ProcessHandle.current().pid()));
    }
  }

  @Test
  void theJvmOptionsBeforeTheJarAreAcceptedByThisJava() throws Exception {
    String commandLine = service().get("ExecStart").get(0);
    List<String> words = Arrays.asList(commandLine.trim().split("\\s+"));
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(words.subList(1, words.indexOf("-jar")));
    command.add("-version");
    Process java = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(java.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(java.exitValue()).as("%s: %s", command, output).isZero();
  }

  @Test
  void stopsWithSigtermAndWaitsLongerThanTheGrace() throws Exception {
    Map<String, List<String>> service = service();
    assertThat(service.get("KillSignal")).containsExactly("SIGTERM");
    assertThat(service.get("KillMode")).containsExactly("mixed");
    long timeoutStopSeconds = Long.parseLong(service.get("TimeoutStopSec").get(0));
    assertThat(timeoutStopSeconds).as("TimeoutStopSec leaves the JVM time after the grace")
        .isGreaterThanOrEqualTo(GracefulShutdown.DEFAULT_GRACE.toSeconds() + 10);
    assertThat(service.get("ExecReload")).containsExactly("/bin/kill -HUP $MAINPID");
    assertThat(service.get("User")).as("a dedicated user").containsExactly("affinity");
    assertThat(service.get("NoNewPrivileges")).containsExactly("yes");
    assertThat(service.get("ProtectSystem")).containsExactly("strict");
    assertThat(service).as("the JIT needs writable, executable memory").doesNotContainKey("MemoryDenyWriteExecute");
  }

  @Test
  void systemdAnalyzeVerifiesIt() throws Exception {
    Path analyze = Path.of("/usr/bin/systemd-analyze");
    assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed");
    // verify checks that ExecStart's program exists; it is the unit's /usr/bin/java.
    String java = launcherJava();
    assumeTrue(Files.isExecutable(Path.of(java)), java + " is not installed here");
    Path copy = Files.copy(UNIT, dir.resolve(UNIT.getFileName()));
    Process verify = new ProcessBuilder(analyze.toString(), "verify", copy.toString()).redirectErrorStream(true).start();
    String output = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(verify.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(verify.exitValue()).as(output).isZero();
    // Unknown keys and bad values are warnings, with a zero exit: none may name this unit.
    assertThat(output.lines().filter(l -> l.contains(UNIT.getFileName().toString()))).as(output).isEmpty();
  }

  private static String launcherJava() throws IOException {
    return service().get("ExecStart").get(0).trim().split("\\s+")[0];
  }

  private static String[] swap(List<String> arguments, Path file) {
    String[] swapped = arguments.toArray(new String[0]);
    swapped[swapped.length - 1] = file.toString();
    return swapped;
  }

  private static BalancerLauncher.Running launch(String[] args) throws Exception {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    PrintStream stream = new PrintStream(sink, true, StandardCharsets.UTF_8);
    return BalancerLauncher.run(args, stream, stream, new ManualScheduler());
  }
}
