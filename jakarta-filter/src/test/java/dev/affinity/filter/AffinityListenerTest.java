package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.Rejection;
import dev.affinity.session.SessionMode;
import dev.affinity.session.redis.RedisProcess;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContainerInitializer;
import java.net.URI;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the filter reports to its {@link AffinityListener}, on Tomcat 10.1 over real sockets, in redis
 * mode against a real redis-server: each decision once when it reaches the client, rejected route
 * cookies by reason, the bytes of each session write; a listener that throws does not fail the request.
 */
class AffinityListenerTest {
  private static RedisProcess redis;
  private static ServletContainer container;
  private static URI uri;
  private static final List<String> EVENTS = new ArrayList<>();

  /** Records every call; throws on release, as a buggy listener might. */
  static final class Recording implements AffinityListener {
    @Override
    public void pinned() {
      record("pinned");
    }

    @Override
    public void moved(String targetId) {
      record("moved " + targetId);
    }

    @Override
    public void released() {
      record("released");
      throw new IllegalStateException("a listener bug");
    }

    @Override
    public void routeCookieRejected(Rejection reason) {
      record("rejected " + reason);
    }

    @Override
    public void sessionWritten(SessionMode mode, int bytes) {
      record("session " + mode + " " + (bytes > 0 ? "bytes" : bytes));
    }

    private static void record(String event) {
      synchronized (EVENTS) {
        EVENTS.add(event);
      }
    }
  }

  @BeforeAll
  static void start() throws Exception {
    redis = RedisProcess.start();
    Map<String, String> params = TestWebapp.standardParams();
    params.put("sessionMode", "redis");
    params.put("redisUri", redis.uri());
    AffinityFilterConfig config = AffinityFilterConfig.fromParameters(params::get).withListener(new Recording());
    ServletContainerInitializer initializer = (classes, context) -> {
      FilterRegistration.Dynamic f = context.addFilter("affinity", new AffinityFilter(config));
      f.setAsyncSupported(true);
      f.addMappingForUrlPatterns(EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR,
          DispatcherType.FORWARD), false, "/*");
    };
    container = ServletContainer.Kind.TOMCAT.create();
    uri = container.start(TestWebapp.write(params, false), initializer);
  }

  @AfterAll
  static void stop() throws Exception {
    if (container != null) {
      container.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  @BeforeEach
  void clear() {
    synchronized (EVENTS) {
      EVENTS.clear();
    }
  }

  @Test
  void eachDecisionIsReportedOnceWhenItReachesTheClient() throws Exception {
    SessionContractTest.Browser browser = new SessionContractTest.Browser(uri);
    browser.ok("/pin");
    browser.ok("/pin?to=app-2");
    browser.ok("/whoami");
    // Written before a flush and again at the end of the chain: still one pin.
    assertThat(browser.get("/flush?mode=stream").statusCode()).isEqualTo(200);

    assertThat(events()).containsExactly("pinned", "moved app-2", "pinned");
  }

  @Test
  void aThrowingListenerDoesNotFailTheRequest() throws Exception {
    HttpResponse<String> response = new SessionContractTest.Browser(uri).get("/release");

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().allValues("Set-Cookie")).anyMatch(c -> c.startsWith("AFFINITYROUTE=;"));
    assertThat(events()).containsExactly("released");
  }

  @Test
  void rejectedRouteCookiesAreReportedByReason() throws Exception {
    SessionContractTest.Browser browser = new SessionContractTest.Browser(uri);
    browser.cookies.put("AFFINITYROUTE", "***");
    browser.ok("/whoami");
    browser.cookies.put("AFFINITYROUTE", "AQEZsgJrMc_gAyUWjRCsFlqOScS8huYIAhNGjxxEsudl8qiYkTvHs9un6-a4bns07cR5eaDNJ0HelP7M");
    browser.ok("/whoami");
    browser.cookies.clear();
    browser.ok("/whoami");

    assertThat(events()).containsExactly("rejected NOT_BASE64", "rejected UNKNOWN_KEY");
  }

  @Test
  void sessionWritesAreMeasuredAndCreatingASessionPins() throws Exception {
    SessionContractTest.Browser browser = new SessionContractTest.Browser(uri);
    browser.ok("/cart/add?item=1");
    browser.ok("/cart/list");
    browser.ok("/cart/add?item=2");

    assertThat(events()).containsExactlyInAnyOrder("pinned", "session REDIS bytes", "session REDIS bytes");
  }

  private static List<String> events() {
    synchronized (EVENTS) {
      return List.copyOf(EVENTS);
    }
  }
}
