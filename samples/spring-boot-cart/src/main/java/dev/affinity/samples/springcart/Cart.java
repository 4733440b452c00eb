package dev.affinity.samples.springcart;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The lines of a cart: product to quantity. Kept in the {@code HttpSession} as one short string
 * ({@code "espresso=2;mug=1"}), as the cart WAR does: in {@code affinity.session.mode=cookie} the
 * whole session travels in a sealed cookie, and a plain string fits every session mode without an
 * allow-list entry for the session serializer.
 */
final class Cart {
  static final String ATTRIBUTE = "cart";
  static final int MAX_QUANTITY = 99;

  private final Map<String, Integer> lines = new LinkedHashMap<>();

  /** Reads a cart written by {@link #encode()}; unknown products and bad numbers are dropped. */
  static Cart decode(Object stored) {
    Cart cart = new Cart();
    if (!(stored instanceof String text) || text.isEmpty()) {
      return cart;
    }
    for (String line : text.split(";")) {
      int eq = line.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String sku = line.substring(0, eq);
      try {
        int quantity = Integer.parseInt(line.substring(eq + 1));
        if (quantity > 0 && Catalog.find(sku).isPresent()) {
          cart.lines.put(sku, Math.min(quantity, MAX_QUANTITY));
        }
      } catch (NumberFormatException e) {
        // dropped, as documented
      }
    }
    return cart;
  }

  String encode() {
    StringBuilder sb = new StringBuilder();
    lines.forEach((sku, quantity) -> sb.append(sb.length() == 0 ? "" : ";").append(sku).append('=').append(quantity));
    return sb.toString();
  }

  void add(String sku) {
    lines.merge(sku, 1, (a, b) -> Math.min(a + b, MAX_QUANTITY));
  }

  void remove(String sku) {
    lines.computeIfPresent(sku, (k, quantity) -> quantity > 1 ? quantity - 1 : null);
  }

  void clear() {
    lines.clear();
  }

  Map<String, Integer> lines() {
    return lines;
  }

  int count() {
    return lines.values().stream().mapToInt(Integer::intValue).sum();
  }

  int totalCents() {
    return lines.entrySet().stream()
        .mapToInt(e -> Catalog.find(e.getKey()).map(Catalog.Product::priceCents).orElse(0) * e.getValue())
        .sum();
  }
}
