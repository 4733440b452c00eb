package dev.affinity.samples.springcart;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.ReleaseAffinity;
import dev.affinity.filter.Sticky;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * The cart WAR's JSON API, the Spring way. Browsing ({@code GET /api/products}, {@code GET /api/cart}
 * before the first add) creates no session and pins nobody; the first {@code POST /api/cart} creates
 * the cart and {@link Sticky} pins the client to this instance (every later change renews the pin);
 * {@code DELETE /api/cart} empties it and {@link ReleaseAffinity} lets the balancer balance the client
 * afresh. The cart lives in the {@code HttpSession}: which session mode keeps it is the starter's
 * business ({@code affinity.session.mode}).
 */
@RestController
@RequestMapping("/api")
class CartController {
  /** The instance that served this session's previous request. */
  static final String SERVED_BY = "servedBy";
  /** The instance this session was last failed over from. */
  static final String FAILED_OVER_FROM = "failedOverFrom";

  private final String sessionMode;

  CartController(@Value("${affinity.session.mode:container}") String sessionMode) {
    this.sessionMode = sessionMode;
  }

  /** One line of the cart as the client sees it. */
  record Line(String sku, String name, int quantity, int priceCents) {}

  /**
   * The cart and where it was served: {@code target} is this instance, {@code pinnedTarget} where the
   * client is pinned after this request, {@code failedOverFrom} the instance the balancer last failed
   * this session over from.
   */
  record CartView(String target, String pinnedTarget, boolean failedOverNow, String failedOverFrom,
      String sessionMode, boolean sessionNew, List<Line> items, int count, int totalCents) {}

  @GetMapping("/products")
  List<Catalog.Product> products(HttpServletResponse response) {
    response.setHeader("Cache-Control", "no-store");
    return Catalog.all();
  }

  @GetMapping("/cart")
  CartView cart(HttpServletRequest request, HttpServletResponse response, Affinity affinity) {
    HttpSession session = request.getSession(false);
    return respond(session, response, affinity, Cart.decode(session == null ? null : session.getAttribute(Cart.ATTRIBUTE)));
  }

  @Sticky
  @PostMapping("/cart")
  CartView change(@RequestParam(name = "action", required = false) String action,
      @RequestParam(name = "sku", required = false) String sku,
      HttpServletRequest request, HttpServletResponse response, Affinity affinity) {
    boolean clear = "clear".equals(action);
    boolean known = ("add".equals(action) || "remove".equals(action)) && Catalog.find(sku).isPresent();
    if (!clear && !known) {
      // Thrown, so that @Sticky pins nothing for a request that changed nothing.
      throw new BadCartRequest("expected action=add|remove with a known sku, or action=clear");
    }
    HttpSession session = request.getSession();
    Cart cart = Cart.decode(session.getAttribute(Cart.ATTRIBUTE));
    if (clear) {
      cart.clear();
    } else if ("add".equals(action)) {
      cart.add(sku);
    } else {
      cart.remove(sku);
    }
    // Set the attribute again after every change: that is what tells a session store to save it.
    session.setAttribute(Cart.ATTRIBUTE, cart.encode());
    return respond(session, response, affinity, cart);
  }

  /** Checkout, as far as this sample goes: the cart and its session are gone, and so is the pin. */
  @ReleaseAffinity
  @DeleteMapping("/cart")
  @ResponseStatus(HttpStatus.NO_CONTENT)
  void empty(HttpServletRequest request) {
    HttpSession session = request.getSession(false);
    if (session != null) {
      session.invalidate();
    }
  }

  /** A change the cart cannot make; answered 400 with the reason. */
  static final class BadCartRequest extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadCartRequest(String message) {
      super(message, null, false, false);
    }
  }

  @ExceptionHandler(BadCartRequest.class)
  ResponseEntity<Map<String, String>> badRequest(BadCartRequest e) {
    return ResponseEntity.badRequest().body(Map.of("error", e.getMessage()));
  }

  private CartView respond(HttpSession session, HttpServletResponse response, Affinity affinity, Cart cart) {
    String here = affinity.targetId();
    // The balancer says so on the request it failed over; a session served elsewhere before tells us
    // on the requests after that (the failed-over request may have been another page of the app).
    String previous = affinity.previousTarget().orElse(null);
    boolean failedOverNow = previous != null && !previous.equals(here);
    String failedOverFrom = null;
    boolean sessionNew = false;
    if (session != null) {
      Object servedBefore = session.getAttribute(SERVED_BY);
      if (previous == null && servedBefore instanceof String last && !last.equals(here)) {
        previous = last;
        failedOverNow = true;
      }
      if (failedOverNow) {
        session.setAttribute(FAILED_OVER_FROM, previous);
      }
      if (!here.equals(servedBefore)) {
        session.setAttribute(SERVED_BY, here);
      }
      failedOverFrom = session.getAttribute(FAILED_OVER_FROM) instanceof String s ? s : null;
      sessionNew = session.isNew();
    }
    List<Line> items = cart.lines().entrySet().stream()
        .map(line -> {
          Catalog.Product p = Catalog.find(line.getKey()).orElseThrow();
          return new Line(p.sku(), p.name(), line.getValue(), p.priceCents());
        })
        .toList();
    response.setHeader("Cache-Control", "no-store");
    response.setHeader("X-Cart-Target", here);
    return new CartView(here, affinity.pinnedTarget().orElse(null), failedOverNow, failedOverFrom, sessionMode,
        sessionNew, items, cart.count(), cart.totalCents());
  }
}
