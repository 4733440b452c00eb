package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.CookiePolicy;
import dev.affinity.observe.AccessLog;
import dev.affinity.observe.AccessLogFormat;
import dev.affinity.observe.ExchangeRecord;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.StringRequestContent;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One record per finished exchange, over both paths to a target: who was routed where and why, the
 * statuses, the timings, and the trace the target got.
 */
class AccessLogTest extends BalancerTestBase {
  private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  private final BlockingQueue<ExchangeRecord> records = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

  @BeforeEach
  void observe() {
    observers.add(records::add);
    observers.add(AccessLog.to(AccessLogFormat.json(), lines::add));
  }

  private ExchangeRecord next() throws InterruptedException {
    ExchangeRecord record = records.poll(10, TimeUnit.SECONDS);
    assertThat(record).as("an access record").isNotNull();
    return record;
  }

  @OverBothPaths
  void aNewClientThenAStickyHitEachWithTheirTargetTimingsAndATraceTheTargetGot(TargetPath path) throws Exception {
    startDuration(path, "a", "b", "c");
    UserAgent client = browser();
    ContentResponse first = client.get("/first?x=1");
    String target = first.getContentAsString();
    ExchangeRecord pin = next();
    assertThat(pin.method()).isEqualTo("GET");
    assertThat(pin.uri()).isEqualTo("/first?x=1");
    assertThat(pin.protocol()).isEqualTo("HTTP/1.1");
    assertThat(pin.group()).isEqualTo("web");
    assertThat(pin.target()).isEqualTo(target);
    assertThat(pin.routing()).isEqualTo("new_client");
    assertThat(pin.rule()).as("no rules configured").isNull();
    assertThat(pin.attempts()).isEqualTo(1);
    assertThat(pin.status()).isEqualTo(200);
    assertThat(pin.targetStatus()).isEqualTo(200);
    assertThat(pin.bytesOut()).isEqualTo(target.length());
    assertThat(pin.client()).startsWith("127.0.0.1:");
    assertThat(pin.listener()).isEqualTo("127.0.0.1:" + balancer.port());
    assertThat(pin.requestNanos()).isNotNegative();
    assertThat(pin.targetNanos()).isNotNegative();
    assertThat(pin.responseNanos()).isNotNegative();
    assertThat(pin.tlsProtocol()).isNull();
    // The target saw the same request id and trace the log has: one key across the logs.
    assertThat(pin.requestId()).matches("[0-9a-f]{32}");
    assertThat(pin.traceparent()).isEqualTo("00-" + pin.requestId() + "-" + pin.traceparent().substring(36, 52) + "-00");
    assertThat(backends.get(target).lastHeaders).containsEntry("x-request-id", pin.requestId())
        .containsEntry("traceparent", pin.traceparent());
    assertThat(lines.poll(10, TimeUnit.SECONDS)).contains("\"routing\":\"new_client\"").contains("\"target\":\"" + target + "\"");

    // The next one is a sticky hit; a client's traceparent is kept, its X-Request-Id is not (it is no trusted proxy).
    ContentResponse second = client.send(http.newRequest(balancer.uri().resolve("/second"))
        .headers(h -> h.put("traceparent", PARENT).put("X-Request-Id", "forged")));
    assertThat(second.getContentAsString()).isEqualTo(target);
    ExchangeRecord hit = next();
    assertThat(hit.routing()).isEqualTo("sticky_hit");
    assertThat(hit.target()).isEqualTo(target);
    assertThat(hit.traceparent()).isEqualTo(PARENT);
    assertThat(hit.requestId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(backends.get(target).lastHeaders).containsEntry("traceparent", PARENT)
        .containsEntry("x-request-id", "4bf92f3577b34da6a3ce929d0e0e4736");
    path.assertTaken(balancer.balancer());
  }

  @OverBothPaths
  void aFailoverSaysFromWhereAndHowManyTries(TargetPath path) throws Exception {
    startDuration(path, "a", "b");
    UserAgent client = browser();
    String pinned = client.get("/").getContentAsString();
    next();
    backends.get(pinned).kill();
    String moved = client.get("/").getContentAsString();
    assertThat(moved).isNotEqualTo(pinned);
    ExchangeRecord failover = next();
    assertThat(failover.target()).isEqualTo(moved);
    assertThat(failover.previousTarget()).isEqualTo(pinned);
    assertThat(failover.routing()).isEqualTo("repin");
    assertThat(failover.attempts()).isEqualTo(2);
    assertThat(failover.status()).isEqualTo(200);
    assertThat(failover.targetStatus()).isEqualTo(200);
  }

  @Test
  void anInvalidCookieIsToldFromANewClientAndSaysWhy() throws Exception {
    startDuration("a", "b");
    UserAgent client = browser();
    client.get("/");
    assertThat(next().invalidCookie()).as("a client without a cookie").isNull();
    String valid = client.jar.get("AFFINITY");
    // One character changed: the seal does not open.
    char last = valid.charAt(valid.length() - 2);
    client.jar.put("AFFINITY", valid.substring(0, valid.length() - 2) + (last == 'A' ? 'B' : 'A') + valid.charAt(valid.length() - 1));
    client.get("/");
    ExchangeRecord tampered = next();
    assertThat(tampered.routing()).isEqualTo("new_client");
    assertThat(tampered.invalidCookie()).isIn("tampered", "not_base64");
    client.get("/");
    ExchangeRecord hit = next();
    assertThat(hit.routing()).isEqualTo("sticky_hit");
    assertThat(hit.invalidCookie()).isNull();
  }

  @Test
  void answersOfTheBalancerItselfAreLoggedToo() throws Exception {
    startDuration("a");
    backends.get("a").kill();
    // The group fails open onto its one target, which refuses: the client gets 503, and the log says
    // which target was tried, that none answered, and that there was nowhere else to go.
    assertThat(http.GET(balancer.uri().resolve("/")).getStatus()).isEqualTo(503);
    ExchangeRecord refused = next();
    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.routing()).isEqualTo("new_client");
    assertThat(refused.target()).isEqualTo("a");
    assertThat(refused.attempts()).isEqualTo(1);
    assertThat(refused.targetStatus()).isEqualTo(-1);
    assertThat(refused.responseNanos()).isEqualTo(-1);
    assertThat(refused.requestId()).isNotNull();

    balancer.balancer().setMaxRequestBodyBytes(10);
    assertThat(http.POST(balancer.uri().resolve("/")).body(new StringRequestContent("x".repeat(11))).send().getStatus()).isEqualTo(413);
    ExchangeRecord tooLarge = next();
    assertThat(tooLarge.status()).isEqualTo(413);
    assertThat(tooLarge.method()).isEqualTo("POST");
    assertThat(tooLarge.routing()).isNull();

    assertThat(http.GET(balancer.uri().resolve("/affinity/status.json")).getStatus()).isEqualTo(200);
    ExchangeRecord admin = next();
    assertThat(admin.uri()).isEqualTo("/affinity/status.json");
    assertThat(admin.status()).isEqualTo(200);
    assertThat(admin.bytesOut()).isPositive();
    assertThat(admin.requestId()).isNull();
    assertThat(admin.group()).isNull();
  }

