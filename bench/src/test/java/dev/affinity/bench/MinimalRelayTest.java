package dev.affinity.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.Keyring;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The floor relay that compare.sh prices against HAProxy relays what it should, over real sockets:
 * a cookie sticks, no cookie goes round, a large answer arrives whole and the connection then takes
 * the next request, and with {@code --policy} the real sealed cookie is routed to its target.
 */
class MinimalRelayTest {
  private static final String SECRET = "YWZmaW5pdHktbG9hZC1iZW5jaC1maXhlZC1rZXktMDE=";
  private final List<Server> backends = new ArrayList<>();
  private final List<URI> uris = new ArrayList<>();
  private MinimalRelay relay;
  private Thread relayThread;
  private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.stop();
      relayThread.join(5_000);
    }
    for (Server s : backends) {
      s.stop();
    }
  }

  private URI start(String secret) throws Exception {
    for (String id : List.of("t1", "t2", "t3")) {
      Server server = new Server();
      ServerConnector connector = new ServerConnector(server);
      connector.setHost("127.0.0.1");
      server.addConnector(connector);
      server.setHandler(new Handler.Abstract() {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
          String body = Request.getPathInContext(request).equals("/big") ? id + "x".repeat(200_000) : id;
          response.write(true, java.nio.ByteBuffer.wrap(body.getBytes(java.nio.charset.StandardCharsets.US_ASCII)), callback);
          return true;
        }
      });
      server.start();
      backends.add(server);
      uris.add(URI.create("http://127.0.0.1:" + connector.getLocalPort()));
    }
    relay = MinimalRelay.open(0, uris, secret);
    relayThread = new Thread(() -> {
      try {
        relay.run();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, "minimal-relay");
    relayThread.start();
    return URI.create("http://127.0.0.1:" + relay.port() + "/");
  }

  private String get(URI uri, String cookie) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5));
    if (cookie != null) {
      request.header("Cookie", cookie);
    }
    HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  @Test
  void aCookieSticksNoCookieGoesRoundAndALargeAnswerArrivesWhole() throws Exception {
    URI relayUri = start(null);
    String first = get(relayUri, "other=1; AFFINITY=some-value");
    for (int i = 0; i < 20; i++) {
      assertThat(get(relayUri, "AFFINITY=some-value")).isEqualTo(first);
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 6; i++) {
      seen.add(get(relayUri, null));
    }
    assertThat(seen).containsExactlyInAnyOrder("t1", "t2", "t3");
    String big = get(relayUri.resolve("/big"), "AFFINITY=some-value");
    assertThat(big).hasSize(first.length() + 200_000).startsWith(first);
    assertThat(get(relayUri, "AFFINITY=some-value")).as("the connection takes the next request").isEqualTo(first);
  }

  @Test
  void withThePolicyTheSealedCookieIsRoutedToItsTarget() throws Exception {
    URI relayUri = start(SECRET);
    AffinityCookieCodec codec = AffinityCookieCodec.builder()
        .keyring(Keyring.builder().addKey("bench1", Base64.getDecoder().decode(SECRET)).build()).clock(Clock.systemUTC()).build();
    Instant now = Instant.now();
    for (String target : List.of("t2", "t3", "t1")) {
      String value = codec.seal("AFFINITY", AffinityTicket.of(target, "bench", now, now.plus(Duration.ofHours(1))));
      for (int i = 0; i < 5; i++) {
        assertThat(get(relayUri, "AFFINITY=" + value)).isEqualTo(target);
      }
    }
  }
}
