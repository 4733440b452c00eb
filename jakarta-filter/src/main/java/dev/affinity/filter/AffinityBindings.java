package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.route.RouteSettings;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What {@link Sticky} and {@link ReleaseAffinity} on a method mean, for every framework that honours
 * them: the CDI interceptors here and the Spring Boot starter's method interceptor. A method's own
 * annotation counts, else its class's (inherited from a superclass too); the decision is taken after
 * the method returns normally (a method that throws decides nothing); {@code @Sticky(duration)} is an
 * ISO-8601 duration of 1 s – 7 d, empty for the configured {@code pinDuration}. With both annotations
 * in effect the release is recorded last, and so wins.
 *
 * <p>Only reflection on the annotations: no CDI type is loaded, so this runs without the CDI API.
 */
public final class AffinityBindings {
  /** Parsed {@code duration} values; bounded by the annotations in the code. */
  private static final Map<String, Duration> DURATIONS = new ConcurrentHashMap<>();

  private AffinityBindings() {}

  /**
   * The {@code @Sticky} in effect for {@code method} called on an instance of {@code targetClass}: the
   * method's own, else {@code targetClass}'s (or a superclass's), else the declaring class's; {@code null}
   * when none.
   */
  public static Sticky sticky(Method method, Class<?> targetClass) {
    return find(Sticky.class, method, targetClass);
  }

  /** Whether {@code @ReleaseAffinity} is in effect for {@code method} on {@code targetClass}. */
  public static boolean releases(Method method, Class<?> targetClass) {
    return find(ReleaseAffinity.class, method, targetClass) != null;
  }

  /**
   * The pin duration {@code sticky} asks for, or {@code null} for the filter's {@code pinDuration}.
   * Call it before the method runs, so that a bad value fails the call before it has any effect.
   *
   * @throws IllegalArgumentException naming the method and the value when the duration is invalid
   */
  public static Duration pinDuration(Sticky sticky, Method method) {
    String text = requireNonNull(sticky, "sticky").duration().trim();
    if (text.isEmpty()) {
      return null;
    }
    Duration d = DURATIONS.get(text);
    if (d == null) {
      String where = "@Sticky(duration) on " + (method == null ? "a bean"
          : method.getDeclaringClass().getName() + "." + method.getName());
      d = RouteSettings.parsePinDuration(where, text);
      DURATIONS.put(text, d);
    }
    return d;
  }

  /** Records what the bindings ask for on {@code affinity}: the pin (if sticky), then the release. */
  public static void decide(Affinity affinity, Sticky sticky, Duration pinDuration, boolean release) {
    requireNonNull(affinity, "affinity");
    if (sticky != null) {
      if (pinDuration == null) {
        affinity.pin();
      } else {
        affinity.pin(pinDuration);
      }
    }
    if (release) {
      affinity.release();
    }
  }

  private static <A extends Annotation> A find(Class<A> type, Method method, Class<?> targetClass) {
    requireNonNull(method, "method");
    A found = method.getAnnotation(type);
    if (found == null && targetClass != null) {
      found = targetClass.getAnnotation(type);
    }
    if (found == null) {
      found = method.getDeclaringClass().getAnnotation(type);
    }
    return found;
  }
}
