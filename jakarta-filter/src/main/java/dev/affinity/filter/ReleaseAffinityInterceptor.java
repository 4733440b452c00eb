package dev.affinity.filter;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.interceptor.AroundInvoke;
import jakarta.interceptor.Interceptor;
import jakarta.interceptor.InvocationContext;

/** Records a release in {@link AffinityDecision} after a {@link ReleaseAffinity} method returns. */
@ReleaseAffinity
@Interceptor
@Priority(Interceptor.Priority.LIBRARY_BEFORE)
public class ReleaseAffinityInterceptor {

  @Inject
  AffinityDecision decision;

  @AroundInvoke
  public Object releaseAfter(InvocationContext context) throws Exception {
    Object result = context.proceed();
    decision.release();
    return result;
  }
}
