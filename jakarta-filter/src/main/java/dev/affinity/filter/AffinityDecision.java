package dev.affinity.filter;

import jakarta.enterprise.context.RequestScoped;
import java.time.Duration;
import java.util.Optional;

/**
 * What the CDI interceptors ({@link Sticky}, {@link ReleaseAffinity}) decided during the current
 * request; the last decision wins. {@link AffinityFilter} reads it before the response commits and
 * turns it into route cookies. Applications may also inject it and decide directly.
 */
@RequestScoped
public class AffinityDecision {

  /** What was decided. */
  public enum Kind { PIN, RELEASE }

  /**
   * One decision.
   *
   * @param duration the pin's duration, or {@code null} for the filter's configured default
   * @param sequence increases with each decision of the request, so a reader can tell a new one
   */
  public record Decision(Kind kind, Duration duration, int sequence) {}

  private Decision latest;
  private int sequence;

  /** Pin the client to this target for the filter's default duration. */
  public synchronized void pin() {
    latest = new Decision(Kind.PIN, null, ++sequence);
  }

  /** Pin the client to this target for {@code duration}. */
  public synchronized void pin(Duration duration) {
    latest = new Decision(Kind.PIN, java.util.Objects.requireNonNull(duration, "duration"), ++sequence);
  }

  /** Expire the client's route cookies. */
  public synchronized void release() {
    latest = new Decision(Kind.RELEASE, null, ++sequence);
  }

  /** The last decision of this request. */
  public synchronized Optional<Decision> latest() {
    return Optional.ofNullable(latest);
  }
}
