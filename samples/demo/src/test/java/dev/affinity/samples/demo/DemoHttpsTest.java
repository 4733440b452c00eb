package dev.affinity.samples.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.tls.Pem;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo with {@code --https}, as curl and the JDK's HTTP client see it: they trust the CA file the
 * demo prints and nothing else (no certificate check is turned off), speak h2, get the filter's cookies
 * with {@code Secure} from every target (Jetty and Tomcat learn the scheme from the balancer's
 * {@code X-Forwarded-Proto}), and the plain port redirects to HTTPS.
 */
class DemoHttpsTest {
  private static Demo demo;
  private static SSLContext trustingTheDemoCa;

  @BeforeAll
  static void start() throws Exception {
    demo = Demo.startHttps(0, 0, System.err);
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(Pem.trustStore(demo.caFile()));
    trustingTheDemoCa = SSLContext.getInstance("TLS");
    trustingTheDemoCa.init(null, trust.getTrustManagers(), null);
  }

  @AfterAll
  static void stop() throws Exception {
    if (demo != null) {
      demo.close();
    }
  }

  @Test
  void theCaFileSignsTheServerCertificateForLocalhostAndLoopback() throws Exception {
    List<X509Certificate> ca = Pem.certificates(demo.caFile());
    assertThat(ca).hasSize(1);
    assertThat(ca.get(0).getBasicConstraints()).as("a CA that signs no other CA").isEqualTo(0);
    X509Certificate server = demo.certificates().serverCertificate();
    server.verify(ca.get(0).getPublicKey());
    server.checkValidity();
    assertThat(server.getSubjectAlternativeNames().stream().map(name -> String.valueOf(name.get(1))))
        .containsExactlyInAnyOrder("localhost", "127.0.0.1", "0:0:0:0:0:0:0:1");
    assertThat(server.getBasicConstraints()).as("not a CA").isEqualTo(-1);
    assertThat(demo.uri().getScheme()).isEqualTo("https");
    assertThat(demo.certificates().serverKeyPin()).isEqualTo(DemoCertificates.spkiSha256(server)).hasSize(44);
  }

