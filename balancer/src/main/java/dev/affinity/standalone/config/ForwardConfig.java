package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

/** A share of new clients forwarded to a target group: weight 0 to 999 among all forward entries. */
public record ForwardConfig(String group, int weight) {
  public static final int DEFAULT_WEIGHT = 1;
  public static final int MAX_WEIGHT = dev.affinity.balancer.Router.MAX_FORWARD_WEIGHT;

  public ForwardConfig {
    requireNonNull(group, "group");
  }
}
