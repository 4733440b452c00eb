package dev.affinity.samples.cart;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** {@code GET /api/products}: the catalog as JSON. Creates no session, so browsing does not pin. */
public class CatalogServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
    StringBuilder json = new StringBuilder("[");
    for (Catalog.Product p : Catalog.all()) {
      json.append(json.length() == 1 ? "" : ",")
          .append("{\"sku\":").append(Json.string(p.sku()))
          .append(",\"name\":").append(Json.string(p.name()))
          .append(",\"priceCents\":").append(p.priceCents())
          .append(",\"blurb\":").append(Json.string(p.blurb()))
          .append(",\"mark\":").append(Json.string(p.mark()))
          .append(",\"colour\":").append(Json.string(p.colour()))
          .append('}');
    }
    json.append(']');
    response.setContentType("application/json;charset=UTF-8");
    response.setHeader("Cache-Control", "no-store");
    response.getWriter().write(json.toString());
  }
}
