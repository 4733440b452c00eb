package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class KeyringTest {
  private static final byte[] BYTES_1 = AffinityCookieCodecTest.secret(1);
  private static final byte[] BYTES_2 = AffinityCookieCodecTest.secret(2);
  private static final String SECRET_1 = Base64.getEncoder().encodeToString(BYTES_1);
  private static final String SECRET_2_URL = Base64.getUrlEncoder().withoutPadding().encodeToString(BYTES_2);
  private static final String BAD_BASE64 = SECRET_1.substring(0, 4) + "!" + SECRET_1.substring(5);

  @Test
  void parsesEntriesPrimaryFirst() {
    Keyring keyring = Keyring.parse("k2:" + SECRET_2_URL + ", k1:" + SECRET_1);

    assertThat(keyring.primaryId()).isEqualTo("k2");
    assertThat(keyring.ids()).containsExactly("k2", "k1");
    assertThat(keyring.key("k2").secret).isEqualTo(BYTES_2);
    assertThat(keyring.key("k1").secret).isEqualTo(BYTES_1);
    assertThat(keyring.key("k3")).isNull();
    assertThat(keyring.isEphemeral()).isFalse();
  }

  @Test
  void parseAcceptsNewLinesSemicolonsCommentsAndBlankLines() {
    Keyring keyring = Keyring.parse("# rotated 2026-11\r\n\n  2026-11 : " + SECRET_2_URL + " ;\n#old\n2026.10_a:"
        + SECRET_1 + "\n,,\n");
    assertThat(keyring.ids()).containsExactly("2026-11", "2026.10_a");
  }

  @Test
  void parsedAndBuiltKeyringsOpenEachOthersCookies() {
    Keyring parsed = Keyring.parse("k1:" + SECRET_1);
    Keyring built = Keyring.builder().addKey("k1", BYTES_1).build();
    AffinityTicket ticket = AffinityTicket.of("t1", "web", Instant.now(), Instant.now().plus(Duration.ofHours(1)));
    String value = AffinityCookieCodec.builder().keyring(parsed).build().seal("AFFINITY", ticket);
    assertThat(AffinityCookieCodec.builder().keyring(built).build().open("AFFINITY", value)).contains(ticket);
  }

  @Test
  void parseRejectsBadInputWithoutEchoingSecrets() {
    String shortSecret = Base64.getEncoder().encodeToString(new byte[16]);
    String[][] cases = {
        // spec, expected message part, secret that must not appear
        {"", "keyring holds no id:base64secret entry", null},
        {"# only a comment\n", "keyring holds no id:base64secret entry", null},
        {SECRET_1, "keyring entry 1 must look like id:base64secret, got an entry of 44 characters with no ':'", SECRET_1},
        {"k1:" + SECRET_1 + "\n" + SECRET_2_URL, "keyring entry 2 must look like id:base64secret", SECRET_2_URL},
        {"k1:", "keyring entry 1 must look like id:base64secret, got \"k1:\" with no secret", null},
        {":" + SECRET_1, "keyring entry 1 must look like id:base64secret, got an entry with no id before ':'", SECRET_1},
        {SECRET_1 + ":k1", "got an id of 44 characters", SECRET_1},
        {"k 1:" + SECRET_1, "id of 1-32 characters of A-Z a-z 0-9 . _ -, got \"k 1\"", SECRET_1},
        {"k1:" + BAD_BASE64, "secret of key \"k1\" is not valid base64", BAD_BASE64},
        {"k1:" + shortSecret, "secret of key \"k1\" must be 32 bytes", shortSecret},
        {"k1:" + SECRET_1 + ",k1:" + SECRET_2_URL, "key id \"k1\" was already added", SECRET_2_URL},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> Keyring.parse(c[0])).as(c[0])
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(c[1])
          .satisfies(e -> assertNoSecretIn(e, c[2]));
    }
    assertThatThrownBy(() -> Keyring.parse("k1:" + shortSecret)).hasMessageEndingWith("got 16");
    assertThatThrownBy(() -> Keyring.parse(null)).isInstanceOf(NullPointerException.class).hasMessage("spec");
  }

  /** Not the secret, nor any 8 characters of it, anywhere in the message or its causes. */
  private static void assertNoSecretIn(Throwable e, String secret) {
    if (secret == null) {
      return;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      String message = String.valueOf(t.getMessage());
      for (int i = 0; i + 8 <= secret.length(); i++) {
        assertThat(message).doesNotContain(secret.substring(i, i + 8));
      }
    }
  }

  @Test
  void builderNamesTheBadValue() {
    assertThatThrownBy(() -> Keyring.builder().addKey("bad id", BYTES_1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("key id must be 1-32 characters of A-Z a-z 0-9 . _ -, got \"bad id\"");
    assertThatThrownBy(() -> Keyring.builder().addKey("x".repeat(33), BYTES_1))
        .hasMessageContaining("got \"" + "x".repeat(33) + "\"");
    assertThatThrownBy(() -> Keyring.builder().addKey("k1", new byte[31]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("secret of key \"k1\" must be 32 bytes")
        .hasMessageEndingWith("got 31");
    assertThatThrownBy(() -> Keyring.builder().addKey("k1", BYTES_1).addKey("k1", BYTES_2))
        .hasMessage("key id \"k1\" was already added");
    assertThatThrownBy(() -> Keyring.builder().addKey("k1", "%%%"))
        .hasMessage("secret of key \"k1\" is not valid base64");
    assertThatThrownBy(() -> Keyring.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("a keyring needs at least one key");
    assertThatThrownBy(() -> Keyring.builder().addKey(null, BYTES_1)).hasMessage("id");
    assertThatThrownBy(() -> Keyring.builder().addKey("k1", (byte[]) null)).hasMessage("secret");
    assertThatThrownBy(() -> Keyring.builder().addKey("k1", (String) null)).hasMessage("base64Secret");
  }

  @Test
  void builderCopiesTheSecret() {
    byte[] secret = BYTES_1.clone();
    Keyring keyring = Keyring.builder().addKey("k1", secret).build();
    secret[0] ^= 1;
    assertThat(keyring.key("k1").secret).isEqualTo(BYTES_1);
  }

  @Test
  void derivedValidation() {
    assertThatThrownBy(() -> Keyring.derived(new byte[31], "k1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("master secret must be at least 32 bytes, got 31");
    assertThatThrownBy(() -> Keyring.derived(new byte[32], "k 1"))
        .hasMessageContaining("got \"k 1\"");
    assertThatThrownBy(() -> Keyring.derived(new byte[32], "k1", "k1"))
        .hasMessage("key id \"k1\" was already added");
    assertThatThrownBy(() -> Keyring.derived(null, "k1")).hasMessage("masterSecret");
    assertThatThrownBy(() -> Keyring.derived(new byte[32], null)).hasMessage("primaryId");
  }

  @Test
  void ephemeralKeyringsAreRandomAndSayso() {
    Keyring one = Keyring.ephemeral();
    Keyring two = Keyring.ephemeral();
    assertThat(one.isEphemeral()).isTrue();
    assertThat(one.primaryId()).isEqualTo("ephemeral");
    assertThat(one.key("ephemeral").secret).isNotEqualTo(two.key("ephemeral").secret);
    assertThat(one.toString()).contains("ephemeral");

    AffinityTicket ticket = AffinityTicket.of("t1", "web", Instant.now(), Instant.now().plus(Duration.ofHours(1)));
    String value = AffinityCookieCodec.builder().keyring(one).build().seal("AFFINITY", ticket);
    Optional<AffinityTicket> elsewhere = AffinityCookieCodec.builder().keyring(two).build().open("AFFINITY", value);
    assertThat(elsewhere).isEmpty();
  }

  @Test
  void toStringNamesIdsButNoSecret() {
    Keyring keyring = Keyring.parse("k2:" + SECRET_2_URL + ",k1:" + SECRET_1);
    assertThat(keyring.toString()).isEqualTo("Keyring{primary=k2, ids=[k2, k1]}");
    assertThat(new String(BYTES_1, StandardCharsets.ISO_8859_1)).isNotIn(keyring.toString());
  }
}
