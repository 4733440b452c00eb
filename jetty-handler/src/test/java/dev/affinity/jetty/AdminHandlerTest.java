package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.balancer.Target;
import java.time.Duration;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpMethod;
import org.junit.jupiter.api.Test;

/** The admin endpoints over real sockets: status page, metrics, draining. */
class AdminHandlerTest extends BalancerTestBase {

  @Test
  void statusPageIsServedAndMetricsNeedAWriter() throws Exception {
    startDuration("a", "b");
    browser().get("/");
    ContentResponse page = http.GET(balancer.uri().resolve("/affinity/status"));
    assertThat(page.getStatus()).isEqualTo(200);
    assertThat(page.getMediaType()).isEqualTo("text/html");
    assertThat(page.getContentAsString()).contains("<title>Affinity").contains("status.json");
    ContentResponse root = http.GET(balancer.uri().resolve("/affinity"));
    assertThat(root.getStatus()).isEqualTo(302);
    assertThat(root.getHeaders().get("Location")).endsWith("/affinity/status");
    // The embeddable handler knows no metrics library: without a writer, metrics is an unknown path.
    assertThat(balancer.admin().getMetricsWriter()).isNull();
    ContentResponse metrics = http.GET(balancer.uri().resolve("/affinity/metrics"));
    assertThat(metrics.getStatus()).isEqualTo(404);
    assertThat(metrics.getMediaType()).isEqualTo("text/plain");
    assertThat(metrics.getContentAsString()).isEqualTo("404 Not Found: no metrics writer is configured. Try /affinity/status.json\n");
    assertThat(http.GET(balancer.uri().resolve("/affinity/nothing")).getContentAsString())
        .isEqualTo("404 Not Found. Try /affinity/status, /affinity/status.json\n");
  }

  @Test
  void metricsAreWhatTheWriterRendersFromTheLiveCounters() throws Exception {
    startDuration("a", "b");
    balancer.admin().setMetricsWriter((b, codec) -> "requests " + b.router().target("a").requests()
        + "\nsealed " + codec.sealedCount() + "\n");
    ContentResponse before = http.GET(balancer.uri().resolve("/affinity/metrics"));
    assertThat(before.getStatus()).isEqualTo(200);
    assertThat(before.getHeaders().get("Content-Type")).isEqualTo(AdminHandler.MetricsWriter.DEFAULT_CONTENT_TYPE);
    assertThat(before.getHeaders().get("Cache-Control")).isEqualTo("no-store");
    assertThat(before.getContentAsString()).isEqualTo("requests 0\nsealed 0\n");
    for (int i = 0; i < 4; i++) {
      browser().get("/");
    }
    // Round robin over two targets: four new clients, two each; with seal reuse (the default) one value
    // is sealed per target and granule, so two seals for four cookies.
    assertThat(http.GET(balancer.uri().resolve("/affinity/metrics")).getContentAsString()).isEqualTo("requests 2\nsealed 2\n");
    assertThat(http.POST(balancer.uri().resolve("/affinity/metrics")).send().getStatus()).isEqualTo(405);
    assertThat(http.GET(balancer.uri().resolve("/affinity/nothing")).getContentAsString())
        .isEqualTo("404 Not Found. Try /affinity/status, /affinity/status.json or /affinity/metrics\n");
  }

  @Test
  void theServerBuilderHandsItsMetricsWriterToTheAdminHandler() throws Exception {
    backends = Backends.start("a");
    cookies = dev.affinity.cookie.AffinityCookies.of(
        dev.affinity.cookie.AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(),
        dev.affinity.cookie.CookiePolicy.defaults());
    dev.affinity.balancer.Router router = dev.affinity.balancer.Router.builder(cookies)
        .group(dev.affinity.balancer.TargetGroup.builder("web").target("a", backends.uri("a"), 1).build()).build();
    AdminHandler.MetricsWriter writer = new AdminHandler.MetricsWriter() {
      @Override
      public String write(AffinityBalancer b, dev.affinity.cookie.CodecCounters codec) {
        return "{\"groups\":" + b.router().groups().size() + "}";
      }

      @Override
      public String contentType() {
        return "application/json";
      }
    };
    balancer = AffinityServer.builder(router, counters).metrics(writer).clock(clock).build().start();
    http = new org.eclipse.jetty.client.HttpClient();
    http.start();
    assertThat(balancer.admin().getMetricsWriter()).isSameAs(writer);
    ContentResponse metrics = http.GET(balancer.adminUri() + "/metrics");
    assertThat(metrics.getHeaders().get("Content-Type")).isEqualTo("application/json");
    assertThat(metrics.getContentAsString()).isEqualTo("{\"groups\":1}");
  }

