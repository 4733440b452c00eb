package dev.affinity.filter;

import jakarta.enterprise.context.ContextNotActiveException;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.spi.CDI;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the request-scoped {@link AffinityDecision} through {@link CDI#current()}. Only loaded (by
 * name) after the filter found the CDI API on its class path and a container answered.
 */
final class CdiDecisions implements DecisionSource {
  private static final Logger LOG = LoggerFactory.getLogger(CdiDecisions.class);
  private final Instance<AffinityDecision> decisions;

  private CdiDecisions(Instance<AffinityDecision> decisions) {
    this.decisions = decisions;
  }

  /** The source, or {@code null} when no CDI container is running or it has no {@link AffinityDecision} bean. */
  static DecisionSource create() {
    try {
      Instance<AffinityDecision> decisions = CDI.current().select(AffinityDecision.class);
      if (!decisions.isResolvable()) {
        LOG.debug("CDI is running but AffinityDecision is not a bean; @Sticky and @ReleaseAffinity are off");
        return null;
      }
      return new CdiDecisions(decisions);
    } catch (IllegalStateException | LinkageError e) {
      LOG.debug("no CDI container; @Sticky and @ReleaseAffinity are off ({})", e.toString());
      return null;
    } catch (RuntimeException e) {
      LOG.debug("CDI lookup failed; @Sticky and @ReleaseAffinity are off", e);
      return null;
    }
  }

  @Override
  public AffinityDecision.Decision current() {
    try {
      Optional<AffinityDecision.Decision> decision = decisions.get().latest();
      return decision.orElse(null);
    } catch (ContextNotActiveException e) {
      return null;
    } catch (RuntimeException e) {
      LOG.debug("reading AffinityDecision failed; ignored", e);
      return null;
    }
  }
}
