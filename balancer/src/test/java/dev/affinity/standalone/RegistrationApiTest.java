package dev.affinity.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.affinity.cookie.MutableClock;
import dev.affinity.jetty.Backends;
import dev.affinity.jetty.BalancerTestBase;
import dev.affinity.jetty.ManualScheduler;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.HttpCookie;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpCookieStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The registration API over real sockets, through the launcher: tokens guard every call, registered
 * targets take traffic, deregistered ones drain for the group's delay (on an injected clock), and both
 * survive a restart and a reload; bad input is refused naming the field, and changes nothing.
 */
class RegistrationApiTest {
  private static final String OPS = "ops-0123456789abcdef-write";
  private static final String SCRAPER = "scraper-0123456789abcdef-read";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;
  private Backends backends;
  private HttpClient http;
  private BalancerLauncher.Running running;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final ManualScheduler reloadScheduler = new ManualScheduler();
  private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T10:00:00Z"));
  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private Path file;

  @BeforeEach
  void setUp() throws Exception {
    backends = Backends.start("web-1", "web-2", "extra-1", "extra-2");
    http = new HttpClient();
    http.setHttpCookieStore(new HttpCookieStore.Empty());
    http.start();
    log.start();
    ((Logger) LoggerFactory.getLogger(RegistrationApi.class)).addAppender(log);
    file = Files.writeString(dir.resolve("balancer.yaml"), yaml(0, ""));
  }

  @AfterEach
  void tearDown() throws Exception {
    ((Logger) LoggerFactory.getLogger(RegistrationApi.class)).detachAppender(log);
    if (running != null) {
      running.close();
    }
    http.stop();
    backends.close();
  }

  private String yaml(int port, String more) {
    return "listen: { host: 127.0.0.1, port: " + port + " }\n"
        + "keys:\n"
        + "  - { id: k1, secret: \"" + BalancerTestBase.SECRET + "\" }\n"
        + "targetGroups:\n"
        + "  - name: web\n"
        + "    stickiness: { type: duration, duration: PT1H }\n"
        + "    healthCheck: { enabled: false }\n"
        + "    deregistrationDelay: PT5M\n"
        + "    targets:\n"
        + "      - { id: web-1, uri: \"" + backends.uri("web-1") + "\" }\n"
        + "      - { id: web-2, uri: \"" + backends.uri("web-2") + "\" }\n"
        + more
        + "admin:\n"
        + "  tokens:\n"
        + "    - { id: ops, secret: \"" + OPS + "\", scope: write }\n"
        + "    - { id: prometheus, secret: \"" + SCRAPER + "\", scope: read }\n";
  }

