package dev.affinity.session;

/**
 * The outcome of {@link SessionStore#save}.
 *
 * @param outcome what happened
 * @param version the version now stored (after {@link Outcome#SAVED} or {@link Outcome#PENDING}), or
 *     the version found instead of the expected one ({@link Outcome#CONFLICT}; 0 when the session is gone)
 */
public record SaveResult(Outcome outcome, long version) {
  public enum Outcome {
    /** Written to the store. */
    SAVED,
    /** The store moved on since the session was loaded: nothing was written. */
    CONFLICT,
    /**
     * The store is unreachable; the write is kept and retried in the background (bounded). Not
     * acknowledged: {@link RequestSession} answers it as a {@link SessionStoreException} (the filter's 503).
     */
    PENDING
  }

  public static SaveResult saved(long version) {
    return new SaveResult(Outcome.SAVED, version);
  }

  public static SaveResult conflict(long found) {
    return new SaveResult(Outcome.CONFLICT, found);
  }

  public static SaveResult pending(long version) {
    return new SaveResult(Outcome.PENDING, version);
  }

  public boolean isConflict() {
    return outcome == Outcome.CONFLICT;
  }
}
