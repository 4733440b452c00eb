package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import dev.affinity.route.RouteSettings;
import dev.affinity.session.SessionSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * How an {@link AffinityFilter} registered in code is configured: the container-free
 * {@link RouteSettings} (target id, keys, cookie policy, default pin) plus what only the filter has
 * to decide: whether to read decisions recorded by the CDI interceptors, and where sessions live
 * ({@link SessionSettings}: {@code sessionMode} and its companions).
 */
public final class AffinityFilterConfig {
  private final RouteSettings settings;
  private final boolean cdi;
  private final SessionSettings sessions;
  private final AffinityListener listener;

  private AffinityFilterConfig(RouteSettings settings, boolean cdi, SessionSettings sessions,
      AffinityListener listener) {
    this.settings = settings;
    this.cdi = cdi;
    this.sessions = sessions;
    this.listener = listener;
  }

  /** The settings, with CDI decisions read when a CDI container is present, and the container's sessions. */
  public static AffinityFilterConfig of(RouteSettings settings) {
    return new AffinityFilterConfig(requireNonNull(settings, "settings"), true, SessionSettings.defaults(),
        AffinityListener.none());
  }

  /** Every init-param name the filter reads: the route settings and the session settings. */
  public static List<String> settingNames() {
    List<String> names = new ArrayList<>(RouteSettings.SETTINGS);
    names.addAll(SessionSettings.SETTINGS);
    return names;
  }

  /**
   * Refuses init-param names the filter does not know, so that a misspelt one fails instead of being
   * ignored.
   */
  public static void checkNames(Iterable<String> names) {
    List<String> known = settingNames();
    for (String name : requireNonNull(names, "names")) {
      if (!known.contains(name)) {
        throw new IllegalArgumentException("unknown setting \"" + name + "\"; known settings are " + known);
      }
    }
  }

  /**
   * Parses settings by init-param name (see {@link RouteSettings#parse(Function)}).
   *
   * @throws IllegalArgumentException naming the setting and the value it refused
   */
  public static AffinityFilterConfig fromParameters(Function<String, String> parameters) {
    requireNonNull(parameters, "parameters");
    return of(RouteSettings.parse(parameters)).withSessions(SessionSettings.parse(parameters));
  }

  public RouteSettings settings() {
    return settings;
  }

  /** Whether the filter looks up {@link AffinityDecision} in the CDI container, when there is one. */
  public boolean cdi() {
    return cdi;
  }

  /** Where sessions live: the container's (default), a sealed cookie, or Redis. */
  public SessionSettings sessions() {
    return sessions;
  }

  /** The same settings, with CDI lookups on or off. */
  public AffinityFilterConfig withCdi(boolean cdi) {
    return new AffinityFilterConfig(settings, cdi, sessions, listener);
  }

  /** The same settings, with these session settings. */
  public AffinityFilterConfig withSessions(SessionSettings sessions) {
    return new AffinityFilterConfig(settings, cdi, requireNonNull(sessions, "sessions"), listener);
  }

  /** What the filter reports to (pins, moves, releases, rejected route cookies, session bytes). */
  public AffinityListener listener() {
    return listener;
  }

  /** The same settings, reporting to {@code listener}. */
  public AffinityFilterConfig withListener(AffinityListener listener) {
    return new AffinityFilterConfig(settings, cdi, sessions, requireNonNull(listener, "listener"));
  }

  @Override
  public String toString() {
    return "AffinityFilterConfig{" + settings + ", cdi=" + cdi + ", " + sessions + "}";
  }
}
