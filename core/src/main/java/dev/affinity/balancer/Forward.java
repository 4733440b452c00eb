package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.Expiry;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ALB's {@code forward} action: the target groups new clients are shared among, by weight, and
 * optionally group stickiness ({@code AFFINITYTG}) that keeps a client on the group it was first sent
 * to. A group of weight 0 takes no new clients but still serves the clients pinned to it: persistence
 * beats weights. Group names are resolved against a {@link Router}'s groups when the router is built.
 */
public final class Forward {
  private final Map<String, Integer> weights;
  private final Expiry groupStickiness;

  private Forward(Builder b) {
    this.weights = Collections.unmodifiableMap(new LinkedHashMap<>(b.weights));
    this.groupStickiness = b.groupStickiness;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** All traffic to one group. */
  public static Forward to(String groupName) {
    return builder().group(groupName, 1).build();
  }

  /** Group name to weight, in the order given. */
  public Map<String, Integer> weights() {
    return weights;
  }

  /** Group stickiness, or {@code null} when off. */
  public Expiry groupStickiness() {
    return groupStickiness;
  }

  @Override
  public String toString() {
    return "forward" + weights + (groupStickiness != null ? " with group stickiness " + groupStickiness.duration() : "");
  }

  /** Collects weighted groups; fail-fast. */
  public static final class Builder {
    private final Map<String, Integer> weights = new LinkedHashMap<>();
    private Expiry groupStickiness;

    private Builder() {}

    /** Share of new clients for a group (0-{@value Router#MAX_FORWARD_WEIGHT}). */
    public Builder group(String groupName, int weight) {
      requireNonNull(groupName, "groupName");
      if (weight < 0 || weight > Router.MAX_FORWARD_WEIGHT) {
        throw new IllegalArgumentException("forward weight of group " + groupName + " must be between 0 and "
            + Router.MAX_FORWARD_WEIGHT + ", got " + weight);
      }
      if (weights.putIfAbsent(groupName, weight) != null) {
        throw new IllegalArgumentException("forward names group \"" + groupName + "\" twice");
      }
      return this;
    }

    /** Keeps a client on the target group it was first forwarded to, for this long. */
    public Builder groupStickiness(Expiry expiry) {
      this.groupStickiness = requireNonNull(expiry, "expiry");
      return this;
    }

    public Forward build() {
      if (weights.isEmpty()) {
        throw new IllegalStateException("forward needs at least one group");
      }
      if (weights.values().stream().allMatch(w -> w == 0)) {
        throw new IllegalArgumentException("forward needs at least one group with a weight above 0, got " + weights);
      }
      return new Forward(this);
    }
  }
}
