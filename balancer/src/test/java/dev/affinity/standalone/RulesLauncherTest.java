package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.Http1Connection;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One YAML file with listener rules, run by the launcher over real sockets: {@code api.*} + {@code /v1/*}
 * with header persistence to an HTTP/2 group, {@code /old/*} to a redirect, {@code /maintenance} to a
 * fixed response, everything else with cookie persistence (the issue's "done when"; its gRPC part, the
 * same rules with a GRPC group of grpc-java servers and a grpc-java client, is RulesGrpcLauncherTest).
 */
class RulesLauncherTest {
  @TempDir
  Path dir;
  private Backends web;
  private Backends api;
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ManualScheduler reloadScheduler = new ManualScheduler();

  @BeforeEach
  void setUp() throws Exception {
    web = Backends.start("web-1", "web-2");
    api = Backends.startHttp2("api-1", "api-2", "api-3");
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.setFollowRedirects(false);
    http.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (running != null) {
      running.close();
    }
    http.stop();
    web.close();
    api.close();
  }

  private String yaml() {
    return """
        listen: { host: 127.0.0.1, port: 0 }
        keys:
          - { id: k1, secret: "%s" }
        targetGroups:
          - name: web
            stickiness: { type: cookie, idleTimeout: PT30M }
            healthCheck: { path: /health, interval: PT1M, timeout: PT2S }
            targets:
              - { id: web-1, uri: "%s" }
              - { id: web-2, uri: "%s" }
          - name: api
            protocolVersion: HTTP2
            healthCheck: { path: /health, interval: PT1M, timeout: PT2S }
            targets:
              - { id: api-1, uri: "%s" }
              - { id: api-2, uri: "%s" }
              - { id: api-3, uri: "%s" }
        rules:
          - priority: 10
            name: api
            when: { host: "api.*", path: "/v1/*" }
            forward: [ { group: api } ]
            persistence: { type: header, sessionName: X-Affinity-Session, idleTimeout: PT30M, absoluteTimeout: PT8H }
            responseHeaders: { add: { Strict-Transport-Security: "max-age=63072000" }, remove: [ X-Backend-Internal ] }
          - priority: 20
            when: { path: "/old/*" }
            redirect: { status: 301, path: "/new/#{path}" }
          - priority: 30
            when: { path: /maintenance }
            fixedResponse: { status: 503, contentType: text/plain, body: "back soon" }
        defaultAction: { forward: [ { group: web } ] }
        """.formatted(BalancerTestBase.SECRET, web.uri("web-1"), web.uri("web-2"),
        api.uri("api-1"), api.uri("api-2"), api.uri("api-3"));
  }

  private URI start() throws Exception {
    Path file = Files.writeString(dir.resolve("balancer.yaml"), yaml());
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler);
    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();
    return running.server().uri();
  }

  private Request get(URI balancer, String host, String pathQuery) {
    return http.newRequest(balancer.resolve(pathQuery)).headers(h -> h.put(HttpHeader.HOST, host)).timeout(5, TimeUnit.SECONDS);
  }

  @Test
  void theApiRuleSendsToTheHttp2GroupWithHeaderPersistence() throws Exception {
    URI balancer = start();
    ContentResponse first = get(balancer, "api.example.com", "/v1/orders").send();
    assertThat(first.getStatus()).isEqualTo(200);
    String pinned = first.getHeaders().get("X-Backend");
    assertThat(pinned).startsWith("api-");
    String token = first.getHeaders().get("X-Affinity-Session");
    assertThat(token).isNotBlank();
    assertThat(first.getHeaders().get(HttpHeader.SET_COOKIE)).as("API clients get no cookie").isNull();
    assertThat(first.getHeaders().get("Strict-Transport-Security")).isEqualTo("max-age=63072000");
    for (int i = 0; i < 20; i++) {
      ContentResponse r = get(balancer, "api.example.com:8080", "/v1/orders/" + i).headers(h -> h.put("X-Affinity-Session", token)).send();
      assertThat(r.getHeaders().get("X-Backend")).isEqualTo(pinned);
    }
    // The host condition: another host's /v1/ is not the API.
    ContentResponse www = get(balancer, "www.example.com", "/v1/orders").send();
    assertThat(www.getHeaders().get("X-Backend")).startsWith("web-");
    assertThat(www.getHeaders().get("Strict-Transport-Security")).isNull();
    // The path condition: api's host without /v1/ is not the API either.
    assertThat(get(balancer, "api.example.com", "/v2/orders").send().getHeaders().get("X-Backend")).startsWith("web-");
  }

  @Test
  void everythingElseIsStickyByCookie() throws Exception {
    URI balancer = start();
    ContentResponse first = get(balancer, "www.example.com", "/").send();
    String cookie = first.getHeaders().get(HttpHeader.SET_COOKIE);
    assertThat(cookie).startsWith("AFFINITY=").contains("Path=/");
    String pinned = first.getHeaders().get("X-Backend");
    for (int i = 0; i < 10; i++) {
      assertThat(get(balancer, "www.example.com", "/cart").headers(h -> h.put(HttpHeader.COOKIE, cookie.substring(0, cookie.indexOf(';'))))
          .send().getHeaders().get("X-Backend")).isEqualTo(pinned);
    }
  }

  @Test
  void oldPathsAreRedirectedAndMaintenanceIsAnsweredByTheBalancer() throws Exception {
    URI balancer = start();
    ContentResponse moved = get(balancer, "shop.example.com:8080", "/old/page/1?x=1&y=%20").send();
    assertThat(moved.getStatus()).isEqualTo(301);
    assertThat(moved.getHeaders().get(HttpHeader.LOCATION)).isEqualTo("http://shop.example.com:8080/new/old/page/1?x=1&y=%20");
    assertThat(moved.getHeaders().get("X-Backend")).as("no target was asked").isNull();
    ContentResponse maintenance = get(balancer, "shop.example.com", "/maintenance").send();
    assertThat(maintenance.getStatus()).isEqualTo(503);
    assertThat(maintenance.getContentAsString()).isEqualTo("back soon");
    assertThat(maintenance.getHeaders().get(HttpHeader.CONTENT_TYPE)).startsWith("text/plain");
    assertThat(maintenance.getHeaders().get("X-Backend")).isNull();
    assertThat(get(balancer, "shop.example.com", "/maintenance/other").send().getHeaders().get("X-Backend"))
        .as("exact means exact").startsWith("web-");
    assertThat(running.server().balancer().ruleAnswers()).isEqualTo(2);
  }

  @Test
  void pathsThatCouldReachATargetAsAnotherPathAre400() throws Exception {
    URI balancer = start();
    for (String attempt : new String[] {"/v1%2Forders", "/x/..%2Fmaintenance", "/%2e%2e/v1/orders", "/v1/%2e%2e/admin", "/v1%5Corders",
        "/v1/./orders", "/v1/orders%00"}) {
      // Each on its own connection, as sent (a client library would normalise some of them). Jetty's own URI
      // compliance refuses most before any handler; the rules refuse the rest (a plain . segment, for one).
      try (Http1Connection c = new Http1Connection(balancer.getPort())) {
        c.send(attempt, "");
        Http1Connection.Answer r = c.read();
        assertThat(r.status()).as(attempt).isEqualTo(400);
        assertThat(r.headers().get("x-backend")).as(attempt).isNull();
      }
    }
    // A ;parameter is dropped for matching, as the target will read the path: the API rule still applies.
    ContentResponse param = http.newRequest(balancer.toString() + "/v1;jsessionid=abc/orders").headers(h -> h.put(HttpHeader.HOST, "api.example.com"))
        .timeout(5, TimeUnit.SECONDS).send();
    assertThat(param.getHeaders().get("X-Backend")).startsWith("api-");
  }

  @Test
  void aReloadKeepsEveryPin() throws Exception {
    URI balancer = start();
    ContentResponse api1 = get(balancer, "api.example.com", "/v1/x").send();
    String token = api1.getHeaders().get("X-Affinity-Session");
    ContentResponse web1 = get(balancer, "www.example.com", "/").send();
    String cookie = web1.getHeaders().get(HttpHeader.SET_COOKIE);
    Files.writeString(dir.resolve("balancer.yaml"), yaml().replace("priority: 30", "priority: 31"));
    assertThat(running.server().server().getBean(ConfigReloader.class).reload()).isTrue();
    assertThat(running.server().balancer().router().rules(null).rules()).extracting(r -> r.priority()).contains(31);
    // The api rule (same priority and name) keeps counting from its hit before the reload.
    assertThat(running.server().balancer().router().rules(null).rules().get(0).hits()).isEqualTo(1);
    for (int i = 0; i < 5; i++) {
      assertThat(get(balancer, "api.example.com", "/v1/x").headers(h -> h.put("X-Affinity-Session", token)).send()
          .getHeaders().get("X-Backend")).isEqualTo(api1.getHeaders().get("X-Backend"));
      assertThat(get(balancer, "www.example.com", "/").headers(h -> h.put(HttpHeader.COOKIE, cookie.substring(0, cookie.indexOf(';'))))
          .send().getHeaders().get("X-Backend")).isEqualTo(web1.getHeaders().get("X-Backend"));
    }
    assertThat(running.server().balancer().router().rules(null).rules().get(0).hits()).isEqualTo(6);
  }
}
