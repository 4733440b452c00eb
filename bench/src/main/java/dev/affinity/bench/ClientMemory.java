package dev.affinity.bench;

import dev.affinity.balancer.RouteDecision;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SetCookie;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.time.Duration;

/**
 * Balancer heap per distinct client: routes N new clients, then each again with its cookie, and
 * compares the live heap before and after. All client state is in the cookie; what the balancer
 * keeps is the codec's bounded cache of opened values, so the figure is bounded by the cache size,
 * not by the number of clients.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.affinity.bench.ClientMemory 100000 100000 0</pre>
 * arguments: clients, then one or more codec cache sizes to measure.
 */
public final class ClientMemory {
  private ClientMemory() {}

  public static void main(String[] args) throws Exception {
    int clients = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
    for (int i = 1; i < Math.max(2, args.length); i++) {
      long cache = args.length > i ? Long.parseLong(args[i]) : 100_000;
      measure(clients, cache);
    }
  }

  private static void measure(int clients, long cacheSize) throws Exception {
    AffinityCookies cookies = AffinityCookies.of(AffinityCookieCodec.builder()
        .keyring(Keyring.builder().addKey("k1", new byte[32]).build()).cacheMaximumSize(cacheSize).build(), CookiePolicy.defaults());
    TargetGroup.Builder group = TargetGroup.builder("g").stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))));
    for (int t = 0; t < 100; t++) {
      group.target("t" + t, URI.create("http://127.0.0.1:" + (20000 + t)), 1);
    }
    Router router = Router.builder(cookies).group(group.build()).build();
    // The clients' cookies live outside the balancer (here: an array standing in for the browsers).
    String[] jars = new String[clients];
    for (int i = 0; i < clients; i++) {
      RouteDecision d = router.route(name -> null, false);
      for (SetCookie c : d.setCookies()) {
        jars[i] = c.value();
      }
    }
    long before = liveHeap();
    int hits = 0;
    for (int i = 0; i < clients; i++) {
      String value = jars[i];
      RouteDecision d = router.route(name -> "AFFINITY".equals(name) ? value : null, false);
      if (d.outcome() == RouteDecision.Outcome.STICKY_HIT) {
        hits++;
      }
    }
    long after = liveHeap();
    System.out.printf("clients=%d codecCache=%d stickyHits=%d heapGrowth=%.1f MB (%.0f bytes per client)%n",
        clients, cacheSize, hits, (after - before) / 1e6, (double) (after - before) / clients);
    if (jars.length == 0) {
      System.out.println(router);
    }
  }

  private static long liveHeap() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
