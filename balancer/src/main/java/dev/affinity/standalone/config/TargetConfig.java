package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.net.URI;

/**
 * One target.
 *
 * @param uri {@code http://host:port} or {@code https://host:port}, normalised by the loader to have
 *     no path (a trailing {@code /} in the file is dropped)
 * @param weight 0 to 999, default 1
 */
public record TargetConfig(String id, URI uri, int weight) {
  public static final int DEFAULT_WEIGHT = 1;
  /** Core's limit for a target's weight. */
  public static final int MAX_WEIGHT = dev.affinity.balancer.Target.MAX_WEIGHT;

  public TargetConfig {
    requireNonNull(id, "id");
    requireNonNull(uri, "uri");
  }
}
