package dev.affinity.samples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.affinity.cookie.AffinityTicket;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The demo as a shopper sees it over HTTP: the balancer in front of the cart WAR on two Jetty ee10
 * targets and one Tomcat 10.1 target, pins from the WAR's AffinityFilter, and the demo's kill action.
 */
// Kills come last: a restarted target rejoins only after its health checks pass.
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DemoTest {
  private static Demo demo;

  @BeforeAll
  static void start() throws Exception {
    demo = Demo.start(0, System.err);
  }

  @AfterAll
  static void stop() throws Exception {
    if (demo != null) {
      demo.close();
    }
  }

  @AfterEach
  void restartKilledTargets() throws Exception {
    for (CartTarget target : demo.targets()) {
      target.start();
    }
  }

  private ShopClient shopper() {
    return new ShopClient(demo.uri());
  }

  @Test
  @Order(1)
  void theShopAndTheDemoControlsAreServedThroughTheBalancer() throws Exception {
    ShopClient shopper = shopper();
    HttpResponse<String> page = shopper.send("GET", "/", null);
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("Affinity Corner Shop");
    HttpResponse<String> products = shopper.send("GET", "/api/products", null);
    assertThat(products.body()).contains("\"sku\":\"espresso\"", "\"sku\":\"chocolate\"");
    assertThat(shopper.routeTicket(demo.keys())).as("browsing pins nobody").isEmpty();
    HttpResponse<String> targets = shopper.send("GET", "/affinity/demo/targets", null);
    assertThat(targets.body()).contains("\"id\":\"target-1\"", "\"container\":\"Tomcat 10.1\"", "\"id\":\"target-3\"")
        .doesNotContain("\"running\":false");
  }

  @Test
  @Order(2)
  void everyTargetRunsTheWarAndNewShoppersAreBalanced() throws Exception {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 6; i++) {
      seen.add(shopper().cart().target());
    }
    assertThat(seen).containsExactlyInAnyOrder("target-1", "target-2", "target-3");
  }

  @Test
  @Order(3)
  void creatingTheCartPinsTheShopperToItsTarget() throws Exception {
    ShopClient shopper = shopper();
    ShopClient.Cart cart = shopper.cart();
    String pinned = cart.target();
    assertThat(cart.pinnedTarget()).isEqualTo(pinned);
    AffinityTicket ticket = shopper.routeTicket(demo.keys()).orElseThrow();
    assertThat(ticket.targetId()).as("AFFINITYROUTE opens with the shared keyring").isEqualTo(pinned);
    shopper.add("espresso");
    shopper.add("honey");
    assertThat(shopper.add("mug").count()).isEqualTo(3);
    for (int i = 0; i < 8; i++) {
      ShopClient.Cart again = shopper.cart();
      assertThat(again.target()).isEqualTo(pinned);
      assertThat(again.count()).isEqualTo(3);
      assertThat(again.failedOverNow()).isFalse();
    }
  }

  @Test
  @Order(3)
  void overPlainHttpTheAffinityCookiesAreNotSecure() throws Exception {
    HttpResponse<String> added = shopper().send("POST", "/api/cart", "action=add&sku=mug");
    List<String> affinity = added.headers().allValues("set-cookie").stream().filter(c -> c.startsWith("AFFINITY")).toList();
    assertThat(affinity).as("route and session cookies").hasSize(2);
    // A browser on http:// would never send a Secure cookie back (the targets believe X-Forwarded-Proto: http).
    assertThat(affinity).allSatisfy(c -> assertThat(Arrays.stream(c.split(";")).skip(1).map(a -> a.trim().toLowerCase(Locale.ROOT)))
        .contains("httponly", "samesite=lax").doesNotContain("secure"));
  }

  @Test
  @Order(5)
  void killingThePinnedTargetFailsTheShopperOverAndTheNewTargetSaysSo() throws Exception {
    ShopClient shopper = shopper();
    String pinned = shopper.cart().target();
    shopper.add("croissant");
    kill(shopper, pinned);
    ShopClient.Cart after = shopper.cart();
    assertThat(after.target()).isNotEqualTo(pinned);
    assertThat(after.failedOverNow()).isTrue();
    assertThat(after.failedOverFrom()).isEqualTo(pinned);
    assertThat(after.pinnedTarget()).as("the new target re-pins at once").isEqualTo(after.target());
    assertThat(shopper.routeTicket(demo.keys()).orElseThrow().targetId()).isEqualTo(after.target());
    for (int i = 0; i < 4; i++) {
      assertThat(shopper.cart().target()).isEqualTo(after.target());
    }
  }

  @Test
  @Order(6)
  void theCartSurvivesTheLossOfItsTarget() throws Exception {
    ShopClient shopper = shopper();
    assertThat(shopper.cart().sessionMode()).isEqualTo("cookie");
    String pinned = shopper.cart().target();
    shopper.add("espresso");
    shopper.add("teapot");
    shopper.add("espresso");
    kill(shopper, pinned);
    ShopClient.Cart after = shopper.cart();
    assertThat(after.target()).isNotEqualTo(pinned);
    assertThat(after.failedOverFrom()).isEqualTo(pinned);
    assertThat(after.count()).as("the cart came along: %s", after.json()).isEqualTo(3);
    assertThat(after.json()).contains("\"sku\":\"espresso\"", "\"quantity\":2", "\"sku\":\"teapot\"");
  }

  @Test
  @Order(4)
  void demoActionsAreProtectedLikeTheBalancersOwn() throws Exception {
    ShopClient shopper = shopper();
    assertThat(shopper.send("POST", "/affinity/demo/targets/target-1/kill", null).statusCode()).isEqualTo(403);
    assertThat(shopper.send("GET", "/affinity/demo/targets/target-1/kill", null).statusCode()).isEqualTo(405);
    assertThat(shopper.send("POST", "/affinity/demo/targets/nope/kill", null, "X-Affinity-Admin", "1").statusCode())
        .isEqualTo(404);
    assertThat(shopper.send("POST", "/affinity/demo/targets/target-1/explode", null, "X-Affinity-Admin", "1").statusCode())
        .isEqualTo(404);
    assertThat(demo.targets()).allMatch(CartTarget::running);
    // The balancer's own admin endpoints are still there.
    assertThat(shopper.send("GET", "/affinity/status.json", null).body()).contains("\"id\":\"target-2\"");
  }

  private static void kill(ShopClient shopper, String id) throws Exception {
    HttpResponse<String> killed = shopper.send("POST", "/affinity/demo/targets/" + id + "/kill", null, "X-Affinity-Admin", "1");
    assertThat(killed.statusCode()).isEqualTo(200);
    assertThat(killed.body()).contains("{\"id\":\"" + id + "\"");
    assertThat(demo.targets().stream().filter(t -> t.id().equals(id)).findFirst().orElseThrow().running()).isFalse();
  }
}
