package dev.affinity.session;

/**
 * The store could not be reached, or answered with an error: the session can be neither loaded nor
 * saved right now. The filter answers {@code 503} with {@code Retry-After} rather than hand out an
 * empty session.
 */
public class SessionStoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SessionStoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public SessionStoreException(String message) {
    super(message);
  }
}
