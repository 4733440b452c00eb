package dev.affinity.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.affinity.admin.AdminTokens.Caller;
import dev.affinity.admin.AdminTokens.Forbidden;
import dev.affinity.admin.AdminTokens.Granted;
import dev.affinity.admin.AdminTokens.Scope;
import dev.affinity.admin.AdminTokens.Unauthenticated;
import org.junit.jupiter.api.Test;

class AdminTokensTest {
  private static final String OPS = "ops-secret-0123456789abcdef";
  private static final String SCRAPER = "scraper-secret-0123456789";

  private final AdminTokens tokens = AdminTokens.builder()
      .token("ops", OPS, Scope.WRITE)
      .token("prometheus", SCRAPER, Scope.READ)
      .build();

  @Test
  void aWriteTokenReadsAndWritesAReadTokenOnlyReads() {
    assertThat(tokens.authorize("Bearer " + OPS, Scope.WRITE)).isEqualTo(new Granted(new Caller("ops", Scope.WRITE)));
    assertThat(tokens.authorize("Bearer " + OPS, Scope.READ)).isEqualTo(new Granted(new Caller("ops", Scope.WRITE)));
    assertThat(tokens.authorize("bearer " + SCRAPER, Scope.READ)).isEqualTo(new Granted(new Caller("prometheus", Scope.READ)));
    assertThat(tokens.authorize("Bearer " + SCRAPER, Scope.WRITE))
        .isEqualTo(new Forbidden(new Caller("prometheus", Scope.READ), Scope.WRITE));
  }

  @Test
  void missingMalformedOrUnknownTokensAreUnauthenticated() {
    assertThat(tokens.authorize(null, Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(tokens.authorize("Basic b3BzOnNlY3JldA==", Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(tokens.authorize("Bearer", Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(tokens.authorize("Bearer " + OPS + "x", Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(tokens.authorize("Bearer " + OPS.substring(1), Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(tokens.authorize(OPS, Scope.READ)).isInstanceOf(Unauthenticated.class);
  }

  @Test
  void withoutTokensEverythingIsRefused() {
    assertThat(AdminTokens.none().authorize("Bearer " + OPS, Scope.READ)).isInstanceOf(Unauthenticated.class);
    assertThat(AdminTokens.none().isEmpty()).isTrue();
  }

  @Test
  void theBuilderRefusesShortSecretsDuplicatesAndBadIds() {
    assertThatThrownBy(() -> AdminTokens.builder().token("ops", "short", Scope.WRITE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 16 bytes").hasMessageNotContaining("short\"");
    assertThatThrownBy(() -> AdminTokens.builder().token("ops", OPS, Scope.WRITE).token("ops", SCRAPER, Scope.READ))
        .hasMessageContaining("id \"ops\" is given twice");
    assertThatThrownBy(() -> AdminTokens.builder().token("ops", OPS, Scope.WRITE).token("other", OPS, Scope.READ))
        .hasMessageContaining("the same as token \"ops\"");
    assertThatThrownBy(() -> AdminTokens.builder().token("a b", OPS, Scope.WRITE)).hasMessageContaining("\"a b\"");
    assertThatThrownBy(() -> Scope.named("admin")).hasMessageContaining("read or write, got \"admin\"");
  }

  @Test
  void theScopeFollowsTheMethodAndTheSecretsNeverShow() {
    assertThat(Scope.neededFor("GET")).isEqualTo(Scope.READ);
    assertThat(Scope.neededFor("HEAD")).isEqualTo(Scope.READ);
    assertThat(Scope.neededFor("POST")).isEqualTo(Scope.WRITE);
    assertThat(Scope.neededFor("DELETE")).isEqualTo(Scope.WRITE);
    assertThat(tokens.toString()).doesNotContain(OPS).doesNotContain(SCRAPER).contains("ops");
  }
}
