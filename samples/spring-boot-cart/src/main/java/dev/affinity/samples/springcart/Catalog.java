package dev.affinity.samples.springcart;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The shop's few products, the same as the cart WAR's; fixed, so that every instance sells the same things. */
final class Catalog {
  /** One product: a stock-keeping unit, a name, a price in cents and a one-line blurb. */
  record Product(String sku, String name, int priceCents, String blurb) {}

  private static final Map<String, Product> PRODUCTS = new LinkedHashMap<>();

  static {
    add(new Product("espresso", "Espresso beans", 1450, "Dark roast, 500 g"));
    add(new Product("teapot", "Cast-iron teapot", 3900, "0.8 l, keeps warm for an hour"));
    add(new Product("croissant", "Butter croissants", 680, "A box of four, baked this morning"));
    add(new Product("honey", "Wildflower honey", 990, "Raw, from the hills, 350 g"));
    add(new Product("mug", "Stoneware mug", 1800, "Hand-glazed, 350 ml"));
    add(new Product("chocolate", "Dark chocolate", 450, "72 % cacao, 100 g bar"));
  }

  private Catalog() {}

  private static void add(Product product) {
    PRODUCTS.put(product.sku(), product);
  }

  static List<Product> all() {
    return List.copyOf(PRODUCTS.values());
  }

  static Optional<Product> find(String sku) {
    return Optional.ofNullable(sku == null ? null : PRODUCTS.get(sku));
  }
}
