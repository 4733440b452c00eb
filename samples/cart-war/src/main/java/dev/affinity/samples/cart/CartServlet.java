package dev.affinity.samples.cart;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.AffinityFilter;
import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.util.Map;

/**
 * {@code /api/cart}: {@code GET} shows the cart, {@code POST action=add|remove|clear&sku=...} changes
 * it. The cart lives in the {@code HttpSession} (standard API only: which session mode keeps it is the
 * filter's business). Every answer also says which target served it, where the client is pinned, and
 * whether the balancer failed the client over.
 */
public class CartServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  /** The target that served this session's previous request. */
  static final String SERVED_BY = "servedBy";
  /** The target this session was last failed over from. */
  static final String FAILED_OVER_FROM = "failedOverFrom";

  private String sessionMode = "container";

  @Override
  public void init() {
    sessionMode = sessionMode(getServletContext());
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
    respond(request, response, cart(request.getSession()));
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response) throws IOException {
    HttpSession session = request.getSession();
    Cart cart = cart(session);
    String action = request.getParameter("action");
    String sku = request.getParameter("sku");
    if ("clear".equals(action)) {
      cart.clear();
    } else if (("add".equals(action) || "remove".equals(action)) && Catalog.find(sku).isPresent()) {
      if ("add".equals(action)) {
        cart.add(sku);
      } else {
        cart.remove(sku);
      }
    } else {
      response.setStatus(HttpServletResponse.SC_BAD_REQUEST);
      response.setContentType("application/json;charset=UTF-8");
      response.getWriter().write("{\"error\":" + Json.string("expected action=add|remove with a known sku, or action=clear") + "}");
      return;
    }
    // Set the attribute again after every change: that is what tells any session store to save it.
    session.setAttribute(Cart.ATTRIBUTE, cart.encode());
    respond(request, response, cart);
  }

  private static Cart cart(HttpSession session) {
    return Cart.decode(session.getAttribute(Cart.ATTRIBUTE));
  }

  private void respond(HttpServletRequest request, HttpServletResponse response, Cart cart) throws IOException {
    HttpSession session = request.getSession();
    Affinity affinity = Affinity.current(request);
    String here = affinity.targetId();
    // The balancer says so on the request it failed over; a session that was served elsewhere before
    // tells us on the requests after that (the page itself may have been the failed-over request).
    String previous = affinity.previousTarget().orElse(null);
    Object servedBefore = session.getAttribute(SERVED_BY);
    boolean failedOverNow = previous != null;
    if (previous == null && servedBefore instanceof String last && !last.equals(here)) {
      previous = last;
      failedOverNow = true;
    }
    if (failedOverNow && !previous.equals(here)) {
      session.setAttribute(FAILED_OVER_FROM, previous);
    }
    if (!here.equals(servedBefore)) {
      session.setAttribute(SERVED_BY, here);
    }
    Object failedOverFrom = session.getAttribute(FAILED_OVER_FROM);

    StringBuilder json = new StringBuilder("{");
    json.append("\"target\":").append(Json.string(here))
        .append(",\"pinnedTarget\":").append(Json.string(affinity.pinnedTarget().orElse(null)))
        .append(",\"failedOverNow\":").append(failedOverNow)
        .append(",\"failedOverFrom\":").append(Json.string(failedOverFrom instanceof String s ? s : null))
        .append(",\"sessionMode\":").append(Json.string(sessionMode))
        .append(",\"sessionNew\":").append(session.isNew())
        .append(",\"items\":[");
    boolean first = true;
    for (Map.Entry<String, Integer> line : cart.lines().entrySet()) {
      Catalog.Product p = Catalog.find(line.getKey()).orElseThrow();
      json.append(first ? "" : ",")
          .append("{\"sku\":").append(Json.string(p.sku()))
          .append(",\"name\":").append(Json.string(p.name()))
          .append(",\"colour\":").append(Json.string(p.colour()))
          .append(",\"quantity\":").append(line.getValue())
          .append(",\"priceCents\":").append(p.priceCents())
          .append('}');
      first = false;
    }
    json.append("],\"count\":").append(cart.count())
        .append(",\"totalCents\":").append(cart.totalCents())
        .append('}');
    response.setContentType("application/json;charset=UTF-8");
    response.setHeader("Cache-Control", "no-store");
    response.setHeader("X-Cart-Target", here);
    response.getWriter().write(json.toString());
  }

  /** The {@code sessionMode} the AffinityFilter was given in web.xml ({@code container} when none). */
  static String sessionMode(ServletContext context) {
    for (FilterRegistration registration : context.getFilterRegistrations().values()) {
      if (AffinityFilter.class.getName().equals(registration.getClassName())) {
        String mode = registration.getInitParameter("sessionMode");
        if (mode != null && !mode.isBlank()) {
          return mode.trim();
        }
      }
    }
    String mode = context.getInitParameter("sessionMode");
    return mode == null || mode.isBlank() ? "container" : mode.trim();
  }
}
