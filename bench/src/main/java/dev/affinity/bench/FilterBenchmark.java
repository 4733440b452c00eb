package dev.affinity.bench;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.AffinityFilter;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockFilterConfig;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.mock.web.MockServletContext;

/**
 * What {@link AffinityFilter#doFilter} costs a request, without a container or a network: a GET that
 * carries a valid route cookie (which the filter opens: the codec's cache makes a seen value cheap) to a
 * servlet that writes a short body, with and without the filter. The request, response and chain are
 * spring-test's Servlet fakes, made afresh for each call in both variants, so {@code withFilter -
 * withoutFilter} is the filter's own cost. Single-threaded average time is CPU time per request.
 *
 * <pre>java -jar bench/target/benchmarks.jar FilterBenchmark -f 1 -wi 3 -w 2s -i 5 -r 2s</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FilterBenchmark {
  private Filter filter;
  private Cookie routeCookie;
  private final HttpServlet hello = new HttpServlet() {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      resp.setContentType("text/plain");
      resp.getWriter().print("hello\n");
    }
  };

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    MockServletContext context = new MockServletContext();
    MockFilterConfig config = new MockFilterConfig(context, "affinity");
    config.addInitParameter("targetId", "app-1");
    config.addInitParameter("keys", "k1:" + Base64.getEncoder().encodeToString(secret));
    filter = new AffinityFilter();
    filter.init(config);
    // One request that pins, to get a real route cookie the filter then opens on every measured request.
    MockHttpServletResponse pinned = new MockHttpServletResponse();
    filter.doFilter(request(null), pinned, new MockFilterChain(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) {
        Affinity.current(req).pin();
      }
    }));
    routeCookie = pinned.getCookie("AFFINITYROUTE");
    if (routeCookie == null) {
      throw new IllegalStateException("the pinning request set no route cookie: " + pinned.getHeaders("Set-Cookie"));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    filter.destroy();
  }

  private static MockHttpServletRequest request(Cookie cookie) {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/hello");
    if (cookie != null) {
      request.setCookies(cookie);
    }
    return request;
  }

  @Benchmark
  public MockHttpServletResponse withFilter() throws IOException, ServletException {
    MockHttpServletResponse response = new MockHttpServletResponse();
    filter.doFilter(request(routeCookie), response, new MockFilterChain(hello));
    return response;
  }

  @Benchmark
  public MockHttpServletResponse withoutFilter() throws IOException, ServletException {
    MockHttpServletResponse response = new MockHttpServletResponse();
    new MockFilterChain(hello).doFilter(request(routeCookie), response);
    return response;
  }
}