  @OverBothPaths
  void drainingKeepsPinnedClientsUntilTheDeregistrationDelayThenMovesThem(TargetPath path) throws Exception {
    start(path, g -> g.stickiness(dev.affinity.balancer.StickinessPolicy.duration(dev.affinity.cookie.Expiry.sliding(Duration.ofHours(1))))
        .deregistrationDelay(Duration.ofSeconds(30)), dev.affinity.cookie.CookiePolicy.defaults(), "a", "b");
    UserAgent pinned = browser();
    String target = pinned.get("/").getContentAsString();
    ContentResponse refused = http.newRequest(balancer.uri().resolve("/affinity/targets/" + target + "/drain")).method(HttpMethod.POST).send();
    assertThat(refused.getStatus()).as("no admin header").isEqualTo(403);
    ContentResponse wrongMethod = http.GET(balancer.uri().resolve("/affinity/targets/" + target + "/drain"));
    assertThat(wrongMethod.getStatus()).isEqualTo(405);
    ContentResponse drained = http.newRequest(balancer.uri().resolve("/affinity/targets/" + target + "/drain"))
        .method(HttpMethod.POST).headers(h -> h.put(AdminHandler.ADMIN_HEADER, "1")).send();
    assertThat(drained.getStatus()).isEqualTo(200);
    assertThat(drained.getContentAsString()).contains("\"draining\":true");
    assertThat(http.newRequest(balancer.uri().resolve("/affinity/targets/nobody/drain")).method(HttpMethod.POST)
        .headers(h -> h.put(AdminHandler.ADMIN_HEADER, "1")).send().getStatus()).isEqualTo(404);

    // New clients avoid the draining target; the pinned one stays within the delay.
    for (int i = 0; i < 6; i++) {
      assertThat(browser().get("/").getContentAsString()).isNotEqualTo(target);
      assertThat(pinned.get("/").getContentAsString()).isEqualTo(target);
    }
    clock.advance(Duration.ofSeconds(30));
    ContentResponse moved = pinned.get("/");
    assertThat(moved.getContentAsString()).isNotEqualTo(target);
    assertThat(moved.getHeaders().get("X-Seen-Previous")).isEqualTo(target);
    Target other = balancer.balancer().router().target(moved.getContentAsString());
    assertThat(other.rePins()).isEqualTo(1);
    assertThat(http.GET(balancer.uri().resolve("/affinity/status.json")).getContentAsString()).contains("\"draining\":true");

    ContentResponse undrained = http.newRequest(balancer.uri().resolve("/affinity/targets/" + target + "/undrain"))
        .method(HttpMethod.POST).headers(h -> h.put(AdminHandler.ADMIN_HEADER, "1")).send();
    assertThat(undrained.getContentAsString()).contains("\"draining\":false");
    path.assertTaken(balancer.balancer());
  }

