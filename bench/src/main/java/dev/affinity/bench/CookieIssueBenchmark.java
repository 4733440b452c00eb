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
import dev.affinity.cookie.SetCookie;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
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
 * The requests that make the balancer issue a cookie (issue 23), with {@code cookies.sealReuse} on
 * (the default) and off, beside a sticky hit that issues none:
 * <ul>
 *   <li>{@code staleSlidingCookie}: {@code Router.route} for a client that keeps sending a sliding
 *       cookie older than the refresh granule (as wrk does, or any client that ignores
 *       {@code Set-Cookie}): the cookie opens from the codec's cache and the answer carries a refreshed
 *       {@code AFFINITY} cookie;
 *   <li>{@code staleSlidingRefresh}: only what such a request adds to a sticky hit: refresh the
 *       ticket, seal it, build its {@code SetCookie};
 *   <li>{@code newClient}: {@code Router.route} for a request without a cookie: place it and issue its pin;
 *   <li>{@code stickyHit}: the same router, a fresh cookie, nothing issued.
 * </ul>
 * With reuse on, a seal happens once per target per granule (36 s for the hour's stickiness here),
 * so its cost is amortised over every request of the granule.
 *
 * <pre>java -jar bench/target/benchmarks.jar CookieIssue -f 1 -wi 3 -w 2s -i 5 -r 2s -prof gc</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CookieIssueBenchmark {
  private static final int CLIENTS = 1024;
  private static final int TARGETS = 3;

  @Param({"true", "false"})
  public boolean sealReuse;

  private Router router;
  private AffinityCookies cookies;
  private Expiry expiry;
  private Clock clock;
  private CookieSource[] stale;
  private AffinityTicket[] staleTickets;
  private CookieSource[] fresh;
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    clock = Clock.systemUTC();
    cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
        CookiePolicy.builder().sealReuse(sealReuse).build());
    expiry = Expiry.sliding(Duration.ofHours(1));
    TargetGroup.Builder group = TargetGroup.builder("bench").stickiness(StickinessPolicy.duration(expiry));
    for (int i = 0; i < TARGETS; i++) {
      group.target("t" + i, URI.create("http://127.0.0.1:" + (10000 + i)), 1);
    }
    router = Router.builder(cookies).group(group.build()).build();
    stale = new CookieSource[CLIENTS];
    staleTickets = new AffinityTicket[CLIENTS];
    fresh = new CookieSource[CLIENTS];
    Instant now = clock.instant();
    // Sealed five minutes ago: past the granule for the whole trial, far from expiring.
    Instant then = now.minus(Duration.ofMinutes(5));
    for (int i = 0; i < CLIENTS; i++) {
      staleTickets[i] = expiry.newTicket("t" + (i % TARGETS), "bench", then);
      stale[i] = client(cookies.codec().seal("AFFINITY", staleTickets[i]));
      fresh[i] = client(cookies.codec().seal("AFFINITY", expiry.newTicket("t" + (i % TARGETS), "bench", now)));
      router.route(stale[i], false); // warm the codec's cache of opened values, as a returning client would
      router.route(fresh[i], false);
    }
  }

  /** A request with the affinity cookie among a few others. */
  private static CookieSource client(String value) {
    String[][] jar = {{"_ga", "GA1.2.1234567890.1234567890"}, {"AFFINITY", value}, {"lang", "en"}};
    return name -> {
      for (String[] c : jar) {
        if (c[0].equals(name)) {
          return c[1];
        }
      }
      return null;
    };
  }

  @Benchmark
  public RouteDecision staleSlidingCookie() {
    return router.route(stale[next++ & (CLIENTS - 1)], false);
  }

  @Benchmark
  public List<SetCookie> staleSlidingRefresh() {
    int i = next++ & (CLIENTS - 1);
    AffinityTicket refreshed = cookies.shareable(expiry.refresh(staleTickets[i], clock.instant()), expiry);
    return cookies.issue("AFFINITY", refreshed, expiry, false, stale[i]);
  }

  @Benchmark
  public RouteDecision newClient() {
    return router.route(CookieSource.empty(), false);
  }

  @Benchmark
  public RouteDecision stickyHit() {
    // Sealed at setup: within a trial (under 60 s) none is due for a refresh.
    return router.route(fresh[next++ & (CLIENTS - 1)], false);
  }
}
