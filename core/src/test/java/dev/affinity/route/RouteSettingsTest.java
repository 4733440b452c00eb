package dev.affinity.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RouteSettingsTest {
  static final String KEY = Base64.getEncoder().encodeToString(new byte[32]);
  static final Function<String, String> NONE = name -> null;

  private static RouteSettings parse(Map<String, String> params) {
    return RouteSettings.parse(params::get, NONE, NONE);
  }

  private static Map<String, String> params(String... kv) {
    Map<String, String> m = new HashMap<>();
    m.put("targetId", "app-1");
    m.put("keys", "k1:" + KEY);
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void defaults() {
    RouteSettings s = parse(params());
    assertThat(s.targetId()).isEqualTo("app-1");
    assertThat(s.targetGroup()).isEmpty();
    assertThat(s.keyring().primaryId()).isEqualTo("k1");
    assertThat(s.pinDuration()).isEqualTo(Duration.ofHours(1));
    assertThat(s.pinOnSessionCreate()).isTrue();
    assertThat(s.cookiePolicy().names().route()).isEqualTo("AFFINITYROUTE");
    assertThat(s.cookiePolicy().cors()).isFalse();
    assertThat(s.cookiePolicy().sameSite()).isEqualTo(SameSite.LAX);
    assertThat(s.cookiePolicy().secureMode()).isEqualTo(SecureMode.AUTO);
  }

  @Test
  void everySetting() {
    RouteSettings s = parse(params("cookiePrefix", "STICKY", "cors", "true", "sameSite", "strict",
        "secure", "always", "pinDuration", "PT30M", "pinOnSessionCreate", "false", "targetGroup", "blue"));
    assertThat(s.cookiePolicy().names().route()).isEqualTo("STICKYROUTE");
    assertThat(s.cookiePolicy().cors()).isTrue();
    assertThat(s.cookiePolicy().sameSite()).isEqualTo(SameSite.STRICT);
    assertThat(s.cookiePolicy().secureMode()).isEqualTo(SecureMode.ALWAYS);
    assertThat(s.pinDuration()).isEqualTo(Duration.ofMinutes(30));
    assertThat(s.pinOnSessionCreate()).isFalse();
    assertThat(s.targetGroup()).isEqualTo("blue");
  }

  @Test
  void targetIdFallsBackToSystemPropertyThenEnvironment() {
    Map<String, String> p = params();
    p.remove("targetId");
    assertThat(RouteSettings.parse(p::get, n -> n.equals("affinity.targetId") ? "from-prop" : null,
        n -> n.equals("AFFINITY_TARGET_ID") ? "from-env" : null).targetId()).isEqualTo("from-prop");
    assertThat(RouteSettings.parse(p::get, NONE,
        n -> n.equals("AFFINITY_TARGET_ID") ? "from-env" : null).targetId()).isEqualTo("from-env");
  }

  @Test
  void missingTargetIdNamesAllThreeSources() {
    Map<String, String> p = params();
    p.remove("targetId");
    assertThatThrownBy(() -> parse(p))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targetId")
        .hasMessageContaining("affinity.targetId")
        .hasMessageContaining("AFFINITY_TARGET_ID");
  }

  @Test
  void keysFromFileOrEnvironmentOrEphemeral(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("keys");
    Files.writeString(file, "# rotated monthly\nk3:" + KEY + "\nk2:" + KEY + "\n");
    Map<String, String> p = params("keysFile", file.toString());
    p.remove("keys");
    assertThat(parse(p).keyring().ids()).containsExactly("k3", "k2");

    p.remove("keysFile");
    assertThat(RouteSettings.parse(p::get, NONE, n -> n.equals("AFFINITY_KEYS") ? "e1:" + KEY : null)
        .keyring().ids()).containsExactly("e1");
    assertThat(parse(p).keyring().isEphemeral()).isTrue();
  }

  @Test
  void invalidSettingsNameTheSettingAndValue() {
    assertBad("pinDuration", "1h");
    assertBad("pinDuration", "PT0S");
    assertBad("pinDuration", "P8D");
    assertBad("sameSite", "sometimes");
    assertBad("secure", "maybe");
    assertBad("cors", "yesplease");
    assertBad("pinOnSessionCreate", "2");
    assertBad("cookiePrefix", "A;B");
    assertBad("targetGroup", "blue green");
    assertBad("targetId", "app 1");
    assertThatThrownBy(() -> parse(params("keys", "k1:notbase64!")))
        .hasMessageContaining("keys").hasMessageNotContaining("notbase64");
    assertThatThrownBy(() -> parse(params("keysFile", "/no/such/file")))
        .hasMessageContaining("keysFile").hasMessageContaining("/no/such/file");
    assertThatThrownBy(() -> parse(params("sameSite", "None", "secure", "never")))
        .hasMessageContaining("sameSite").hasMessageContaining("secure");
  }

  private static void assertBad(String setting, String value) {
    assertThatThrownBy(() -> parse(params(setting, value)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(setting)
        .hasMessageContaining(value);
  }

  @Test
  void unknownNamesAreRefused() {
    RouteSettings.checkNames(java.util.List.of("targetId", "pinDuration"));
    assertThatThrownBy(() -> RouteSettings.checkNames(java.util.List.of("pinDuraton")))
        .hasMessageContaining("pinDuraton").hasMessageContaining("pinDuration");
  }

  @Test
  void builderFailsFast() {
    assertThatThrownBy(() -> RouteSettings.builder().pinDuration(Duration.ofDays(8)))
        .hasMessageContaining("pinDuration").hasMessageContaining("PT192H");
    assertThatThrownBy(() -> RouteSettings.builder().build()).hasMessageContaining("targetId");
  }

  @Test
  void previousTargetHeaderIgnoresGarbage() {
    assertThat(RouteCookies.previousTarget("app-2")).contains("app-2");
    assertThat(RouteCookies.previousTarget(" app-2 ")).contains("app-2");
    assertThat(RouteCookies.previousTarget("")).isEmpty();
    assertThat(RouteCookies.previousTarget("   ")).isEmpty();
    assertThat(RouteCookies.previousTarget(null)).isEmpty();
    assertThat(RouteCookies.previousTarget("app 2")).isEmpty();
    assertThat(RouteCookies.previousTarget("<script>")).isEmpty();
    assertThat(RouteCookies.previousTarget("x".repeat(65))).isEmpty();
  }
}