  private void launch() throws Exception {
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler, null, clock);
    assertThat(running.exitCode()).as(err.toString(StandardCharsets.UTF_8)).isZero();
  }

  private URI admin() {
    return running.server().adminUri();
  }

  private ContentResponse call(String method, String path, String token, String body) throws Exception {
    Request request = http.newRequest(URI.create(admin() + path)).method(method);
    if (token != null) {
      request.headers(h -> h.put("Authorization", "Bearer " + token));
    }
    if (body != null) {
      request.body(new StringRequestContent("application/json", body));
    }
    return request.send();
  }

  private JsonNode json(ContentResponse response) throws Exception {
    return JSON.readTree(response.getContentAsString());
  }

  private JsonNode target(String id) throws Exception {
    for (JsonNode t : json(call("GET", "/api/groups/web/targets", SCRAPER, null))) {
      if (t.get("id").asText().equals(id)) {
        return t;
      }
    }
    return null;
  }

  private List<String> loggedChanges() {
    return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  /** A browser of its own: the route cookie it was given, sent back on every request, whatever the balancer's port. */
  private final class Client {
    private final Map<String, String> jar = new LinkedHashMap<>();

    String get() throws Exception {
      Request request = http.newRequest(running.server().uri().resolve("/"));
      if (!jar.isEmpty()) {
        request.headers(h -> h.put("Cookie", jar.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining("; "))));
      }
      ContentResponse response = request.send();
      for (String header : response.getHeaders().getValuesList("Set-Cookie")) {
        for (HttpCookie c : HttpCookie.parse("Set-Cookie: " + header)) {
          jar.put(c.getName(), c.getValue());
        }
      }
      assertThat(response.getStatus()).isEqualTo(200);
      return response.getContentAsString();
    }
  }

  /** A new client pinned to {@code id}: new clients are balanced round robin, so one of the next few lands there. */
  private Client pinnedTo(String id) throws Exception {
    for (int i = 0; i < 12; i++) {
      Client client = new Client();
      if (client.get().equals(id)) {
        return client;
      }
    }
    throw new AssertionError("no new client reached " + id);
  }

  private String register(String id) throws Exception {
    ContentResponse registered = call("POST", "/api/groups/web/targets", OPS,
        "{\"id\": \"" + id + "\", \"uri\": \"" + backends.uri(id) + "\", \"weight\": 1}");
    assertThat(registered.getStatus()).as(registered.getContentAsString()).isEqualTo(201);
    return registered.getContentAsString();
  }

  @Test
  void everyCallWithoutAValidTokenIsRefusedAndAReadTokenOnlyReads() throws Exception {
    launch();
    String body = "{\"id\": \"extra-1\", \"uri\": \"" + backends.uri("extra-1") + "\"}";
    List<String[]> reads = List.of(new String[] {"GET", "/api/groups"}, new String[] {"GET", "/api/groups/web"},
        new String[] {"GET", "/api/groups/web/targets"}, new String[] {"HEAD", "/api/groups"}, new String[] {"GET", "/api/nothing"},
        new String[] {"GET", "/status.json"}, new String[] {"GET", "/metrics"});
    List<String[]> writes = List.of(new String[] {"POST", "/api/groups/web/targets"},
        new String[] {"PATCH", "/api/groups/web/targets/web-1"}, new String[] {"DELETE", "/api/groups/web/targets/web-1"},
        new String[] {"PUT", "/api/groups"}, new String[] {"POST", "/targets/web-1/drain"});
    List<String[]> all = new ArrayList<>(reads);
    all.addAll(writes);
    for (String[] c : all) {
      for (String token : new String[] {null, "wrong-0123456789abcdef", OPS + "x", OPS.substring(1), SCRAPER.toUpperCase()}) {
        ContentResponse refused = call(c[0], c[1], token, c[0].equals("GET") || c[0].equals("HEAD") ? null : body);
        assertThat(refused.getStatus()).as("%s %s with %s", c[0], c[1], token).isEqualTo(401);
        assertThat(refused.getHeaders().get("WWW-Authenticate")).isEqualTo("Bearer realm=\"affinity\"");
      }
      // Basic credentials, or a token in another header, are not bearer tokens.
      ContentResponse basic = http.newRequest(URI.create(admin() + c[1])).method(c[0])
          .headers(h -> h.put("Authorization", "Basic b3BzOg==").put("X-Affinity-Admin", "1").put("X-Api-Key", OPS)).send();
      assertThat(basic.getStatus()).as("%s %s", c[0], c[1]).isEqualTo(401);
    }
    for (String[] c : reads) {
      assertThat(call(c[0], c[1], SCRAPER, null).getStatus()).as("%s %s", c[0], c[1]).isEqualTo(c[1].equals("/api/nothing") ? 404 : 200);
    }
    for (String[] c : writes) {
      ContentResponse forbidden = call(c[0], c[1], SCRAPER, body);
      assertThat(forbidden.getStatus()).as("%s %s", c[0], c[1]).isEqualTo(403);
      assertThat(json(forbidden).get("error").asText()).contains("prometheus").contains("read");
    }
    // Nothing changed: no target added, drained or removed, no state written, nothing logged.
    assertThat(running.server().balancer().router().group("web").targets()).extracting(t -> t.id() + (t.isDraining() ? "*" : ""))
        .containsExactly("web-1", "web-2");
    assertThat(dir.resolve("balancer.state.json")).doesNotExist();
    assertThat(loggedChanges()).noneMatch(m -> m.contains("token"));
    JsonNode groups = json(call("GET", "/api/groups", SCRAPER, null));
    assertThat(groups.at("/groups/0/name").asText()).isEqualTo("web");
    assertThat(groups.at("/groups/0/deregistrationDelay").asText()).isEqualTo("PT5M");
    assertThat(groups.at("/groups/0/targets/0/source").asText()).isEqualTo("yaml");
    assertThat(groups.at("/groups/0/targets/0/health").asText()).isEqualTo("healthy");
    assertThat(groups.at("/groups/0/targets/0").has("newPins")).isTrue();
  }

  @Test
  void aRegisteredTargetTakesTrafficShowsInStatusAndIsReweighed() throws Exception {
    launch();
    JsonNode created = JSON.readTree(register("extra-1"));
    assertThat(created.get("source").asText()).isEqualTo("api");
    assertThat(created.get("uri").asText()).isEqualTo(backends.uri("extra-1").toString());
    Client pinned = pinnedTo("extra-1");
    for (int i = 0; i < 5; i++) {
      assertThat(pinned.get()).isEqualTo("extra-1");
    }
    assertThat(call("GET", "/status.json", SCRAPER, null).getContentAsString()).contains("\"id\":\"extra-1\"");
    assertThat(target("extra-1").get("newPins").asLong()).isPositive();
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).contains("extra-1").contains(backends.uri("extra-1").toString());
    assertThat(loggedChanges()).anyMatch(m -> m.startsWith("affinity: token ops registered target extra-1"));

    ContentResponse reweighed = call("PATCH", "/api/groups/web/targets/extra-1", OPS, "{\"weight\": 0}");
    assertThat(reweighed.getStatus()).as(reweighed.getContentAsString()).isEqualTo(200);
    assertThat(json(reweighed).get("weight").asInt()).isZero();
    assertThat(running.server().balancer().router().target("extra-1").weight()).isZero();
    for (int i = 0; i < 6; i++) {
      assertThat(new Client().get()).as("weight 0 takes no new client").isNotEqualTo("extra-1");
    }
    // Persistence beats weights: the pinned client stays.
    assertThat(pinned.get()).isEqualTo("extra-1");
    assertThat(loggedChanges()).anyMatch(m -> m.equals("affinity: token ops changed the weight of target extra-1 of group web from 1 to 0"));
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).contains("\"weight\" : 0");
  }

  @Test
  void aDeregisteredTargetKeepsItsPinnedClientsForTheDelayThenTheyMoveOnce() throws Exception {
    launch();
    register("extra-1");
    Client pinned = pinnedTo("extra-1");
    ContentResponse removed = call("DELETE", "/api/groups/web/targets/extra-1", OPS, null);
    assertThat(removed.getStatus()).as(removed.getContentAsString()).isEqualTo(202);
    assertThat(json(removed).get("drainingUntil").asText()).isEqualTo(clock.instant().plus(Duration.ofMinutes(5)).toString());
    assertThat(loggedChanges()).anyMatch(m -> m.startsWith("affinity: token ops deregistered target extra-1 of group web"));
    assertThat(target("extra-1").get("draining").asBoolean()).isTrue();
    for (int i = 0; i < 6; i++) {
      assertThat(new Client().get()).as("a draining target takes no new client").isNotEqualTo("extra-1");
      assertThat(pinned.get()).isEqualTo("extra-1");
    }
    clock.advance(Duration.ofMinutes(5).minusSeconds(1));
    assertThat(pinned.get()).isEqualTo("extra-1");
    clock.advance(Duration.ofSeconds(1));
    String moved = pinned.get();
    assertThat(moved).isIn("web-1", "web-2");
    for (int i = 0; i < 5; i++) {
      assertThat(pinned.get()).as("moved once, then stays").isEqualTo(moved);
    }
    // Deregistered twice: the second one finds nothing registered.
    ContentResponse again = call("DELETE", "/api/groups/web/targets/extra-1", OPS, null);
    assertThat(again.getStatus()).isEqualTo(404);
    assertThat(json(again).get("field").asText()).isEqualTo("id");
  }

  @Test
  void registeredAndDrainingTargetsSurviveARestartAndAReload() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    Files.writeString(file, yaml(port, ""));
    launch();
    register("extra-1");
    register("extra-2");
    Client pinned = pinnedTo("extra-2");
    assertThat(call("DELETE", "/api/groups/web/targets/extra-2", OPS, null).getStatus()).isEqualTo(202);
    String drainingUntil = target("extra-2").get("drainingUntil").asText();
    clock.advance(Duration.ofMinutes(2));

    running.close();
    running = null;
    launch();
    JsonNode extra1 = target("extra-1");
    assertThat(extra1.get("source").asText()).isEqualTo("api");
    assertThat(extra1.get("draining").asBoolean()).isFalse();
    JsonNode extra2 = target("extra-2");
    assertThat(extra2.get("draining").asBoolean()).isTrue();
    assertThat(extra2.get("drainingUntil").asText()).as("the same deadline as before the restart").isEqualTo(drainingUntil);
    assertThat(pinned.get()).as("the pinned client keeps its draining target across the restart").isEqualTo("extra-2");
    pinnedTo("extra-1");

    // A reload of the YAML (another target, the same group) keeps both.
    Files.writeString(file, yaml(port, "      - { id: web-3, uri: \"" + backends.uri("web-1") + "\" }\n"));
    reloadScheduler.advance(BalancerLauncher.RELOAD_POLL_INTERVAL);
    assertThat(target("web-3")).as("the reload was applied").isNotNull();
    assertThat(target("extra-1").get("draining").asBoolean()).isFalse();
    assertThat(target("extra-2").get("draining").asBoolean()).isTrue();
    assertThat(pinned.get()).isEqualTo("extra-2");

    clock.advance(Duration.ofMinutes(3));
    assertThat(pinned.get()).as("the deadline holds across restart and reload").isNotEqualTo("extra-2");
    // The next change forgets the ended drain.
    assertThat(call("PATCH", "/api/groups/web/targets/extra-1", OPS, "{\"weight\": 3}").getStatus()).isEqualTo(200);
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).doesNotContain("extra-2");
  }

  @Test
  void theYamlWinsForTheIdsItHasAtTheNextStart() throws Exception {
    launch();
    register("extra-1");
    running.close();
    running = null;
    Files.writeString(file, yaml(0, "      - { id: extra-1, uri: \"" + backends.uri("extra-2") + "\" }\n"));
    launch();
    JsonNode extra1 = target("extra-1");
    assertThat(extra1.get("source").asText()).isEqualTo("yaml");
    assertThat(extra1.get("uri").asText()).isEqualTo(backends.uri("extra-2").toString());
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).doesNotContain("extra-1");
  }

  @Test
  void badInputIsRefusedNamingTheFieldAndChangesNothing() throws Exception {
    launch();
    register("extra-1");
    String stateBefore = Files.readString(dir.resolve("balancer.state.json"));
    String listingBefore = json(call("GET", "/api/groups", SCRAPER, null)).toString();
    int own = running.server().uri().getPort();
    int adminPort = admin().getPort();
    String extra2 = backends.uri("extra-2").toString();
    Object[][] cases = {
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": ", 400, "body"},
        {"POST", "/api/groups/web/targets", "[1, 2]", 400, "body"},
        {"POST", "/api/groups/web/targets", "", 400, "body"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"a\", \"id\": \"b\", \"uri\": \"" + extra2 + "\"}", 400, "body"},
        {"POST", "/api/groups/nope/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\"}", 404, "group"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"web-1\", \"uri\": \"" + extra2 + "\"}", 409, "id"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-1\", \"uri\": \"" + extra2 + "\"}", 409, "id"},
        {"POST", "/api/groups/web/targets", "{\"uri\": \"" + extra2 + "\"}", 400, "id"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"bad id!\", \"uri\": \"" + extra2 + "\"}", 400, "id"},
        {"POST", "/api/groups/web/targets", "{\"id\": 7, \"uri\": \"" + extra2 + "\"}", 400, "id"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"ftp://127.0.0.1:21\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"http://127.0.0.1\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "/path\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"http://u:p@127.0.0.1:1\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"http://127.0.0.1:" + own + "\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"http://localhost:" + own + "\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"https://[::1]:" + adminPort + "\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"http://0.0.0.0:" + own + "\"}", 400, "uri"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\", \"weight\": 5000}", 400, "weight"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\", \"weight\": 1.5}", 400, "weight"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\", \"weight\": \"2\"}", 400, "weight"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\", \"group\": \"web\"}", 400, "group"},
        {"PATCH", "/api/groups/web/targets/extra-1", "{\"weight\": -1}", 400, "weight"},
        {"PATCH", "/api/groups/web/targets/extra-1", "{}", 400, "weight"},
        {"PATCH", "/api/groups/web/targets/extra-1", "{\"weight\": 2, \"uri\": \"" + extra2 + "\"}", 400, "uri"},
        {"PATCH", "/api/groups/web/targets/web-1", "{\"weight\": 2}", 409, "id"},
        {"PATCH", "/api/groups/web/targets/nobody", "{\"weight\": 2}", 404, "id"},
        {"PATCH", "/api/groups/nope/targets/extra-1", "{\"weight\": 2}", 404, "group"},
        {"DELETE", "/api/groups/web/targets/web-1", null, 409, "id"},
        {"DELETE", "/api/groups/nope/targets/extra-1", null, 404, "group"},
        {"GET", "/api/groups/nope", null, 404, "group"},
        {"POST", "/api/groups/web/targets", "{\"id\": \"extra-2\", \"uri\": \"" + extra2 + "\", \"pad\": \"" + "x".repeat(20_000) + "\"}", 413, "body"},
    };
    for (Object[] c : cases) {
      ContentResponse refused = call((String) c[0], (String) c[1], OPS, (String) c[2]);
      String what = c[0] + " " + c[1] + " " + (c[2] == null ? "" : ((String) c[2]).substring(0, Math.min(120, ((String) c[2]).length())));
      assertThat(refused.getStatus()).as(what + " -> " + refused.getContentAsString()).isEqualTo(c[3]);
      assertThat(refused.getMediaType()).as(what).isEqualTo("application/json");
      JsonNode error = json(refused);
      assertThat(error.get("field").asText()).as(what + " -> " + error).isEqualTo(c[4]);
      assertThat(error.get("error").asText()).as(what).isNotBlank().doesNotContain("Exception").doesNotContain("\tat ");
    }
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).isEqualTo(stateBefore);
    assertThat(json(call("GET", "/api/groups", SCRAPER, null)).toString()).isEqualTo(listingBefore);
    assertThat(running.server().balancer().router().target("extra-2")).isNull();
    assertThat(loggedChanges().stream().filter(m -> m.startsWith("affinity: token")).toList()).hasSize(1);
  }

  @Test
  void reRegisteringADrainingTargetTakesItBackWithItsPins() throws Exception {
    launch();
    register("extra-1");
    Client pinned = pinnedTo("extra-1");
    long pins = target("extra-1").get("newPins").asLong();
    assertThat(call("DELETE", "/api/groups/web/targets/extra-1", OPS, null).getStatus()).isEqualTo(202);
    register("extra-1");
    JsonNode back = target("extra-1");
    assertThat(back.get("draining").asBoolean()).isFalse();
    assertThat(back.get("newPins").asLong()).as("the same target, counters kept").isEqualTo(pins);
    clock.advance(Duration.ofMinutes(10));
    assertThat(pinned.get()).as("no longer draining: the delay no longer applies").isEqualTo("extra-1");
    assertThat(Files.readString(dir.resolve("balancer.state.json"))).doesNotContain("\"since\"");
  }

  /** The state file cannot be replaced (a directory took its name): the change is refused with 503 and not applied. */
  @Test
  void aChangeThatCannotBeKeptIsUndone() throws Exception {
    launch();
    register("extra-1");
    Path state = dir.resolve("balancer.state.json");
    Files.delete(state);
    Files.createDirectory(state);
    Files.writeString(state.resolve("keep"), "x");
    ContentResponse refused = call("POST", "/api/groups/web/targets", OPS,
        "{\"id\": \"extra-2\", \"uri\": \"" + backends.uri("extra-2") + "\"}");
    assertThat(refused.getStatus()).isEqualTo(503);
    assertThat(json(refused).get("error").asText()).contains("nothing changed");
    assertThat(running.server().balancer().router().target("extra-2")).isNull();
    assertThat(call("DELETE", "/api/groups/web/targets/extra-1", OPS, null).getStatus()).isEqualTo(503);
    assertThat(target("extra-1").get("draining").asBoolean()).isFalse();
    assertThat(call("PATCH", "/api/groups/web/targets/extra-1", OPS, "{\"weight\": 4}").getStatus()).isEqualTo(503);
    assertThat(target("extra-1").get("weight").asInt()).isEqualTo(1);
    assertThat(loggedChanges().stream().filter(m -> m.startsWith("affinity: token")).toList()).hasSize(1);
  }

  @Test
  void aCorruptStateFileStopsTheStartWithOneMessage() throws Exception {
    Files.writeString(dir.resolve("balancer.state.json"), "{\"version\": 1, \"targets\": [ {\"group\": \"web\"");
    running = BalancerLauncher.run(new String[] {file.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), reloadScheduler, null, clock);
    assertThat(running.exitCode()).isEqualTo(BalancerLauncher.EXIT_CONFIG);
    assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("affinity: ").contains("balancer.state.json")
        .doesNotContain("\tat ");
  }
}
