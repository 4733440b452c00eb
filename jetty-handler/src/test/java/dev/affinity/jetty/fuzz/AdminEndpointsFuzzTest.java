package dev.affinity.jetty.fuzz;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.api.SilentCloseable;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.Router;
import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CodecCounters;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.jetty.AdminHandler;
import dev.affinity.jetty.AffinityServer;
import dev.affinity.jetty.Limits;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.LocalConnector;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The balancer's whole request path in-process: raw HTTP/1.1 requests with a fuzzed method, request
 * target (origin or absolute form, admin paths, paths naming a stray port), query, headers (Host, Cookie
 * with real tokens, the admin header, forwarding headers, anything) and body go through a Jetty
 * {@link LocalConnector} into {@link AffinityServer}'s handlers (admin, WebSocket, balancer), and again over
 * a socket to its public listener, through the balancer's own front end first (which serves a plain GET
 * or HEAD itself and hands anything else to Jetty's server). The only
 * target is a real Jetty backend on an ephemeral loopback port; a {@link ServerSocket} on another
 * loopback port is the stray. Oracles, for every request:
 * <ul>
 *   <li>a complete response within 5 s, and never a 5xx;</li>
 *   <li>no stack trace and no exception class name in the response (once the request's own text that
 *       the 404 page may echo is taken out);</li>
 *   <li>unknown admin paths answer 404 (or 400 when Jetty refused the request itself); the status page,
 *       JSON and metrics answer GET/HEAD with 200; drain and undrain need POST (405) and the admin header
 *       (403);</li>
 *   <li>only the configured target is ever contacted: the stray port sees 0 connections, Jazzer's SSRF
 *       detector allows only the backend's port, and a proxied answer comes from target {@code t1}.</li>
 * </ul>
 * The loopback-only restriction of the admin endpoints is off here, because a {@link LocalConnector}
 * has no remote address; every execution starts with {@code t1} not draining.
 */
class AdminEndpointsFuzzTest {
  private static final String[] METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PRI"};
  private static final String[] HEADER_NAMES = {
      "Host", "Cookie", AdminHandler.ADMIN_HEADER, "Accept", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded",
      "X-Affinity-Previous-Target", "Origin", "Content-Type", "Accept-Encoding", "Range", "If-None-Match", "Via", "Max-Forwards"};
  /** Headers that frame the message: a fuzzed one would leave the request incomplete, not test the handler. */
  private static final Set<String> FRAMING = Set.of(
      "content-length", "transfer-encoding", "expect", "connection", "upgrade", "te", "http2-settings", "keep-alive");
  private static final Pattern STATUS = Pattern.compile("^HTTP/1\\.[01] (\\d{3})");
  private static final Pattern STACK_TRACE = Pattern.compile(
      "(?m)(^\\s*at [\\w$]+(\\.[\\w$<>]+)+\\(|Caused by: |\\b[a-z][\\w$]*(\\.[\\w$]+)+\\.[A-Z][\\w$]*(Exception|Error)\\b"
          + "|\\b[A-Z][\\w$]*Exception\\b|\\.java:\\d+\\))");
  private static final Pattern SIMPLE_ADMIN = Pattern.compile("/affinity/([A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*)");

  private static Server backend;
  private static int backendPort;
  private static ServerSocket stray;
  private static final AtomicInteger strayConnections = new AtomicInteger();
  private static AffinityServer balancer;
  private static LocalConnector connector;
  private static Target t1;
  private static SilentCloseable onlyBackend;
  private static String[] requestTargets;
  private static String[] headerValues;

