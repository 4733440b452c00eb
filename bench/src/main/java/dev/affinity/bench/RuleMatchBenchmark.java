package dev.affinity.bench;

import dev.affinity.rules.Conditions;
import dev.affinity.rules.PathPattern;
import dev.affinity.rules.RequestPath;
import dev.affinity.rules.Rule;
import dev.affinity.rules.RuleAction;
import dev.affinity.rules.RuleRequest;
import dev.affinity.rules.RuleSet;
import java.net.InetAddress;
import java.util.ArrayList;
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
 * Cost of finding a request's listener rule, path normalisation included, as the rule count grows.
 * The rule set is a realistic mix: most rules a literal host and a path prefix (five paths per host),
 * one in ten a wildcard host with a path, one in ten a path alone. The requests: a literal host + path
 * hitting the rule in the middle, a miss that falls to the default action, and a wildcard host
 * hitting the wildcard rule in the middle. The index (literal host, then first path segment) makes
 * each request check a few candidates whatever the count, so 10, 100 and 1000 rules should cost the
 * same. {@code parsePlain}/{@code parseEncoded} measure path normalisation alone; run with
 * {@code -prof gc} to see that a plain path allocates only its {@code RequestPath}.
 *
 * <pre>java -jar bench/target/benchmarks.jar RuleMatch -f 1 -wi 2 -w 1s -i 3 -r 1s</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RuleMatchBenchmark {
  @Param({"10", "100", "1000"})
  public int rules;

  private RuleSet ruleSet;
  private Request hostPathHit;
  private Request miss;
  private Request wildcardHost;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    List<Rule> list = new ArrayList<>();
    for (int i = 0; i < rules; i++) {
      Conditions.Builder when = Conditions.builder();
      if (i % 10 == 9) {
        when.host(List.of("*.t" + i + ".example.com")).paths(List.of(PathPattern.parse("/w" + i + "/*")));
      } else if (i % 10 == 8) {
        when.paths(List.of(PathPattern.parse("/only" + i + "/*")));
      } else {
        when.host(List.of("h" + (i / 5) + ".example.com")).paths(List.of(PathPattern.parse("/p" + i + "/*")));
      }
      list.add(Rule.builder(i + 1).when(when.build()).action(new RuleAction.Forward(dev.affinity.balancer.Forward.to("g" + i))).build());
    }
    ruleSet = RuleSet.of(list);
    InetAddress client = InetAddress.getByAddress(new byte[] {(byte) 192, 0, 2, 10});
    int middle = rules / 2 / 10 * 10; // a literal host + path rule in the middle
    hostPathHit = new Request("h" + (middle / 5) + ".example.com:443", "/p" + middle + "/orders/42", client);
    miss = new Request("unknown.example.org", "/nothing/here", client);
    int wildcard = rules / 2 / 10 * 10 + 9;
    wildcardHost = new Request("eu.t" + wildcard + ".example.com", "/w" + wildcard + "/x", client);
    check(hostPathHit, "g" + middle);
    check(miss, null);
    check(wildcardHost, "g" + wildcard);
  }

  private void check(Request request, String group) {
    Rule rule = ruleSet.match(request, RequestPath.parse(request.rawPath()));
    Object got = rule == null ? null : ((RuleAction.Forward) rule.action()).forward();
    if (group == null ? got != null : !group.equals(got)) {
      throw new IllegalStateException(request.rawPath() + " matched " + rule + ", expected " + group);
    }
  }

  @Benchmark
  public Rule hostPathHit() {
    return ruleSet.match(hostPathHit, RequestPath.parse(hostPathHit.rawPath));
  }

  @Benchmark
  public Rule miss() {
    return ruleSet.match(miss, RequestPath.parse(miss.rawPath));
  }

  @Benchmark
  public Rule wildcardHost() {
    return ruleSet.match(wildcardHost, RequestPath.parse(wildcardHost.rawPath));
  }

  @Benchmark
  public RequestPath parsePlain() {
    return RequestPath.parse(hostPathHit.rawPath);
  }

  @Benchmark
  public RequestPath parseEncoded() {
    return RequestPath.parse("/p50;jsessionid=ABC/caf%C3%A9//orders/42");
  }

  /** A request as an adapter hands it over: the fields as sent. */
  private record Request(String host, String rawPath, InetAddress source) implements RuleRequest {
    @Override
    public String method() {
      return "GET";
    }

    @Override
    public String rawQuery() {
      return null;
    }

    @Override
    public List<String> headers(String name) {
      return List.of();
    }

    @Override
    public InetAddress sourceAddress() {
      return source;
    }
  }
}
