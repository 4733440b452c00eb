package dev.affinity.samples.cart;

import dev.affinity.filter.Affinity;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpFilter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * Notes in the session that the balancer failed this client over, whatever the failed-over request
 * was for. After a target dies, the first request to reach another one is usually the page itself,
 * not the cart API, and only that request carries {@code X-Affinity-Previous-Target}. Mapped after the
 * AffinityFilter, whose {@link Affinity#previousTarget()} it reads.
 */
public class FailoverNote extends HttpFilter {
  private static final long serialVersionUID = 1L;

  @Override
  protected void doFilter(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    Affinity.find(request).flatMap(Affinity::previousTarget).ifPresent(previous -> {
      if (!previous.equals(Affinity.current(request).targetId())) {
        request.getSession().setAttribute(CartServlet.FAILED_OVER_FROM, previous);
      }
    });
    chain.doFilter(request, response);
  }
}
