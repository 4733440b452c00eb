package dev.affinity.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SetCookie;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoutePinTest {
  static final Instant NOW = Instant.parse("2026-11-23T10:00:00Z");
  static final Keyring KEYS = Keyring.parse("k1:" + Base64.getEncoder().encodeToString(new byte[32]));

  private static RouteCookies route(String targetId, CookiePolicy policy) {
    return RouteCookies.of(RouteSettings.builder().targetId(targetId).targetGroup("blue").keyring(KEYS)
        .cookiePolicy(policy).clock(Clock.fixed(NOW, ZoneOffset.UTC)).build());
  }

  private static final RouteCookies HERE = route("app-1", CookiePolicy.defaults());

  private static Map<String, String> asRequest(List<SetCookie> cookies) {
    Map<String, String> m = new HashMap<>();
    cookies.stream().filter(c -> !c.isRemoval()).forEach(c -> m.put(c.name(), c.value()));
    return m;
  }

  private static AffinityTicket open(List<SetCookie> cookies) {
    return HERE.cookies().read(CookieSource.of(asRequest(cookies)), "AFFINITYROUTE").orElseThrow();
  }

  @Test
  void nothingDecidedSetsNothing() {
    RoutePin pin = HERE.begin(CookieSource.empty(), false, null);
    assertThat(pin.cookies()).isEmpty();
    assertThat(pin.pinnedTarget()).isEmpty();
    assertThat(pin.decided()).isFalse();
  }

  @Test
  void pinSealsThisTargetAndGroup() {
    RoutePin pin = HERE.begin(CookieSource.empty(), false, null);
    pin.pin(Duration.ofMinutes(30));
    List<SetCookie> cookies = pin.cookies();
    assertThat(cookies).singleElement().satisfies(c -> {
      assertThat(c.name()).isEqualTo("AFFINITYROUTE");
      assertThat(c.maxAge()).isEqualTo(Duration.ofMinutes(30));
      assertThat(c.httpOnly()).isTrue();
      assertThat(c.secure()).isFalse();
      assertThat(c.sameSite()).isEqualTo(SameSite.LAX);
      assertThat(c.path()).isEqualTo("/");
    });
    AffinityTicket t = open(cookies);
    assertThat(t.targetId()).isEqualTo("app-1");
    assertThat(t.targetGroup()).isEqualTo("blue");
    assertThat(t.expiresAt()).isEqualTo(NOW.plus(Duration.ofMinutes(30)));
    assertThat(pin.pinnedTarget()).contains("app-1");
    assertThat(pin.cookies()).as("sealed once per decision").isSameAs(cookies);
  }

  @Test
  void corsAddsTheCompanion() {
    RouteCookies cors = route("app-1", CookiePolicy.builder().cors(true).build());
    RoutePin pin = cors.begin(CookieSource.empty(), false, null);
    pin.pin();
    assertThat(pin.cookies()).extracting(SetCookie::name).containsExactly("AFFINITYROUTE", "AFFINITYROUTECORS");
    assertThat(pin.cookies().get(1).sameSite()).isEqualTo(SameSite.NONE);
    assertThat(pin.cookies().get(1).secure()).isTrue();
  }

  @Test
  void incomingCookieIsThePinAndReleaseExpiresIt() {
    RoutePin first = HERE.begin(CookieSource.empty(), false, null);
    first.pin();
    Map<String, String> carried = asRequest(first.cookies());

    RoutePin next = HERE.begin(CookieSource.of(carried), false, null);
    assertThat(next.pinnedTarget()).contains("app-1");
    assertThat(next.cookies()).isEmpty();
    next.release();
    assertThat(next.pinnedTarget()).isEmpty();
    assertThat(next.cookies()).extracting(SetCookie::name).containsExactly("AFFINITYROUTE", "AFFINITYROUTECORS");
    assertThat(next.cookies()).allMatch(SetCookie::isRemoval);
  }

  @Test
  void moveToPinsAnotherTarget() {
    RoutePin pin = HERE.begin(CookieSource.empty(), false, null);
    pin.moveTo("app-2");
    assertThat(open(pin.cookies()).targetId()).isEqualTo("app-2");
    assertThat(pin.pinnedTarget()).contains("app-2");
    assertThatThrownBy(() -> pin.moveTo("app 2")).hasMessageContaining("app 2");
    assertThatThrownBy(() -> pin.pin(Duration.ZERO)).hasMessageContaining("PT0S");
  }

  @Test
  void forgedCookieIsAbsent() {
    RoutePin pin = HERE.begin(CookieSource.of(Map.of("AFFINITYROUTE", "garbage%%", "AFFINITYROUTECORS", "AAAA")),
        false, null);
    assertThat(pin.pinnedTarget()).isEmpty();
    assertThat(pin.incoming()).isEmpty();
  }

  @Test
  void failedOverClientIsRepinnedHere() {
    RoutePin elsewhere = route("app-2", CookiePolicy.defaults()).begin(CookieSource.empty(), false, null);
    elsewhere.pin();
    Map<String, String> carried = asRequest(elsewhere.cookies());

    RoutePin noHeader = HERE.begin(CookieSource.of(carried), false, null);
    assertThat(noHeader.pinnedTarget()).contains("app-2");
    assertThat(noHeader.decided()).isFalse();

    RoutePin failedOver = HERE.begin(CookieSource.of(carried), false, "app-2");
    assertThat(failedOver.previousTarget()).contains("app-2");
    assertThat(failedOver.pinnedTarget()).contains("app-1");
    assertThat(open(failedOver.cookies()).targetId()).isEqualTo("app-1");

    RoutePin garbageHeader = HERE.begin(CookieSource.of(carried), false, "   ");
    assertThat(garbageHeader.previousTarget()).isEmpty();
    assertThat(garbageHeader.decided()).isFalse();
  }

  @Test
  void newSessionPinsOnlyWhenNothingElseDecided() {
    RoutePin fresh = HERE.begin(CookieSource.empty(), false, null);
    assertThat(fresh.pinForNewSession()).isTrue();
    assertThat(fresh.pinnedTarget()).contains("app-1");

    RoutePin released = HERE.begin(CookieSource.empty(), false, null);
    released.release();
    assertThat(released.pinForNewSession()).isFalse();
  }

  @Test
  void secureFollowsTheRequest() {
    RoutePin pin = HERE.begin(CookieSource.empty(), true, null);
    pin.pin();
    assertThat(pin.cookies().get(0).secure()).isTrue();
  }
}
