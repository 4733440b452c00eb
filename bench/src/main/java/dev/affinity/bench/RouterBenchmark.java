package dev.affinity.bench;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Routing cost of one request as the target count grows: a sticky hit (cookie seen before, so the
 * codec's cache serves it) must cost the same with 3, 100 or 1000 targets, because the pinned target
 * is found by id. A new client (no cookie) includes choosing a target and sealing its cookie.
 *
 * <pre>java -jar bench/target/benchmarks.jar Router -f 1 -wi 3 -w 2s -i 5 -r 2s</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RouterBenchmark {
  private static final int CLIENTS = 1024;

  @Param({"3", "100", "1000"})
  public int targets;

  private Router router;
  private CookieSource[] clients;
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    Clock clock = Clock.systemUTC();
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
        CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("bench").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(2))));
    for (int i = 0; i < targets; i++) {
      group.target("t" + i, URI.create("http://127.0.0.1:" + (10000 + i)), 1);
    }
    router = Router.builder(cookies).group(group.build()).build();
    clients = new CookieSource[CLIENTS];
    Instant now = clock.instant();
    for (int i = 0; i < CLIENTS; i++) {
      String value = cookies.codec().seal("AFFINITY",
          AffinityTicket.of("t" + (i % targets), "bench", now, now.plus(Duration.ofHours(1))));
      // A realistic request: the affinity cookie among a few others.
      String[][] jar = {{"_ga", "GA1.2.1234567890.1234567890"}, {"AFFINITY", value}, {"lang", "en"}};
      clients[i] = name -> {
        for (String[] c : jar) {
          if (c[0].equals(name)) {
            return c[1];
          }
        }
        return null;
      };
      router.route(clients[i], false); // warm the codec's cache, as a returning client would
    }
  }

  @Benchmark
  public RouteDecision stickyHit() {
    // Within a trial (under 60 s) no sticky hit is due for a sliding refresh, so none re-seals.
    return router.route(clients[next++ & (CLIENTS - 1)], false);
  }

  @Benchmark
  public RouteDecision newClient() {
    return router.route(CookieSource.empty(), false);
  }
}
