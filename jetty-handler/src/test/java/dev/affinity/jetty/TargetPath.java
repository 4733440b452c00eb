package dev.affinity.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import org.eclipse.jetty.client.HttpClient;

/**
 * The two paths from the balancer to a target (jetty-handler/README.md, "Two paths to a target"):
 * a test that takes one runs on that path; {@link OverBothPaths} runs a test once on each.
 */
enum TargetPath {
  /** Bodyless GET/HEAD/OPTIONS/DELETE from HTTP/1 clients and HTTP/2 streams over the balancer's own connections (the default). */
  DIRECT_RELAY(true),
  /** Jetty's {@code HttpClient}, as {@code setDirectRelay(false)} forces for every request. */
  HTTP_CLIENT(false);

  final boolean directRelay;

  TargetPath(boolean directRelay) {
    this.directRelay = directRelay;
  }

  /** Sends the balancer's requests over this path from now on (a balancer may be running). */
  void applyTo(AffinityBalancer balancer) {
    balancer.setDirectRelay(directRelay);
  }

  /**
   * Checks that what the test sent so far went over this path: the direct relay makes no
   * destination in the balancer's {@code HttpClient}; the HttpClient path makes one per target it
   * contacted.
   */
  void assertTaken(AffinityBalancer balancer) {
    HttpClient client = balancer.getHttpClient();
    if (this == DIRECT_RELAY) {
      assertThat(client.getDestinations()).as("nothing went through the balancer's HttpClient").isEmpty();
    } else {
      assertThat(client.getDestinations()).as("requests went through the balancer's HttpClient").isNotEmpty();
    }
  }
}
