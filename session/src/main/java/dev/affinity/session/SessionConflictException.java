package dev.affinity.session;

/**
 * Another request saved the same session after this one loaded it (the stored version moved), so
 * this request's changes were not written. Retrying the request is safe: it loads the newer session.
 * The filter answers {@code 409 Conflict} with {@code Retry-After: 0}.
 */
public class SessionConflictException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public SessionConflictException(String message) {
    super(message);
  }
}
