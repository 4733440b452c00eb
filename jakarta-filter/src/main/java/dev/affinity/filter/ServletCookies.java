package dev.affinity.filter;

import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.SetCookie;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServletRequest;

/** Translation between the Servlet API's cookies and core's name/value view. */
final class ServletCookies implements CookieSource {
  private static final Cookie[] NONE = new Cookie[0];
  private final Cookie[] cookies;

  private ServletCookies(Cookie[] cookies) {
    this.cookies = cookies == null ? NONE : cookies;
  }

  /** The request's cookies as the container parsed them. */
  static ServletCookies of(HttpServletRequest request) {
    return new ServletCookies(request.getCookies());
  }

  @Override
  public String value(String name) {
    for (Cookie cookie : cookies) {
      if (cookie.getName().equals(name)) {
        return cookie.getValue();
      }
    }
    return null;
  }

  /** The container's cookie for a core {@code SetCookie}; a removal has {@code Max-Age=0}. */
  static Cookie toServlet(SetCookie c) {
    Cookie cookie = new Cookie(c.name(), c.value());
    cookie.setPath(c.path());
    if (c.domain() != null) {
      cookie.setDomain(c.domain());
    }
    cookie.setMaxAge(c.maxAge() == null ? -1 : (int) Math.min(Integer.MAX_VALUE, c.maxAgeSeconds()));
    cookie.setSecure(c.secure());
    cookie.setHttpOnly(c.httpOnly());
    cookie.setAttribute("SameSite", c.sameSite().attributeValue());
    return cookie;
  }
}
