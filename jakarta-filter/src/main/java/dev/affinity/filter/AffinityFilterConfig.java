package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.route.RouteSettings;
import java.util.function.Function;

/**
 * How an {@link AffinityFilter} registered in code is configured: the container-free
 * {@link RouteSettings} (target id, keys, cookie policy, default pin) plus what only the filter has
 * to decide, namely whether to read decisions recorded by the CDI interceptors.
 */
public final class AffinityFilterConfig {
  private final RouteSettings settings;
  private final boolean cdi;

  private AffinityFilterConfig(RouteSettings settings, boolean cdi) {
    this.settings = settings;
    this.cdi = cdi;
  }

  /** The settings, with CDI decisions read when a CDI container is present. */
  public static AffinityFilterConfig of(RouteSettings settings) {
    return new AffinityFilterConfig(requireNonNull(settings, "settings"), true);
  }

  /**
   * Parses settings by init-param name (see {@link RouteSettings#parse(Function)}).
   *
   * @throws IllegalArgumentException naming the setting and the value it refused
   */
  public static AffinityFilterConfig fromParameters(Function<String, String> parameters) {
    return of(RouteSettings.parse(requireNonNull(parameters, "parameters")));
  }

  public RouteSettings settings() {
    return settings;
  }

  /** Whether the filter looks up {@link AffinityDecision} in the CDI container, when there is one. */
  public boolean cdi() {
    return cdi;
  }

  /** The same settings, with CDI lookups on or off. */
  public AffinityFilterConfig withCdi(boolean cdi) {
    return new AffinityFilterConfig(settings, cdi);
  }

  @Override
  public String toString() {
    return "AffinityFilterConfig{" + settings + ", cdi=" + cdi + "}";
  }
}
