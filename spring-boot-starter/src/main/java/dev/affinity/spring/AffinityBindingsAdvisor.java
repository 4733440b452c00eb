package dev.affinity.spring;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.AffinityBindings;
import dev.affinity.filter.ReleaseAffinity;
import dev.affinity.filter.Sticky;
import jakarta.servlet.http.HttpServletRequest;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.springframework.aop.support.AopUtils;
import org.springframework.aop.support.StaticMethodMatcherPointcutAdvisor;
import org.springframework.web.context.request.RequestAttributes;
import org.springframework.web.context.request.RequestContextHolder;
import org.springframework.web.context.request.ServletRequestAttributes;

/**
 * Honours {@link Sticky} and {@link ReleaseAffinity} on the methods (or classes) of Spring beans,
 * {@code @Controller}s included, with the meaning of the CDI binding ({@link AffinityBindings}): the
 * decision is taken when the method returns normally, before Spring MVC writes the response body.
 *
 * <p>An advisor rather than a {@code HandlerInterceptor}: for {@code @ResponseBody} and
 * {@code ResponseEntity} handlers Spring MVC writes (and flushes) the body inside the handler adapter,
 * before {@code postHandle}, so a decision taken there would come after the response committed.
 */
final class AffinityBindingsAdvisor extends StaticMethodMatcherPointcutAdvisor implements MethodInterceptor {
  private static final long serialVersionUID = 1L;

  AffinityBindingsAdvisor() {
    setAdvice(this);
  }

  @Override
  public boolean matches(Method method, Class<?> targetClass) {
    if (method.getDeclaringClass() == Object.class || Modifier.isStatic(method.getModifiers())
        || Modifier.isPrivate(method.getModifiers())) {
      return false;
    }
    Method specific = AopUtils.getMostSpecificMethod(method, targetClass);
    return AffinityBindings.sticky(specific, targetClass) != null || AffinityBindings.releases(specific, targetClass);
  }

  @Override
  public Object invoke(MethodInvocation invocation) throws Throwable {
    Object target = invocation.getThis();
    Class<?> targetClass = target == null ? invocation.getMethod().getDeclaringClass() : AopUtils.getTargetClass(target);
    Method method = AopUtils.getMostSpecificMethod(invocation.getMethod(), targetClass);
    Sticky sticky = AffinityBindings.sticky(method, targetClass);
    boolean release = AffinityBindings.releases(method, targetClass);
    if (sticky == null && !release) {
      return invocation.proceed();
    }
    // Both checked before the method runs, so that a misconfiguration fails the call before any effect.
    Duration duration = sticky == null ? null : AffinityBindings.pinDuration(sticky, method);
    Affinity affinity = current(method);
    Object result = invocation.proceed();
    AffinityBindings.decide(affinity, sticky, duration, release);
    return result;
  }

  private static Affinity current(Method method) {
    RequestAttributes attributes = RequestContextHolder.getRequestAttributes();
    HttpServletRequest request = attributes instanceof ServletRequestAttributes
        ? ((ServletRequestAttributes) attributes).getRequest() : null;
    Affinity affinity = request == null ? null : Affinity.find(request).orElse(null);
    if (affinity == null) {
      throw new IllegalStateException("@Sticky/@ReleaseAffinity on " + method.getDeclaringClass().getName() + "."
          + method.getName() + " needs a request that AffinityFilter handles"
          + (request == null ? "; it was called outside a web request" : "; the filter is not mapped for "
              + request.getRequestURI()));
    }
    return affinity;
  }
}
