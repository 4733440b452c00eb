package dev.affinity.filter;

import dev.affinity.route.RouteSettings;
import jakarta.annotation.Priority;
import jakarta.inject.Inject;
import jakarta.interceptor.AroundInvoke;
import jakarta.interceptor.Interceptor;
import jakarta.interceptor.InvocationContext;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Records a pin in {@link AffinityDecision} after a {@link Sticky} method returns. */
@Sticky
@Interceptor
@Priority(Interceptor.Priority.LIBRARY_BEFORE)
public class StickyInterceptor {
  /** Parsed {@code duration} values; empty means the default. Bounded by the annotations in the code. */
  private static final Map<String, Duration> DURATIONS = new ConcurrentHashMap<>();

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
    String text = sticky == null ? "" : sticky.duration().trim();
    if (text.isEmpty()) {
      return null;
    }
    Duration d = DURATIONS.get(text);
    if (d == null) {
      Method method = context.getMethod();
      String where = "@Sticky(duration) on " + (method == null ? "a bean" : method.getDeclaringClass().getName()
          + "." + method.getName());
      d = RouteSettings.parsePinDuration(where, text);
      DURATIONS.put(text, d);
    }
    return d;
  }

  private static Sticky binding(InvocationContext context) {
    Sticky sticky = null;
    try {
      sticky = context.getInterceptorBinding(Sticky.class);
    } catch (UnsupportedOperationException e) {
      // An Interceptors 2.1 runtime without binding access: fall back to reflection below.
    }
    if (sticky == null && context.getMethod() != null) {
      Method method = context.getMethod();
      sticky = method.getAnnotation(Sticky.class);
      if (sticky == null) {
        sticky = method.getDeclaringClass().getAnnotation(Sticky.class);
      }
    }
    return sticky;
  }
}
