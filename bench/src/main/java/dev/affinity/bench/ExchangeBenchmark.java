package dev.affinity.bench;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.Forwarder;
import dev.affinity.balancer.PassiveHealth;
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
 * Core's share of one sticky-hit exchange, as an adapter drives it: {@code begin} (route the cookie),
 * {@code answered(200, …)} (where passive health looks at the status) and {@code finished}, with
 * passive health on (the default) and off, to show what watching every answer costs.
 *
 * <pre>java -jar bench/target/benchmarks.jar Exchange -f 1 -wi 3 -w 2s -i 5 -r 2s</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ExchangeBenchmark {
  private static final int CLIENTS = 1024;
  private static final Attempt.AnswerCookies NO_COOKIES = name -> null;

  @Param({"on", "off"})
  public String passiveHealth;

  private Forwarder forwarder;
  private CookieSource[] clients;
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    Clock clock = Clock.systemUTC();
    AffinityCookies cookies = AffinityCookies.of(
        AffinityCookieCodec.builder().keyring(Keyring.builder().addKey("k1", new byte[32]).build()).clock(clock).build(),
        CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("bench").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(2))))
        .passiveHealth("on".equals(passiveHealth) ? PassiveHealth.defaults() : PassiveHealth.off());
    for (int i = 0; i < 3; i++) {
      group.target("t" + i, URI.create("http://127.0.0.1:" + (10000 + i)), 1);
    }
    Router router = Router.builder(cookies).group(group.build()).build();
    forwarder = new Forwarder(() -> router);
    clients = new CookieSource[CLIENTS];
    Instant now = clock.instant();
    for (int i = 0; i < CLIENTS; i++) {
      String value = cookies.codec().seal("AFFINITY", AffinityTicket.of("t" + (i % 3), "bench", now, now.plus(Duration.ofHours(1))));
      clients[i] = name -> "AFFINITY".equals(name) ? value : null;
      router.route(clients[i], false); // warm the codec's cache, as a returning client would
    }
  }

  @Benchmark
  public Object stickyHitExchange() {
    Attempt attempt = forwarder.begin(clients[next++ & (CLIENTS - 1)], false, "GET", true);
    Object cookies = attempt.answered(200, NO_COOKIES);
    attempt.finished();
    return cookies;
  }
}
