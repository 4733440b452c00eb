package dev.affinity.cookie;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ExpiryTest {
  private static final Instant NOW = MutableClock.START;

  @Test
  void durationsFromOneSecondToSevenDaysAreAccepted() {
    assertThat(Expiry.sliding(Duration.ofSeconds(1)).duration()).isEqualTo(Duration.ofSeconds(1));
    assertThat(Expiry.fixed(Duration.ofDays(7)).duration()).isEqualTo(Duration.ofDays(7));
    assertThat(Expiry.checkDuration(Duration.ofHours(1))).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void durationsOutsideTheRangeAreRefusedWithTheValue() {
    String rule = "stickiness duration must be between 1 second (PT1S) and 7 days (P7D), got ";
    assertThatThrownBy(() -> Expiry.sliding(Duration.ofMillis(999)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage(rule + "PT0.999S");
    assertThatThrownBy(() -> Expiry.fixed(Duration.ofDays(7).plusMillis(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage(rule + "PT168H0.001S");
    assertThatThrownBy(() -> Expiry.browserSession(Duration.ZERO)).hasMessage(rule + "PT0S");
    assertThatThrownBy(() -> Expiry.sliding(Duration.ofSeconds(-5))).hasMessage(rule + "PT-5S");
    assertThatThrownBy(() -> Expiry.sliding(null)).isInstanceOf(NullPointerException.class).hasMessage("duration");
  }

  @Test
  void refreshGranularityIsOnePercentCappedAtOneMinute() {
    assertThat(Expiry.sliding(Duration.ofSeconds(1)).refreshGranularity()).isEqualTo(Duration.ofMillis(10));
    assertThat(Expiry.sliding(Duration.ofHours(1)).refreshGranularity()).isEqualTo(Duration.ofSeconds(36));
    assertThat(Expiry.sliding(Duration.ofMinutes(100)).refreshGranularity()).isEqualTo(Duration.ofSeconds(60));
    assertThat(Expiry.sliding(Duration.ofMinutes(101)).refreshGranularity()).isEqualTo(Duration.ofSeconds(60));
    assertThat(Expiry.sliding(Duration.ofDays(7)).refreshGranularity()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void slidingRefreshesOnlyAfterTheGranularity() {
    for (Duration duration : new Duration[] {Duration.ofSeconds(1), Duration.ofHours(1), Duration.ofDays(1)}) {
      Expiry expiry = Expiry.sliding(duration);
      AffinityTicket ticket = expiry.newTicket("t1", "web", NOW);
      Duration granularity = expiry.refreshGranularity();

      assertThat(expiry.needsRefresh(ticket, NOW)).isFalse();
      assertThat(expiry.needsRefresh(ticket, NOW.plus(granularity))).as("%s at granularity", duration).isFalse();
      assertThat(expiry.needsRefresh(ticket, NOW.plus(granularity).plusMillis(1))).as("%s 1 ms later", duration).isTrue();

      Instant later = NOW.plus(granularity).plusMillis(1);
      AffinityTicket refreshed = expiry.refresh(ticket, later);
      assertThat(refreshed.issuedAt()).isEqualTo(later);
      assertThat(refreshed.expiresAt()).isEqualTo(later.plus(duration));
      assertThat(refreshed.targetId()).isEqualTo("t1");
      assertThat(expiry.needsRefresh(refreshed, later)).isFalse();
    }
  }

  @Test
  void fixedExpiryNeverRefreshes() {
    Expiry expiry = Expiry.fixed(Duration.ofHours(1));
    AffinityTicket ticket = expiry.newTicket("t1", "web", new byte[] {7}, NOW);
    for (Duration elapsed : new Duration[] {Duration.ofMinutes(1), Duration.ofMinutes(59), Duration.ofHours(2)}) {
      assertThat(expiry.needsRefresh(ticket, NOW.plus(elapsed))).isFalse();
      assertThat(expiry.refresh(ticket, NOW.plus(elapsed))).isSameAs(ticket);
    }
    assertThat(expiry.maxAge(ticket, NOW.plus(Duration.ofMinutes(59)))).isEqualTo(Duration.ofSeconds(60));
    assertThat(ticket.extra()).containsExactly(7);
  }

  @Test
  void maxAgeCountsDownToAtLeastOneSecond() {
    Expiry expiry = Expiry.sliding(Duration.ofHours(1));
    AffinityTicket ticket = expiry.newTicket("t1", "web", NOW);
    assertThat(expiry.maxAge(ticket, NOW)).isEqualTo(Duration.ofHours(1));
    assertThat(expiry.maxAge(ticket, NOW.plusMillis(1500))).isEqualTo(Duration.ofSeconds(3598));
    assertThat(expiry.maxAge(ticket, ticket.expiresAt().minusMillis(1))).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void browserSessionHasNoMaxAgeButTheTicketStillSlides() {
    Expiry expiry = Expiry.browserSession(Duration.ofMinutes(30));
    AffinityTicket ticket = expiry.newTicket("t1", "web", NOW);
    assertThat(expiry.mode()).isEqualTo(Expiry.Mode.BROWSER_SESSION);
    assertThat(expiry.maxAge(ticket, NOW)).isNull();
    assertThat(ticket.expiresAt()).isEqualTo(NOW.plus(Duration.ofMinutes(30)));
    assertThat(expiry.needsRefresh(ticket, NOW.plusSeconds(19))).isTrue();
  }

  @Test
  void newTicketRunsForTheDuration() {
    AffinityTicket ticket = Expiry.sliding(Duration.ofDays(7)).newTicket("t1", "g", NOW);
    assertThat(ticket.issuedAt()).isEqualTo(NOW);
    assertThat(ticket.expiresAt()).isEqualTo(NOW.plus(Duration.ofDays(7)));
    assertThat(ticket.extra()).isEmpty();
  }
}
