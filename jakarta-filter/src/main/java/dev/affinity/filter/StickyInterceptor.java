package dev.affinity.filter;

import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.interceptor.AroundInvoke;
import jakarta.interceptor.Interceptor;
import jakarta.interceptor.InvocationContext;
import java.time.Duration;

/** Records a pin in {@link AffinityDecision} after a {@link Sticky} method returns. */
@Sticky
@Interceptor
@Priority(Interceptor.Priority.LIBRARY_BEFORE)
public class StickyInterceptor {
  @Inject
  AffinityDecision decision;

  @AroundInvoke
  public Object pinAfter(InvocationContext context) throws Exception {
    Duration duration = duration(context);
    Object result = context.proceed();
    if (duration == null) {
      decision.pin();
    } else {
      decision.pin(duration);
    }
    return result;
  }

  /** The binding's duration, checked before the method runs so a bad value fails loudly and early. */
  private static Duration duration(InvocationContext context) {
    Sticky sticky = binding(context);
    return sticky == null ? null : AffinityBindings.pinDuration(sticky, context.getMethod());
  }

  private static Sticky binding(InvocationContext context) {
    Sticky sticky = null;
    try {
      sticky = context.getInterceptorBinding(Sticky.class);
    } catch (UnsupportedOperationException e) {
      // An Interceptors 2.1 runtime without binding access: fall back to reflection below.
    }
    if (sticky == null && context.getMethod() != null) {
      sticky = AffinityBindings.sticky(context.getMethod(), null);
    }
    return sticky;
  }
}