  private String nextLine() throws InterruptedException {
    String line = lines.poll(10, TimeUnit.SECONDS);
    assertThat(line).as("an access log line").isNotNull();
    return line;
  }

  @OverBothPaths
  void theListenerRuleThatMatchedIsLoggedByName(TargetPath path) throws Exception {
    routing = TestRules.shop();
    startDuration(path, "a");
    assertThat(browser().get("/shop/cart").getStatus()).isEqualTo(200);
    ExchangeRecord shop = next();
    assertThat(shop.rule()).isEqualTo("shop");
    assertThat(shop.target()).isEqualTo("a");
    assertThat(nextLine()).contains("\"rule\":\"shop\",\"group\":\"web\",\"target\":\"a\"");

    assertThat(browser().get("/old/page").getStatus()).isEqualTo(301);
    ExchangeRecord redirect = next();
    assertThat(redirect.rule()).isEqualTo("priority 20");
    assertThat(redirect.group()).isNull();
    assertThat(redirect.status()).isEqualTo(301);
    assertThat(nextLine()).contains("\"rule\":\"priority 20\",\"group\":null");

    assertThat(browser().send(http.newRequest(balancer.uri().resolve("/x")).headers(h -> h.put("X-Maintenance", "on")))
        .getStatus()).isEqualTo(503);
    ExchangeRecord fixed = next();
    assertThat(fixed.rule()).isEqualTo("maintenance");
    assertThat(fixed.targetStatus()).isEqualTo(-1);
    nextLine();

    // No rule matched: the top-level forward, no rule named.
    assertThat(browser().get("/other").getStatus()).isEqualTo(200);
    ExchangeRecord none = next();
    assertThat(none.rule()).isNull();
    assertThat(none.target()).isEqualTo("a");
    assertThat(nextLine()).contains("\"rule\":null,\"group\":\"web\"");

    // Refused before any rule was asked.
    assertThat(browser().get("/shop/a%3Bb").getStatus()).isEqualTo(400);
    ExchangeRecord refused = next();
    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.rule()).isNull();
    nextLine();
  }

  @Test
  void withNoObserverNoRequestLogIsInstalled() throws Exception {
    observers.clear();
    start(g -> { }, CookiePolicy.defaults(), "a");
    assertThat(balancer.server().getRequestLog()).isNull();
    assertThat(http.GET(balancer.uri().resolve("/")).getStatus()).isEqualTo(200);
    // The trace goes to the target whether or not anything is logged.
    assertThat(backends.get("a").lastHeaders).containsKey("x-request-id").containsKey("traceparent");
  }
}
