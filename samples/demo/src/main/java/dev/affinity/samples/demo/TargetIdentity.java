package dev.affinity.samples.demo;

import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContainerInitializer;
import jakarta.servlet.ServletContext;
import java.util.Set;

/**
 * Gives one in-process copy of the cart WAR its target id and the shared keys. On a real server these
 * come from {@code -Daffinity.targetId} / {@code AFFINITY_TARGET_ID} and {@code AFFINITY_KEYS}; three
 * targets in one JVM cannot each have their own, so the demo sets the filter's init-params before it
 * starts. Values already in {@code web.xml} win ({@link FilterRegistration#setInitParameter} keeps them).
 */
final class TargetIdentity implements ServletContainerInitializer {
  private static final String FILTER_CLASS = "dev.affinity.filter.AffinityFilter";
  private final String targetId;
  private final String keys;

  TargetIdentity(String targetId, String keys) {
    this.targetId = targetId;
    this.keys = keys;
  }

  @Override
  public void onStartup(Set<Class<?>> classes, ServletContext context) {
    boolean found = false;
    for (FilterRegistration registration : context.getFilterRegistrations().values()) {
      if (FILTER_CLASS.equals(registration.getClassName())) {
        registration.setInitParameter("targetId", targetId);
        if (registration.getInitParameter("keysFile") == null) {
          registration.setInitParameter("keys", keys);
        }
        found = true;
      }
    }
    if (!found) {
      throw new IllegalStateException("the cart WAR declares no " + FILTER_CLASS + " in web.xml");
    }
  }
}
