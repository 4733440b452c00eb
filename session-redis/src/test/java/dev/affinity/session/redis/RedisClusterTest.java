package dev.affinity.session.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.session.SaveResult;
import dev.affinity.session.Session;
import dev.affinity.session.SessionChange;
import dev.affinity.session.SessionRecord;
import dev.affinity.session.SessionStore;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The store against a local Redis Cluster of 3 masters and 3 replicas (real redis-server processes,
 * created with {@code redis-cli --cluster create}), through a manual failover of a master.
 */
class RedisClusterTest {
  private static final Clock CLOCK = Clock.systemUTC();
  private final List<RedisProcess> nodes = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (RedisProcess node : nodes) {
      node.close();
    }
  }

  /** Six ports p for which p and its cluster bus port p + 10000 are both free. */
  private static List<Integer> ports() throws IOException {
    List<Integer> ports = new ArrayList<>();
    // Node ports and their cluster-bus ports (port + 10000) both below Linux's ephemeral range
    // (32768+), so no outgoing connection of another test can take a bus port between the check
    // and the node's start.
    int p = 10_000 + ThreadLocalRandom.current().nextInt(12_000);
    while (ports.size() < 6) {
      if (free(p) && free(p + 10_000)) {
        ports.add(p);
      }
      p++;
    }
    return ports;
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  private void awaitState(String what, java.util.concurrent.Callable<Boolean> check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (check.call()) {
        return;
      }
      Thread.onSpinWait();
    }
    throw new AssertionError("timed out waiting for " + what);
  }

  private static SessionChange update(SessionRecord base, String value) {
    return new SessionChange(base.id(), base.version(), base.version() + 1, base.createdAt(), CLOCK.instant(),
        base.maxInactive(), Map.of("v", value.getBytes(StandardCharsets.UTF_8)), Set.of(), false);
  }

  @Test
  void storeWorksOnAClusterAndSurvivesAMasterFailover() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(RedisProcess.hasRedisCli(),
        "redis-cli is missing: install the Debian package redis-server (it pulls in redis-tools)");
    List<Integer> ports = ports();
    List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
    for (int port : ports) {
      nodes.add(RedisProcess.start(port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
          "--cluster-node-timeout", "2000", "--appendonly", "yes", "--appendfsync", "always"));
      create.add("127.0.0.1:" + port);
    }
    create.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    run(create.toArray(new String[0]));
    for (RedisProcess node : nodes) {
      awaitState("cluster_state:ok on " + node.port(), () -> run("redis-cli", "-p", Integer.toString(node.port()),
          "cluster", "info").contains("cluster_state:ok"));
    }

    String uri = "redis-cluster://127.0.0.1:" + ports.get(0) + ",127.0.0.1:" + ports.get(1) + "?timeout=1s";
    try (SessionStore store = RedisSessionStoreProvider.open(uri, "cluster:", CLOCK)) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        String id = Session.newId();
        Instant now = CLOCK.instant();
        SessionRecord r = new SessionRecord(id, 0, now, now, Duration.ofMinutes(30),
            Map.of("v", ("s" + i).getBytes(StandardCharsets.UTF_8)));
        assertThat(store.save(SessionChange.creating(r)).outcome()).isEqualTo(SaveResult.Outcome.SAVED);
        ids.add(id);
      }
      // The sessions spread over all three masters.
      int masters = 0;
      for (RedisProcess node : nodes) {
        String info = run("redis-cli", "-p", Integer.toString(node.port()), "info", "replication");
        if (info.contains("role:master")) {
          masters++;
          assertThat(Integer.parseInt(run("redis-cli", "-p", Integer.toString(node.port()), "dbsize").trim()))
              .as("keys on master %s", node.port()).isPositive();
        }
      }
      assertThat(masters).isEqualTo(3);

      // Fail a master over to its replica (CLUSTER FAILOVER on the replica: the replica catches up first).
      RedisProcess replica = null;
      for (RedisProcess node : nodes) {
        if (run("redis-cli", "-p", Integer.toString(node.port()), "info", "replication").contains("role:slave")) {
          replica = node;
          break;
        }
      }
      RedisProcess promoted = replica;
      assertThat(run("redis-cli", "-p", Integer.toString(promoted.port()), "cluster", "failover")).contains("OK");
      awaitState("replica " + promoted.port() + " promoted", () -> run("redis-cli", "-p",
          Integer.toString(promoted.port()), "info", "replication").contains("role:master"));

      // Every acknowledged session is still there, and can be written again (retrying through the move).
      for (int i = 0; i < ids.size(); i++) {
        String id = ids.get(i);
        SessionRecord loaded = null;
        for (int attempt = 0; attempt < 100 && loaded == null; attempt++) {
          try {
            loaded = store.load(id).orElseThrow(() -> new AssertionError("session lost: " + id));
          } catch (dev.affinity.session.SessionStoreException e) {
            Thread.onSpinWait();
          }
        }
        assertThat(loaded).as("session %s", id).isNotNull();
        assertThat(new String(loaded.attributes().get("v"), StandardCharsets.UTF_8)).isEqualTo("s" + i);
        SaveResult saved = store.save(update(loaded, "t" + i));
        assertThat(saved.outcome()).isNotEqualTo(SaveResult.Outcome.CONFLICT);
      }
      for (int i = 0; i < ids.size(); i++) {
        SessionRecord again = null;
        for (int attempt = 0; attempt < 100 && again == null; attempt++) {
          try {
            again = store.load(ids.get(i)).orElseThrow();
          } catch (dev.affinity.session.SessionStoreException e) {
            Thread.onSpinWait();
          }
        }
        assertThat(new String(again.attributes().get("v"), StandardCharsets.UTF_8)).isEqualTo("t" + i);
      }
    }
  }
}
