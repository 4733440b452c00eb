package dev.affinity.spring.app;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.ReleaseAffinity;
import dev.affinity.filter.Sticky;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpSession;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;

/** Handler methods with the annotations and the Affinity argument, as an application writes them. */
@RestController
public class CartController {
  private final Checkout checkout;

  public CartController(Checkout checkout) {
    this.checkout = checkout;
  }

  @Sticky
  @PostMapping("/cart")
  public String create() {
    return "created";
  }

  @Sticky(duration = "PT5M")
  @PostMapping("/cart/short")
  public String createShort() {
    return "created for five minutes";
  }

  @Sticky
  @PostMapping("/cart/fail")
  public String fail() {
    throw new IllegalStateException("the cart could not be created");
  }

  /** Spring MVC async: the pin is decided when the method returns, the body written on the async dispatch. */
  @Sticky
  @PostMapping("/cart/async")
  public java.util.concurrent.Callable<String> createLater() {
    return () -> "created later";
  }

  @ReleaseAffinity
  @PostMapping("/logout")
  public String logout() {
    return "bye";
  }

  @GetMapping("/where")
  public String where(Affinity affinity) {
    return affinity.targetId() + " pinned=" + affinity.pinnedTarget().orElse("none");
  }

  @PostMapping("/move/{target}")
  public String move(@PathVariable("target") String target, Affinity affinity) {
    affinity.moveTo(target);
    return "moved to " + target;
  }

  /** Not annotated: the pin comes from the @Sticky service method it calls. */
  @PostMapping("/checkout")
  public String pay() {
    return checkout.pay();
  }

  @GetMapping("/session")
  public String session(HttpServletRequest request) {
    HttpSession session = request.getSession();
    Integer visits = (Integer) session.getAttribute("visits");
    session.setAttribute("visits", visits == null ? 1 : visits + 1);
    return session.getClass().getName() + " " + session.getId() + " visits=" + session.getAttribute("visits");
  }
}
