package dev.affinity.filter;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import jakarta.enterprise.util.Nonbinding;
import jakarta.interceptor.InterceptorBinding;

/**
 * Pins the client to this target when the annotated method (or any business method of the annotated
 * bean) returns normally. A method that throws pins nothing.
 */
@InterceptorBinding
@Inherited
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface Sticky {

  /** ISO-8601 duration of the pin, 1 s – 7 d (e.g. {@code PT30M}); empty for the filter's {@code pinDuration}. */
  @Nonbinding
  String duration() default "";
}