  @BeforeAll
  static void start() throws Exception {
    backend = new Server(new QueuedThreadPool(16, 2));
    ServerConnector bc = new ServerConnector(backend, 1, 1);
    bc.setHost("127.0.0.1");
    backend.addConnector(bc);
    backend.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        response.getHeaders().put("X-Backend", "t1");
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
        Content.Sink.write(response, true, "t1", callback);
        return true;
      }
    });
    backend.start();
    backendPort = bc.getLocalPort();

    stray = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(() -> {
      while (!stray.isClosed()) {
        try (Socket s = stray.accept()) {
          strayConnections.incrementAndGet();
        } catch (Exception e) {
          return;
        }
      }
    }, "stray-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();

    CodecCounters counters = JettyFuzzFixtures.counters();
    AffinityCookieCodec codec = JettyFuzzFixtures.codec(counters);
    AffinityCookies cookies = AffinityCookies.of(codec, CookiePolicy.defaults());
    TargetGroup web = TargetGroup.builder("web")
        .healthCheck(new HealthCheckSettings(false, "/health", Duration.ofHours(1), Duration.ofSeconds(2), 2, 2, 200, 399, Duration.ofSeconds(10)))
        .stickiness(StickinessPolicy.duration(Expiry.sliding(Duration.ofHours(1))))
        .target("t1", URI.create("http://127.0.0.1:" + backendPort), 1)
        .build();
    Router router = Router.builder(cookies).group(web).build();
    t1 = router.target("t1");
    // A metrics writer that reads the live counters, as the standalone balancer's Prometheus one does.
    balancer = AffinityServer.builder(router, counters).admin("/affinity", false).limits(Limits.builder().threads(16).build())
        .metrics((b, codecCounters) -> "requests " + b.router().target("t1").requests() + "\nsealed " + codecCounters.sealedCount() + "\n")
        .clock(JettyFuzzFixtures.CLOCK).build();
    HttpConfiguration http = new HttpConfiguration();
    http.setRequestHeaderSize(Limits.DEFAULT_MAX_REQUEST_HEADER_BYTES);
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    connector = new LocalConnector(balancer.server(), new HttpConnectionFactory(http));
    balancer.server().addConnector(connector);
    balancer.balancer().setUpstreamTimeout(Duration.ofSeconds(3));
    balancer.start();

    String strayOrigin = "127.0.0.1:" + stray.getLocalPort();
    requestTargets = new String[] {
        "/affinity", "/affinity/", "/affinity/status", "/affinity/status.json", "/affinity/metrics", "/affinity/targets/",
        "/affinity/targets/t1/drain", "/affinity/targets/t1/undrain", "/affinity/targets/ghost/drain", "/affinity/x",
        "/", "/app", "/app/../affinity/status", "/%2e%2e/affinity", "*",
        "http://" + strayOrigin + "/", "http://" + strayOrigin + "/affinity/status", "//" + strayOrigin + "/",
        "http://127.0.0.1:" + backendPort + "/affinity/metrics", "https://" + strayOrigin + "/x", strayOrigin};
    List<String> values = new ArrayList<>(List.of(
        strayOrigin, "127.0.0.1", "localhost:8080", "for=127.0.0.1;host=" + strayOrigin, "1", "t1", "ghost", "*/*",
        "application/json", "gzip", "bytes=0-1", "text/html"));
    for (String target : new String[] {"t1", "ghost"}) {
      AffinityTicket ticket = AffinityTicket.of(target, "web", JettyFuzzFixtures.START, JettyFuzzFixtures.START.plus(Duration.ofHours(1)));
      values.add("AFFINITY=" + codec.seal("AFFINITY", ticket));
      values.add("AFFINITYROUTE=" + codec.seal("AFFINITYROUTE", ticket));
    }
    headerValues = values.toArray(new String[0]);
  }

  @AfterAll
  static void stop() throws Exception {
    if (balancer != null) {
      balancer.stop();
    }
    if (backend != null) {
      backend.stop();
    }
    if (stray != null) {
      stray.close();
    }
    JettyFuzzFixtures.allowAllConnectionsAgain();
  }

  @FuzzTest(maxDuration = "5m")
  void rawRequestsThroughLocalConnector(FuzzedDataProvider data) throws Exception {
    if (onlyBackend == null) {
      // Only the backend may be contacted; Jazzer's SSRF detector reports anything else as a finding.
      // (Set here, not in @BeforeAll: Jazzer accepts it once the fuzz test runs.)
      try {
        onlyBackend = BugDetectors.allowNetworkConnections((host, port) -> port == backendPort || port == balancer.port());
      } catch (IllegalStateException hooksOff) {
        // Run with -Djazzer.hooks=false: no SSRF detector; the stray port still counts connections.
        onlyBackend = () -> { };
      }
    }
    List<String> echoed = new ArrayList<>();
    String method = data.consumeInt(0, 4) == 0 ? letters(data.consumeAsciiString(10)) : METHODS[data.consumeInt(0, METHODS.length - 1)];
    if (method.isEmpty()) {
      method = "GET";
    }
    String path = requestTargets[data.consumeInt(0, requestTargets.length - 1)];
    if (data.consumeBoolean()) {
      path += oneLine(data.consumeString(40));
    }
    String query = data.consumeBoolean() ? "?" + oneLine(data.consumeString(40)) : "";
    StringBuilder request = new StringBuilder();
    request.append(method).append(' ').append(path).append(query).append(" HTTP/1.1\r\n");
    echoed.add(method);
    echoed.add(path);
    echoed.add(query);
    if (data.consumeInt(0, 9) != 0) {
      String host = data.consumeBoolean() ? "127.0.0.1" : headerValues[data.consumeInt(0, headerValues.length - 1)];
      request.append("Host: ").append(host).append("\r\n");
      echoed.add(host);
    }
    boolean adminHeader = false;
    int headers = data.consumeInt(0, 8);
    for (int h = 0; h < headers && data.remainingBytes() > 0; h++) {
      String name = data.consumeInt(0, 5) == 0 ? token(data.consumeAsciiString(20)) : HEADER_NAMES[data.consumeInt(0, HEADER_NAMES.length - 1)];
      String value = data.consumeBoolean() ? headerValues[data.consumeInt(0, headerValues.length - 1)] : oneLine(data.consumeString(60));
      if (name.isEmpty() || FRAMING.contains(name.toLowerCase(Locale.ROOT))) {
        continue;
      }
      adminHeader |= name.equalsIgnoreCase(AdminHandler.ADMIN_HEADER);
      request.append(name).append(": ").append(value).append("\r\n");
      echoed.add(name);
      echoed.add(value);
    }
    String body = data.consumeBoolean() ? data.consumeAsciiString(100) : "";
    if (!body.isEmpty()) {
      request.append("Content-Length: ").append(body.length()).append("\r\n");
      echoed.add(body);
    }
    request.append("Connection: close\r\n\r\n").append(body);

    boolean head = method.equals("HEAD");
    String raw = request.toString();
    String response;
    try {
      response = connector.getResponse(raw, head, 5, TimeUnit.SECONDS);
    } finally {
      if (t1.isDraining()) {
        t1.undrain();
      }
    }
    check(raw, method, path, adminHeader, response, echoed);
    // The same request over the public listener's socket, where the balancer's own front end reads it first
    // (DirectHttp1: it serves a plain GET or HEAD itself and hands anything else to Jetty's server).
    String overSocket;
    try {
      overSocket = overSocket(raw);
    } finally {
      if (t1.isDraining()) {
        t1.undrain();
      }
    }
    check(raw, method, path, adminHeader, overSocket, echoed);
  }

  /** The answer to {@code raw} on a connection of its own to the public listener (which {@code Connection: close} ends). */
  private static String overSocket(String raw) throws java.io.IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), balancer.port())) {
      socket.setSoTimeout(5_000);
      socket.getOutputStream().write(raw.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      socket.getOutputStream().flush();
      try {
        return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
      } catch (java.net.SocketTimeoutException e) {
        return null;
      }
    }
  }

  private static void check(String raw, String method, String path, boolean adminHeader, String response, List<String> echoed) {
    if (response == null) {
      throw new AssertionError("no complete response within 5 s to:\n" + raw);
    }
    if (strayConnections.get() != 0) {
      throw new AssertionError("the stray port was contacted (" + strayConnections.get() + " connections) by:\n" + raw);
    }
    Matcher m = STATUS.matcher(response);
    if (!m.find()) {
      throw new AssertionError("not an HTTP response:\n" + response + "\nto:\n" + raw);
    }
    int status = Integer.parseInt(m.group(1));
    if (status >= 500) {
      throw new AssertionError("status " + status + " to:\n" + raw + "\nresponse:\n" + response);
    }
    String scrubbed = response;
    for (String e : echoed) {
      if (e.length() >= 3) {
        // As sent, as Jetty's error page writes it (ISO-8859-1, so other characters become '?'), and HTML-escaped.
        String latin1 = e.chars().mapToObj(c -> c > 0xFF ? "?" : String.valueOf((char) c)).collect(java.util.stream.Collectors.joining());
        for (String variant : new String[] {e, latin1, org.eclipse.jetty.util.StringUtil.sanitizeXmlString(latin1)}) {
          scrubbed = scrubbed.replace(variant, " ");
        }
      }
    }
    Matcher trace = STACK_TRACE.matcher(scrubbed);
    if (trace.find()) {
      throw new AssertionError("stack trace or exception name (\"" + trace.group() + "\") in the response to:\n" + raw
          + "\nresponse:\n" + response);
    }
    int backendAt = response.indexOf("\r\nX-Backend: ");
    if (backendAt >= 0 && !response.startsWith("t1\r\n", backendAt + "\r\nX-Backend: ".length())) {
      throw new AssertionError("a response from a backend other than t1:\n" + response);
    }
    if (status == 400) {
      return; // Jetty refused the request before any handler saw it.
    }
    Matcher admin = SIMPLE_ADMIN.matcher(path);
    if (admin.matches()) {
      String sub = admin.group(1);
      boolean read = method.equals("GET") || method.equals("HEAD");
      if (sub.equals("status") || sub.equals("metrics")) {
        expect(read ? 200 : 405, status, raw, response);
      } else if (sub.startsWith("targets/")) {
        String[] parts = sub.split("/", -1);
        boolean action = parts.length == 3 && (parts[2].equals("drain") || parts[2].equals("undrain"));
        if (!action) {
          expect(404, status, raw, response);
        } else if (!method.equals("POST")) {
          expect(405, status, raw, response);
        } else if (!adminHeader) {
          expect(403, status, raw, response);
        } else {
          expect(parts[1].equals("t1") ? 200 : 404, status, raw, response);
        }
      } else {
        expect(404, status, raw, response);
      }
    }
  }

  private static void expect(int expected, int status, String raw, String response) {
    if (status != expected) {
      throw new AssertionError("expected " + expected + " but got " + status + " for:\n" + raw + "\nresponse:\n" + response);
    }
  }

  private static String oneLine(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\r' && c != '\n') {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  private static String letters(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_') {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  /** RFC 9110 tchar only, so that the name cannot end the header line early. */
  private static String token(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0) {
        sb.append(c);
      }
    }
    return sb.toString();
  }
}
