package dev.affinity.filter;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * jakarta-filter's whole contract suite, plus what only a Servlet 6.1 container can call: the
 * {@code sendRedirect} overloads with a status code.
 */
abstract class Servlet61ContractTest extends FilterContractTest {

  @Test
  void containerReportsServlet61() throws Exception {
    // Guards against this module quietly running on a 6.0 API jar.
    assertThat(jakarta.servlet.http.HttpServletResponse.class.getMethod("sendRedirect", String.class, int.class,
        boolean.class)).isNotNull();
  }

  @Test
  void redirectWithStatusCarriesTheCookie() throws Exception {
    HttpResponse<String> response = server().get("/redirect61");
    assertThat(response.statusCode()).isEqualTo(303);
    assertThat(response.headers().firstValue("location")).hasValueSatisfying(l -> assertThat(l).endsWith("/whoami"));
    assertThat(routeTicket(response)).as("route cookie in %s", response.headers().allValues("set-cookie"))
        .hasValueSatisfying(t -> assertThat(t.targetId()).isEqualTo("app-1"));
    assertThat(setCookies(response).stream().filter(c -> c.name().equals("AFFINITYROUTE"))).as("written once").hasSize(1);
  }
}
