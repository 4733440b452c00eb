package dev.affinity.samples.springcart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;

/** {@code cart.server} takes tomcat or jetty (SpringCartBehindBalancerTest runs both); anything else fails the start. */
class ServerChoiceTest {

  @Test
  void anotherServerFailsTheStartNamingTheProperty() {
    assertThatThrownBy(() -> new SpringApplicationBuilder(SpringCartApplication.class).run(
            "--cart.server=undertow", "--server.address=127.0.0.1", "--server.port=0",
            "--affinity.target-id=cart-1", "--affinity.keys=k1:" + "A".repeat(43) + "="))
        .satisfies(e -> {
          Throwable root = e;
          while (root.getCause() != null) {
            root = root.getCause();
          }
          assertThat(root).isInstanceOf(IllegalArgumentException.class)
              .hasMessage("cart.server must be tomcat or jetty, got \"undertow\"");
        });
  }
}