  @Test
  void onlyLoopbackAddressesCountAsLocal() throws Exception {
    assertThat(AdminHandler.isLoopback(new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 1))).isTrue();
    assertThat(AdminHandler.isLoopback(new java.net.InetSocketAddress(java.net.InetAddress.getByName("::1"), 1))).isTrue();
    assertThat(AdminHandler.isLoopback(new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(new byte[] {10, 1, 2, 3}), 1))).isFalse();
    assertThat(AdminHandler.isLoopback(new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(new byte[] {(byte) 192, (byte) 168, 0, 1}), 1))).isFalse();
    assertThat(AdminHandler.isLoopback(null)).isFalse();
  }

  @Test
  void adminOnItsOwnPortIsNotServedOnThePublicListener() throws Exception {
    backends = Backends.start("a");
    cookies = dev.affinity.cookie.AffinityCookies.of(
        dev.affinity.cookie.AffinityCookieCodec.builder().keyring(keyring).clock(clock).metrics(counters).build(),
        dev.affinity.cookie.CookiePolicy.defaults());
    dev.affinity.balancer.Router router = dev.affinity.balancer.Router.builder(cookies)
        .group(dev.affinity.balancer.TargetGroup.builder("web").target("a", backends.uri("a"), 1).build()).build();
    balancer = AffinityServer.builder(router, counters).adminPort(0).clock(clock).build().start();
    http = new org.eclipse.jetty.client.HttpClient();
    http.start();
    assertThat(balancer.adminUri().getPort()).isNotEqualTo(balancer.port());
    ContentResponse admin = http.GET(balancer.adminUri() + "/status.json");
    assertThat(admin.getMediaType()).isEqualTo("application/json");
    assertThat(admin.getContentAsString()).contains("\"id\":\"a\"");
    // On the public listener the admin path is just a path, proxied to the target like any other.
    ContentResponse proxied = http.GET(balancer.uri().resolve("/affinity/status.json"));
    assertThat(proxied.getContentAsString()).isEqualTo("a");
    assertThat(http.GET(balancer.adminUri().resolve("/elsewhere")).getStatus()).isEqualTo(404);
  }

  @Test
  void statusJsonShowsEveryRuleWithItsHitsTheDefaultActionAndTheRuleCounters() throws Exception {
    routing = TestRules.shop();
    startDuration("a", "b");
    for (int i = 0; i < 3; i++) {
      assertThat(browser().get("/shop/cart").getStatus()).isEqualTo(200);
    }
    ContentResponse redirect = browser().get("/old/page");
    assertThat(redirect.getStatus()).isEqualTo(301);
    assertThat(redirect.getHeaders().get("Location")).isEqualTo("https://127.0.0.1/new/old/page");
    ContentResponse fixed = browser().send(http.newRequest(balancer.uri().resolve("/x")).headers(h -> h.put("X-Maintenance", "on")));
    assertThat(fixed.getStatus()).isEqualTo(503);
    assertThat(fixed.getContentAsString()).isEqualTo("down for maintenance");
    // No rule matches: the top-level forward, and no rule counts it.
    assertThat(browser().get("/other").getStatus()).isEqualTo(200);
    // An encoded ';' a target could split a segment on: the balancer's own 400, before any rule is asked
    // (Jetty itself answers 400 for encoded slashes and dot segments before the balancer sees them).
    ContentResponse refused = browser().get("/shop/a%3Bb");
    assertThat(refused.getStatus()).isEqualTo(400);
    assertThat(refused.getContentAsString()).contains("encoded semicolon");

    String json = http.GET(balancer.uri().resolve("/affinity/status.json")).getContentAsString();
    assertThat(json).contains("\"ruleAnswers\":2,\"refusedPaths\":1");
    assertThat(json).contains("\"rules\":{\"global\":["
        + "{\"priority\":10,\"name\":\"shop\",\"when\":\"path [prefix /shop/]\",\"action\":{\"type\":\"forward\","
        + "\"groups\":[{\"name\":\"web\",\"weight\":1}],\"groupStickiness\":null,\"summary\":\"forward to web\"},\"hits\":3},"
        + "{\"priority\":20,\"name\":\"priority 20\",\"when\":\"path [prefix /old/]\",\"action\":{\"type\":\"redirect\","
        + "\"status\":301,\"location\":\"HTTPS://#{host}:443/new/#{path}?#{query}\","
        + "\"summary\":\"redirect 301 to HTTPS://#{host}:443/new/#{path}?#{query}\"},\"hits\":1},"
        + "{\"priority\":30,\"name\":\"maintenance\",\"when\":\"header x-maintenance [on]\",\"action\":{\"type\":\"fixedResponse\","
        + "\"status\":503,\"contentType\":\"text/plain\",\"summary\":\"fixed response 503 text/plain\"},\"hits\":1}],"
        + "\"listeners\":{\"" + TestRules.OTHER_LISTENER + "\":["
        + "{\"priority\":5,\"name\":\"internal\",\"when\":\"method [GET, HEAD]\",\"action\":{\"type\":\"forward\","
        + "\"groups\":[{\"name\":\"web\",\"weight\":1}],\"groupStickiness\":\"PT10M\","
        + "\"summary\":\"forward to web, group stickiness PT10M\"},\"hits\":0}]},"
        + "\"defaultAction\":{\"type\":\"forward\",\"topLevel\":true,\"summary\":\"the top-level forward\"}}");
  }

  @Test
  void statusJsonShowsAConfiguredDefaultActionAndNoRules() throws Exception {
    routing = r -> r.defaultAction(new dev.affinity.rules.FixedResponse(404, "application/json", "{}"));
    startDuration("a");
    assertThat(browser().get("/anything").getStatus()).isEqualTo(404);
    String json = http.GET(balancer.uri().resolve("/affinity/status.json")).getContentAsString();
    assertThat(json).contains("\"rules\":{\"global\":[],\"listeners\":{},\"defaultAction\":{\"type\":\"fixedResponse\","
        + "\"status\":404,\"contentType\":\"application/json\",\"summary\":\"fixed response 404 application/json\"}}");
    assertThat(json).contains("\"ruleAnswers\":1,\"refusedPaths\":0");
  }

  private static final String OPS = "ops-0123456789abcdef-write";
  private static final String SCRAPER = "scraper-0123456789abcdef-read";

  /**
   * With tokens, loopback plus the custom header no longer opens anything: any local proxy would relay both.
   * Reads need a read token, drain and undrain a write one; the static page stays open (it asks for a token).
   */
  @Test
  void withTokensEveryEndpointButTheProbesAndThePageNeedsOne() throws Exception {
    startDuration("a", "b");
    balancer.admin().setTokens(dev.affinity.admin.AdminTokens.builder()
        .token("ops", OPS, dev.affinity.admin.AdminTokens.Scope.WRITE)
        .token("prometheus", SCRAPER, dev.affinity.admin.AdminTokens.Scope.READ).build());
    balancer.admin().setMetricsWriter((b, codec) -> "requests " + b.router().target("a").requests() + "\n");
    for (String path : new String[] {"/affinity/status.json", "/affinity/metrics", "/affinity/api/groups"}) {
      ContentResponse none = http.GET(balancer.uri().resolve(path));
      assertThat(none.getStatus()).as(path).isEqualTo(401);
      assertThat(none.getHeaders().get("WWW-Authenticate")).as(path).startsWith("Bearer");
      assertThat(none.getContentAsString()).as(path).contains("\"error\":").doesNotContain(OPS);
      assertThat(http.newRequest(balancer.uri().resolve(path)).headers(h -> h.put("Authorization", "Bearer " + OPS + "x")).send()
          .getStatus()).as(path).isEqualTo(401);
      assertThat(http.newRequest(balancer.uri().resolve(path)).headers(h -> h.put("Authorization", "Bearer " + SCRAPER)).send()
          .getStatus()).as(path).isIn(200, 404);
    }
    assertThat(http.newRequest(balancer.uri().resolve("/affinity/status.json")).headers(h -> h.put("Authorization", "Bearer " + SCRAPER))
        .send().getContentAsString()).contains("\"groups\"");
    assertThat(http.GET(balancer.uri().resolve("/affinity/status")).getStatus()).isEqualTo(200);
    // The page's charting library loads as the page does, without a token (a <script src> cannot send one).
    assertThat(http.GET(balancer.uri().resolve("/affinity/assets/uplot.iife.min.js")).getStatus()).isEqualTo(200);
    assertThat(http.newRequest(balancer.uri().resolve("/affinity/assets/uplot.iife.min.js")).method(HttpMethod.POST).send()
        .getStatus()).as("a POST to an asset needs a write token").isEqualTo(401);
    assertThat(http.GET(balancer.uri().resolve("/affinity/ready")).getStatus()).isEqualTo(200);

    String drain = "/affinity/targets/a/drain";
    ContentResponse headerOnly = http.newRequest(balancer.uri().resolve(drain)).method(HttpMethod.POST)
        .headers(h -> h.put(AdminHandler.ADMIN_HEADER, "1")).send();
    assertThat(headerOnly.getStatus()).as("loopback and the header are not enough").isEqualTo(401);
    ContentResponse readOnly = http.newRequest(balancer.uri().resolve(drain)).method(HttpMethod.POST)
        .headers(h -> h.put(AdminHandler.ADMIN_HEADER, "1").put("Authorization", "Bearer " + SCRAPER)).send();
    assertThat(readOnly.getStatus()).isEqualTo(403);
    assertThat(readOnly.getContentAsString()).contains("prometheus").contains("read");
    assertThat(balancer.balancer().router().target("a").isDraining()).isFalse();
    ContentResponse written = http.newRequest(balancer.uri().resolve(drain)).method(HttpMethod.POST)
        .headers(h -> h.put("Authorization", "Bearer " + OPS)).send();
    assertThat(written.getStatus()).isEqualTo(200);
    assertThat(balancer.balancer().router().target("a").isDraining()).isTrue();
  }

  /** Without tokens the API paths refuse everyone: there is no valid token to present. */
  @Test
  void withoutTokensTheApiRefusesEveryRequest() throws Exception {
    startDuration("a");
    ContentResponse refused = http.newRequest(balancer.uri().resolve("/affinity/api/groups"))
        .headers(h -> h.put("Authorization", "Bearer " + OPS).put(AdminHandler.ADMIN_HEADER, "1")).send();
    assertThat(refused.getStatus()).isEqualTo(401);
    assertThat(refused.getContentAsString()).contains("no admin tokens are configured");
    assertThat(http.GET(balancer.uri().resolve("/affinity/status.json")).getStatus()).as("as before tokens").isEqualTo(200);
  }

  @Test
  void theChartingLibraryIsServedFromTheJarWithCacheHeadersAndUnknownAssetsAre404() throws Exception {
    startDuration("a");
    ContentResponse script = http.GET(balancer.uri().resolve("/affinity/assets/uplot.iife.min.js"));
    assertThat(script.getStatus()).isEqualTo(200);
    assertThat(script.getMediaType()).isEqualTo("text/javascript");
    assertThat(script.getHeaders().get("Cache-Control")).isEqualTo("private, max-age=86400");
    assertThat(script.getHeaders().get("X-Content-Type-Options")).isEqualTo("nosniff");
    assertThat(script.getContentAsString()).contains("uPlot").hasSizeGreaterThan(40_000);
    ContentResponse css = http.GET(balancer.uri().resolve("/affinity/assets/uplot.min.css"));
    assertThat(css.getMediaType()).isEqualTo("text/css");
    assertThat(css.getContentAsString()).contains(".uplot");
    assertThat(http.GET(balancer.uri().resolve("/affinity/assets/uplot.LICENSE")).getContentAsString()).contains("MIT License");
    assertThat(http.GET(balancer.uri().resolve("/affinity/assets/../status.json")).getStatus()).isNotEqualTo(500);
    ContentResponse unknown = http.GET(balancer.uri().resolve("/affinity/assets/uPlot.esm.js"));
    assertThat(unknown.getStatus()).isEqualTo(404);
    assertThat(unknown.getContentAsString()).startsWith("404 Not Found.");
    assertThat(http.newRequest(balancer.uri().resolve("/affinity/assets/uplot.min.css")).method(HttpMethod.POST).send().getStatus())
        .isEqualTo(405);
    // The page takes them from there, not from a CDN.
    String page = http.GET(balancer.uri().resolve("/affinity/status")).getContentAsString();
    assertThat(page).contains("<script src=\"assets/uplot.iife.min.js\">").contains("href=\"assets/uplot.min.css\"")
        .doesNotContain("https://").doesNotContain("//cdn");
  }

  @Test
  void statusJsonCarriesEachTargetsHistoryAndLifecycle() throws Exception {
    historyScheduler = new ManualScheduler();
    start(g -> g.stickiness(dev.affinity.balancer.StickinessPolicy.duration(dev.affinity.cookie.Expiry.sliding(Duration.ofHours(1))))
        .deregistrationDelay(Duration.ofSeconds(60)), dev.affinity.cookie.CookiePolicy.defaults(), "a", "b");
    UserAgent client = browser();
    for (int i = 0; i < 10; i++) {
      client.get("/");
    }
    String pinned = client.get("/").getHeaders().get("X-Backend");
    clock.advance(Duration.ofSeconds(5));
    historyScheduler.advance(Duration.ofSeconds(5));
    balancer.balancer().router().target("b").drain(clock.instant());
    clock.advance(Duration.ofSeconds(5));
    historyScheduler.advance(Duration.ofSeconds(5));
    String json = http.GET(balancer.uri().resolve("/affinity/status.json")).getContentAsString();
    assertThat(json).contains("\"history\":{\"interval\":\"PT5S\",\"span\":\"PT10M\",\"pinnedShare\":\"share of the group's pinned requests");
    long first = clock.instant().minusSeconds(5).getEpochSecond();
    long second = clock.instant().getEpochSecond();
    String busy = "\"history\":{\"t\":[" + first + "," + second + "],\"requestsPerSecond\":[2.2,0],\"pinnedPercent\":[100,null]}";
    String idle = "\"history\":{\"t\":[" + first + "," + second + "],\"requestsPerSecond\":[0,0],\"pinnedPercent\":[0,null]}";
    assertThat(json).contains(busy).contains(idle);
    assertThat(json.indexOf(busy)).as("the busy history is the pinned target's").isGreaterThan(json.indexOf("\"id\":\"" + pinned + "\""));
    assertThat(json).contains("\"drainEndsAt\":\"" + clock.instant().plusSeconds(55) + "\",\"drainSecondsLeft\":55,\"state\":\"draining\"");
    assertThat(json).contains("\"slowStart\":\"PT0S\",\"deregistrationDelay\":\"PT1M\"").contains("\"left\":[]");
  }
}