  @Test
  void curlTrustsThePrintedCaFileAndSpeaksH2() throws Exception {
    Path curl = Path.of("/usr/bin/curl");
    if (System.getenv("CI") == null) {
      Assumptions.assumeTrue(Files.isExecutable(curl), "curl is not installed");
    }
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    demo.printWelcome(new PrintStream(output, true, StandardCharsets.UTF_8));
    String welcome = output.toString(StandardCharsets.UTF_8);
    assertThat(welcome).contains("  shop       " + demo.uri() + "/", demo.redirectUri() + "/ redirects here",
        "  CA         " + demo.caFile(), "--ignore-certificate-errors-spki-list=" + demo.certificates().serverKeyPin());
    // The curl line exactly as printed, with --http2 and a format added.
    String curlLine = welcome.lines().filter(l -> l.startsWith("  curl ")).findFirst().orElseThrow();
    List<String> printed = List.of(curlLine.trim().split("\\s+"));
    assertThat(printed).hasSize(5).startsWith("curl", "curl", "--cacert");
    List<String> printedArgs = printed.subList(2, 5);
    assertThat(printedArgs.get(2)).startsWith("https://localhost:" + demo.uri().getPort() + "/");
    List<String> command = new ArrayList<>(List.of(curl.toString(), "-sS", "--http2", "-o", "/dev/null",
        "-w", "%{http_version} %{http_code} %{ssl_verify_result}"));
    command.addAll(printedArgs);
    assertThat(run(command)).isEqualTo("2 200 0");

    // And without the CA, curl refuses: the certificate is checked, not waved through.
    List<String> untrusted = List.of(curl.toString(), "-sS", "-o", "/dev/null", printedArgs.get(2));
    Process refused = new ProcessBuilder(untrusted).redirectErrorStream(true).start();
    assertThat(refused.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(refused.exitValue()).as("curl exit code 60: peer certificate cannot be authenticated").isEqualTo(60);
  }

  @Test
  void everyTargetGivesSecureHttpOnlyLaxCookiesOverH2() throws Exception {
    Map<String, List<String>> cookiesByTarget = new HashMap<>();
    // Round robin over three healthy targets: six new shoppers meet each of them.
    for (int i = 0; i < 6 && cookiesByTarget.size() < 3; i++) {
      HttpClient client = HttpClient.newBuilder().sslContext(trustingTheDemoCa).cookieHandler(new CookieManager())
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> added = client.send(HttpRequest.newBuilder(demo.uri().resolve("/api/cart"))
          .header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString("action=add&sku=espresso")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(added.statusCode()).as(added.body()).isEqualTo(200);
      assertThat(added.version()).isEqualTo(HttpClient.Version.HTTP_2);
      String target = new ShopClient.Cart(added.body()).target();
      cookiesByTarget.put(target, added.headers().allValues("set-cookie"));
    }
    assertThat(cookiesByTarget).containsOnlyKeys("target-1", "target-2", "target-3");
    cookiesByTarget.forEach((target, setCookies) -> {
      Map<String, String> byName = setCookies.stream().collect(Collectors.toMap(c -> c.substring(0, c.indexOf('=')), c -> c));
      assertThat(byName).as("%s: %s", target, setCookies).containsKeys("AFFINITYROUTE", "AFFINITYSESSION");
      for (String name : List.of("AFFINITYROUTE", "AFFINITYSESSION")) {
        assertThat(attributes(byName.get(name))).as("%s on %s", name, target)
            .contains("secure", "httponly", "samesite=lax", "path=/");
      }
    });
  }

  @Test
  void thePlainPortRedirectsToHttps() throws Exception {
    HttpClient plain = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    HttpResponse<String> redirect = plain.send(HttpRequest.newBuilder(demo.redirectUri().resolve("/api/cart?x=1")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(redirect.statusCode()).isEqualTo(301);
    assertThat(redirect.headers().firstValue("location")).hasValue(demo.uri() + "/api/cart?x=1");
    assertThat(redirect.headers().allValues("set-cookie")).as("nothing is served, nothing pinned over plain HTTP").isEmpty();
  }

  @Test
  void optionsParseThePortAndHttps() {
    assertThat(Demo.Options.parse()).isEqualTo(new Demo.Options(8080, null));
    assertThat(Demo.Options.parse("9090")).isEqualTo(new Demo.Options(9090, null));
    assertThat(Demo.Options.parse("--https")).isEqualTo(new Demo.Options(8080, 8443));
    assertThat(Demo.Options.parse("--https=9443", "9090")).isEqualTo(new Demo.Options(9090, 9443));
    assertThat(Demo.Options.parse("0", "--https=0")).isEqualTo(new Demo.Options(0, 0));
    assertThatThrownBy(() -> Demo.Options.parse("--https=x")).hasMessage("--https must be a port number from 0 to 65535, got \"x\"");
    assertThatThrownBy(() -> Demo.Options.parse("70000")).hasMessage("PORT must be a port number from 0 to 65535, got \"70000\"");
    assertThatThrownBy(() -> Demo.Options.parse("--http")).hasMessage("unknown option \"--http\"");
    assertThatThrownBy(() -> Demo.Options.parse("1", "2")).hasMessage("one PORT only, got \"1\" and \"2\"");
    assertThatThrownBy(() -> Demo.Options.parse("--https", "--https=1")).hasMessage("--https is given twice");
    assertThatThrownBy(() -> Demo.Options.parse("8443", "--https"))
        .hasMessage("PORT and --https are both 8443; the plain port redirects to the HTTPS one");
  }

  private static List<String> attributes(String setCookie) {
    return Arrays.stream(setCookie.split(";")).skip(1).map(a -> a.trim().toLowerCase(Locale.ROOT)).toList();
  }

  private static String run(List<String> command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(process.exitValue()).as("%s: %s", command, output).isZero();
    return output;
  }
}
