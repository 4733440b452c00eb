package dev.affinity.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HealthCheckSettingsTest {
  @Test
  void theGrpcServiceIsTheWholeServerUnlessNamed() {
    assertThat(HealthCheckSettings.defaults().grpcService()).isEmpty();
    HealthCheckSettings cart = HealthCheckSettings.defaults().withGrpcService("shop.v1.Cart_2-b");
    assertThat(cart.grpcService()).isEqualTo("shop.v1.Cart_2-b");
    assertThat(cart.withGrpcService("")).isEqualTo(HealthCheckSettings.defaults());
  }

  @Test
  void aGrpcServiceThatIsNotAServiceNameIsRefusedNamingIt() {
    for (String bad : new String[] {"shop/Cart", "shop Cart", "caf\u00e9", "a\nb", "s".repeat(257)}) {
      assertThatThrownBy(() -> HealthCheckSettings.defaults().withGrpcService(bad)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("grpcService must be a gRPC service name");
    }
    assertThatThrownBy(() -> HealthCheckSettings.defaults().withGrpcService("shop/Cart")).hasMessageEndingWith("got \"shop/Cart\"");
    assertThatThrownBy(() -> HealthCheckSettings.defaults().withGrpcService(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("grpcService");
    assertThat(HealthCheckSettings.defaults().withGrpcService("s".repeat(256)).grpcService()).hasSize(256);
  }

  @Test
  void onlyHttp2AndGrpcGoOverHttp2() {
    assertThat(TargetProtocol.HTTP1.overHttp2()).isFalse();
    assertThat(TargetProtocol.HTTP2.overHttp2()).isTrue();
    assertThat(TargetProtocol.GRPC.overHttp2()).isTrue();
  }
}
