package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.CookieSource;
import dev.affinity.route.RouteCookies;
import dev.affinity.route.RouteSettings;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.context.control.RequestContextController;
import java.time.Duration;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The interceptor bindings in a real Weld container, and the filter's read of their decision through CDI.current(). */
class CdiInterceptorTest {
  private static WeldContainer weld;
  private RequestContextController requestContext;

  /** A bean as an application would write it. */
  @Dependent
  public static class Cart {
    @Sticky(duration = "PT30M")
    public String checkout() {
      return "checked out";
    }

    @Sticky
    public void browse() {}

    @ReleaseAffinity
    public void logout() {}

    @Sticky
    public void fail() {
      throw new IllegalStateException("no stock");
    }

    @Sticky(duration = "soon")
    public void badDuration() {}
  }

  /** Every business method pins, for the default duration. */
  @Dependent
  @Sticky
  public static class StickyService {
    public int work() {
      return 42;
    }
  }

  @BeforeAll
  static void boot() {
    weld = new Weld("affinity-cdi-test")
        .disableDiscovery()
        .addBeanClasses(AffinityDecision.class, StickyInterceptor.class, ReleaseAffinityInterceptor.class,
            Cart.class, StickyService.class)
        .initialize();
  }

  @AfterAll
  static void shutdown() {
    if (weld != null) {
      weld.shutdown();
    }
  }

  @BeforeEach
  void activate() {
    requestContext = weld.select(RequestContextController.class).get();
    requestContext.activate();
  }

  @AfterEach
  void deactivate() {
    requestContext.deactivate();
  }

  private AffinityDecision decision() {
    return weld.select(AffinityDecision.class).get();
  }

  @Test
  void stickyRecordsAPinWithItsDuration() {
    assertThat(weld.select(Cart.class).get().checkout()).isEqualTo("checked out");
    assertThat(decision().latest()).hasValueSatisfying(d -> {
      assertThat(d.kind()).isEqualTo(AffinityDecision.Kind.PIN);
      assertThat(d.duration()).isEqualTo(Duration.ofMinutes(30));
    });
  }

  @Test
  void stickyWithoutDurationUsesTheDefaultAndReleaseWins() {
    Cart cart = weld.select(Cart.class).get();
    cart.browse();
    AffinityDecision.Decision pin = decision().latest().orElseThrow();
    assertThat(pin.duration()).isNull();
    cart.logout();
    AffinityDecision.Decision release = decision().latest().orElseThrow();
    assertThat(release.kind()).isEqualTo(AffinityDecision.Kind.RELEASE);
    assertThat(release.sequence()).isGreaterThan(pin.sequence());
  }

  @Test
  void classLevelBindingPinsOnEveryMethod() {
    assertThat(weld.select(StickyService.class).get().work()).isEqualTo(42);
    assertThat(decision().latest()).map(AffinityDecision.Decision::kind).contains(AffinityDecision.Kind.PIN);
  }

  @Test
  void aMethodThatThrowsPinsNothing() {
    assertThatThrownBy(() -> weld.select(Cart.class).get().fail()).hasMessage("no stock");
    assertThat(decision().latest()).isEmpty();
  }

  @Test
  void aBadDurationNamesTheMethodAndValue() {
    assertThatThrownBy(() -> weld.select(Cart.class).get().badDuration())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("@Sticky(duration)")
        .hasMessageContaining("badDuration")
        .hasMessageContaining("soon");
  }

  @Test
  void theFilterReadsTheDecisionThroughCdiCurrent() {
    DecisionSource source = CdiDecisions.create();
    assertThat(source).as("CDI.current() finds the running Weld container").isNotNull();
    RouteCookies route = RouteCookies.of(RouteSettings.builder().targetId("app-1").keyring(TestWebapp.KEYRING)
        .clock(java.time.Clock.fixed(java.time.Instant.parse("2026-11-23T10:00:00Z"), java.time.ZoneOffset.UTC)).build());
    Affinity affinity = new Affinity(route.begin(CookieSource.empty(), false, null), "app-1", source);
    assertThat(affinity.pinnedTarget()).isEmpty();

    weld.select(Cart.class).get().checkout();
    assertThat(affinity.pinnedTarget()).contains("app-1");
    assertThat(affinity.route().cookies()).first().satisfies(c -> assertThat(c.maxAge()).isEqualTo(Duration.ofMinutes(30)));

    weld.select(Cart.class).get().logout();
    assertThat(affinity.pinnedTarget()).isEmpty();
    assertThat(affinity.route().cookies()).allSatisfy(c -> assertThat(c.isRemoval()).isTrue());
  }

  @Test
  void noActiveRequestContextMeansNoDecision() {
    DecisionSource source = CdiDecisions.create();
    requestContext.deactivate();
    try {
      assertThat(source.current()).isNull();
    } finally {
      requestContext.activate();
    }
  }
}
