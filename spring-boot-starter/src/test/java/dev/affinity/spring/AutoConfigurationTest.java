package dev.affinity.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import dev.affinity.filter.AffinityFilter;
import dev.affinity.filter.AffinityFilterConfig;
import dev.affinity.route.RouteSettings;
import dev.affinity.session.SessionMode;
import dev.affinity.session.SessionSettings;
import jakarta.servlet.DispatcherType;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.aop.Advisor;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.json.JsonParserFactory;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/** The auto-configuration in a servlet application context, without a server: binding, failures, back-off. */
class AutoConfigurationTest {
  private final WebApplicationContextRunner runner = new WebApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(AffinityAutoConfiguration.class));

  @Test
  void everyPropertyReachesTheFilter() {
    runner.withPropertyValues(
        "affinity.target-id=app-7",
        "affinity.keys=" + Http.KEYS,
        "affinity.cookie-prefix=SHOP",
        "affinity.cors=true",
        "affinity.same-site=None",
        "affinity.secure=always",
        "affinity.pin-duration=30m",
        "affinity.pin-on-session-create=false",
        "affinity.target-group=blue",
        "affinity.filter-order=42",
        "affinity.session.mode=cookie",
        "affinity.session.redis-key-prefix=shop:",
        "affinity.session.max-bytes=2048",
        "affinity.session.near-cache-size=5",
        "affinity.session.near-cache-ttl=PT10S",
        "affinity.session.rotate-on-pin=true",
        "affinity.session.allowed-classes=com.example.Cart,com.example.model.**")
        .run(context -> {
          assertThat(context).hasNotFailed();
          AffinityFilterConfig config = context.getBean(AffinityFilterConfig.class);
          RouteSettings route = config.settings();
          assertThat(route.targetId()).isEqualTo("app-7");
          assertThat(route.keyring().ids()).containsExactly("k1");
          assertThat(route.keyring().isEphemeral()).isFalse();
          assertThat(route.cookiePolicy().names().route()).isEqualTo("SHOPROUTE");
          assertThat(route.cookiePolicy().cors()).isTrue();
          assertThat(route.cookiePolicy().sameSite()).isEqualTo(SameSite.NONE);
          assertThat(route.cookiePolicy().secureMode()).isEqualTo(SecureMode.ALWAYS);
          assertThat(route.pinDuration()).isEqualTo(Duration.ofMinutes(30));
          assertThat(route.pinOnSessionCreate()).isFalse();
          assertThat(route.targetGroup()).isEqualTo("blue");
          SessionSettings sessions = config.sessions();
          assertThat(sessions.mode()).isEqualTo(SessionMode.COOKIE);
          assertThat(sessions.keyPrefix()).isEqualTo("shop:");
          assertThat(sessions.maxBytes()).isEqualTo(2048);
          assertThat(sessions.nearCacheSize()).isEqualTo(5);
          assertThat(sessions.nearCacheTtl()).isEqualTo(Duration.ofSeconds(10));
          assertThat(sessions.rotateOnPin()).isTrue();
          assertThat(sessions.allowedClasses()).containsExactly("com.example.Cart", "com.example.model.**");
          // CDI is off: the advisor honours the annotations. The meters listen.
          assertThat(config.cdi()).isFalse();
          assertThat(config.listener()).isInstanceOf(AffinityMeters.class);

          @SuppressWarnings("unchecked")
          FilterRegistrationBean<AffinityFilter> registration = context.getBean(FilterRegistrationBean.class);
          assertThat(registration.getFilter().config()).isSameAs(config);
          assertThat(registration.getOrder()).isEqualTo(42);
        });
  }

  @Test
  void theRedisUriReachesTheFilter() {
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=" + Http.KEYS,
        "affinity.session.mode=redis", "affinity.session.redis-uri=redis://user:hunter2@127.0.0.1:6390/2")
        .run(context -> {
          SessionSettings sessions = context.getBean(AffinityFilterConfig.class).sessions();
          assertThat(sessions.mode()).isEqualTo(SessionMode.REDIS);
          assertThat(sessions.redisUri()).isEqualTo("redis://user:hunter2@127.0.0.1:6390/2");
          // The endpoint's view of it has no password.
          Map<String, Object> shown = context.getBean(AffinityEndpoint.class).affinity();
          assertThat(shown.toString()).doesNotContain("hunter2").contains("redis://***@127.0.0.1:6390/2")
              .doesNotContain(Http.SECRET);
        });
  }

  @Test
  void keysComeFromAFile(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("keys");
    Files.writeString(file, "# shared with the balancer\nk2:" + Http.SECRET + "\n", StandardCharsets.UTF_8);

    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys-file=" + file)
        .run(context -> assertThat(context.getBean(AffinityFilterConfig.class).settings().keyring().ids())
            .containsExactly("k2"));
  }

  @Test
  void defaultsAreTheFiltersDefaults() {
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=" + Http.KEYS).run(context -> {
      AffinityFilterConfig config = context.getBean(AffinityFilterConfig.class);
      AffinityFilterConfig webXml = AffinityFilterConfig.fromParameters(
          Map.of("targetId", "app-7", "keys", Http.KEYS)::get);
      assertThat(config.settings().toString()).isEqualTo(webXml.settings().toString());
      assertThat(config.sessions().toString()).isEqualTo(webXml.sessions().toString());
      assertThat(context.getBean(FilterRegistrationBean.class).getOrder())
          .isEqualTo(AffinityAutoConfiguration.DEFAULT_FILTER_ORDER);
    });
  }

  @Test
  void theFilterIsMappedToEverythingForEveryDispatchAndAsync() {
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=" + Http.KEYS).run(context -> {
      FilterRegistrationBean<?> registration = context.getBean(FilterRegistrationBean.class);
      assertThat(registration.getFilterName()).isEqualTo("affinity");
      assertThat(registration.getUrlPatterns()).containsExactly("/*");
      assertThat(registration.isAsyncSupported()).isTrue();
      assertThat(registration.determineDispatcherTypes()).isEqualTo(EnumSet.of(DispatcherType.REQUEST,
          DispatcherType.ASYNC, DispatcherType.ERROR, DispatcherType.FORWARD));
    });
  }

  @Test
  void relaxedBindingTakesTheEnvironmentVariables() {
    runner.withInitializer(context -> context.getEnvironment().getPropertySources().addFirst(
            new SystemEnvironmentPropertySource("systemEnvironment",
                Map.of("AFFINITY_TARGET_ID", "app-env", "AFFINITY_KEYS", Http.KEYS))))
        .run(context -> {
          assertThat(context).hasNotFailed();
          RouteSettings route = context.getBean(AffinityFilterConfig.class).settings();
          assertThat(route.targetId()).isEqualTo("app-env");
          assertThat(route.keyring().ids()).containsExactly("k1");
        });
  }

  @Test
  void anInvalidValueFailsStartupNamingTheProperty() {
    assertFailure("affinity.pin-duration=PT0.5S", "affinity.pin-duration");
    assertFailure("affinity.pin-duration=an hour", "affinity.pin-duration");
    assertFailure("affinity.same-site=Sideways", "affinity.same-site");
    assertFailure("affinity.secure=sometimes", "affinity.secure");
    assertFailure("affinity.target-group=blue green", "affinity.target-group");
    assertFailure("affinity.cookie-prefix=bad prefix", "affinity.cookie-prefix");
    assertFailure("affinity.session.mode=disk", "affinity.session.mode");
    assertFailure("affinity.session.mode=redis", "affinity.session.redis-uri");
    assertFailure("affinity.session.redis-uri=http://127.0.0.1", "affinity.session.redis-uri");
    assertFailure("affinity.session.max-bytes=10", "affinity.session.max-bytes");
    assertFailure("affinity.session.near-cache-size=-1", "affinity.session.near-cache-size");
    assertFailure("affinity.session.near-cache-ttl=PT2H", "affinity.session.near-cache-ttl");
    assertFailure("affinity.session.allowed-classes=com..Bad", "affinity.session.allowed-classes");
  }

  @Test
  void aBadKeyringFailsStartupWithoutEchoingTheSecret() {
    String secret = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0";
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=k1:" + secret).run(context -> {
      assertThat(context).hasFailed();
      String messages = messages(context.getStartupFailure());
      assertThat(messages).contains("affinity.keys").doesNotContain(secret);
    });
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=" + Http.KEYS,
        "affinity.keys-file=/etc/affinity/keys").run(context -> {
      String messages = messages(context.getStartupFailure());
      assertThat(messages).contains("affinity.keys").contains("affinity.keys-file").doesNotContain(Http.SECRET);
    });
  }

  @Test
  void aMissingTargetIdFailsStartupNamingTheProperty() {
    runner.withPropertyValues("affinity.keys=" + Http.KEYS).run(context -> {
      assertThat(context).hasFailed();
      assertThat(messages(context.getStartupFailure())).contains("affinity.target-id").contains("AFFINITY_TARGET_ID");
    });
  }

  @Test
  void backsOffWhenTheApplicationRegistersItsOwnFilter() {
    runner.withUserConfiguration(OwnRegistration.class).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(AffinityFilterConfig.class);
      assertThat(context.getBeansOfType(FilterRegistrationBean.class)).containsOnlyKeys("ownAffinity");
      // The annotations and the endpoint still work with the application's filter.
      assertThat(context).hasSingleBean(Advisor.class).hasSingleBean(AffinityEndpoint.class);
      assertThat(context.getBean(AffinityEndpoint.class).affinity().toString()).contains("not registered by the starter");
    });
    runner.withUserConfiguration(OwnFilterBean.class).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(AffinityFilterConfig.class).doesNotHaveBean(FilterRegistrationBean.class);
    });
  }

  @Test
  void disabledRegistersNothing() {
    runner.withPropertyValues("affinity.enabled=false", "affinity.keys=" + Http.KEYS).run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(AffinityFilterConfig.class).doesNotHaveBean(FilterRegistrationBean.class)
          .doesNotHaveBean(Advisor.class).doesNotHaveBean(AffinityMeters.class).doesNotHaveBean(AffinityEndpoint.class)
          .doesNotHaveBean(AffinityProperties.class);
    });
  }

  @Test
  void metadataDescribesEveryProperty() throws IOException {
    Map<String, Object> metadata = null;
    for (URL url : Collections.list(getClass().getClassLoader().getResources("META-INF/spring-configuration-metadata.json"))) {
      String json;
      try (InputStream in = url.openStream()) {
        json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (json.contains(AffinityProperties.class.getName())) {
        metadata = JsonParserFactory.getJsonParser().parseMap(json);
      }
    }
    assertThat(metadata).as("the starter's spring-configuration-metadata.json").isNotNull();
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> properties = (List<Map<String, Object>>) metadata.get("properties");
    Set<String> described = new TreeSet<>();
    for (Map<String, Object> p : properties) {
      if (String.valueOf(p.get("name")).startsWith("affinity.")) {
        assertThat((String) p.get("description")).as(p.get("name") + " description").isNotBlank();
        described.add((String) p.get("name"));
      }
    }
    List<String> expected = new ArrayList<>(AffinityProperties.PROPERTY_OF_PARAMETER.values());
    expected.add("affinity.enabled");
    expected.add("affinity.filter-order");
    assertThat(described).containsExactlyInAnyOrderElementsOf(expected);
    // Every init-param of the filter has its property.
    assertThat(AffinityProperties.PROPERTY_OF_PARAMETER.keySet())
        .containsExactlyInAnyOrderElementsOf(AffinityFilterConfig.settingNames());
  }

  private void assertFailure(String property, String named) {
    runner.withPropertyValues("affinity.target-id=app-7", "affinity.keys=" + Http.KEYS, property).run(context -> {
      assertThat(context).as(property).hasFailed();
      assertThat(messages(context.getStartupFailure())).as(property).contains(named).doesNotContain(Http.SECRET);
    });
  }

  private static String messages(Throwable failure) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = failure; t != null; t = t.getCause()) {
      all.append(t.getMessage()).append('\n');
    }
    return all.toString();
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnRegistration {
    @Bean
    FilterRegistrationBean<AffinityFilter> ownAffinity() {
      return new FilterRegistrationBean<>(new AffinityFilter());
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnFilterBean {
    @Bean
    AffinityFilter affinityFilter() {
      return new AffinityFilter();
    }
  }
}
