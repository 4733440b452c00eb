package dev.affinity.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.spring.app.CartApp;
import java.net.http.HttpResponse;
import java.util.Base64;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.session.MapSession;
import org.springframework.session.MapSessionRepository;
import org.springframework.session.config.annotation.web.http.EnableSpringHttpSession;

/**
 * Beside Spring Session (route-only mode, {@code affinity.session.mode=container}): HttpSession is
 * Spring Session's ({@code SESSION} cookie, its repository), and creating it still pins the client.
 */
@SpringBootTest(classes = {CartApp.class, SpringSessionTest.SpringSessionConfig.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringSessionTest {
  @Value("${local.server.port}")
  int port;

  @Autowired
  MapSessionRepository sessions;

  @Test
  void theSessionIsSpringSessionsAndCreatingItPins() {
    Http http = new Http(port);

    HttpResponse<String> first = http.get("/session");

    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).startsWith("org.springframework.session.").endsWith("visits=1");
    assertThat(Http.setCookie(first, "JSESSIONID")).isEmpty();
    assertThat(Http.setCookie(first, "AFFINITYSESSION")).isEmpty();
    String session = Http.value(Http.setCookie(first, "SESSION").orElseThrow());
    String id = new String(Base64.getDecoder().decode(session));
    assertThat(first.body()).contains(" " + id + " ");
    assertThat(sessions.findById(id)).isNotNull();
    String route = Http.value(Http.setCookie(first, "AFFINITYROUTE").orElseThrow());
    assertThat(Http.openRoute(route).orElseThrow().targetId()).isEqualTo("app-1");

    HttpResponse<String> second = http.get("/session", "Cookie", "SESSION=" + session + "; AFFINITYROUTE=" + route);

    assertThat(second.body()).isEqualTo(first.body().replace("visits=1", "visits=2"));
    // The session already existed and the client is pinned here: nothing new to say.
    assertThat(Http.setCookie(second, "AFFINITYROUTE")).isEmpty();
  }

  @Test
  void theFiltersOwnSessionsAreRefusedBesideSpringSession() {
    new WebApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(AffinityAutoConfiguration.class))
        .withUserConfiguration(SpringSessionConfig.class)
        .withPropertyValues("affinity.target-id=app-1", "affinity.keys=" + Http.KEYS, "affinity.session.mode=cookie")
        .run(context -> {
          assertThat(context).hasFailed();
          assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("affinity.session.mode=cookie")
              .hasMessageContaining("affinity.session.mode=container");
        });
  }

  @Configuration(proxyBeanMethods = false)
  @EnableSpringHttpSession
  static class SpringSessionConfig {
    @Bean
    MapSessionRepository sessionRepository() {
      return new MapSessionRepository(new ConcurrentHashMap<String, org.springframework.session.Session>());
    }
  }
}
