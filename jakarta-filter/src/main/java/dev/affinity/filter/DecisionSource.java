package dev.affinity.filter;

/**
 * Where the filter finds decisions made outside its API, i.e. by the CDI interceptors. Kept free of
 * CDI types so that the filter loads where no CDI API is on the class path.
 */
interface DecisionSource {

  /** The decision of the current request, or {@code null} when there is none or no request context. */
  AffinityDecision.Decision current();
}
