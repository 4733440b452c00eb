package dev.affinity.samples.cart;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The shop's few products; fixed, so that every target sells the same things. */
final class Catalog {
  /** One product: a stock-keeping unit, a name, a price in cents, a one-line blurb, and the monogram and colour of its tile. */
  record Product(String sku, String name, int priceCents, String blurb, String mark, String colour) {}

  private static final Map<String, Product> PRODUCTS = new LinkedHashMap<>();

  static {
    add(new Product("espresso", "Espresso beans", 1450, "Dark roast, 500 g", "Es", "#7c4a2d"));
    add(new Product("teapot", "Cast-iron teapot", 3900, "0.8 l, keeps warm for an hour", "Te", "#3b6e5a"));
    add(new Product("croissant", "Butter croissants", 680, "A box of four, baked this morning", "Cr", "#c98a2b"));
    add(new Product("honey", "Wildflower honey", 990, "Raw, from the hills, 350 g", "Ho", "#d9a21b"));
    add(new Product("mug", "Stoneware mug", 1800, "Hand-glazed, 350 ml", "Mu", "#4a5d8f"));
    add(new Product("chocolate", "Dark chocolate", 450, "72 % cacao, 100 g bar", "Ch", "#5b3a29"));
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
