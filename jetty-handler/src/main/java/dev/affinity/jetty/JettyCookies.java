package dev.affinity.jetty;

import dev.affinity.balancer.Attempt;
import dev.affinity.balancer.ClientOrigin;
import dev.affinity.balancer.ClientRequest;
import dev.affinity.balancer.RouteDecision;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SetCookie;
import dev.affinity.rules.RuleRequest;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.SetCookieParser;
import org.eclipse.jetty.server.HttpCookieUtils;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * Translation between Jetty's parsed cookies (and request headers, where header persistence carries a
 * pin) and core's view of a request.
 */
final class JettyCookies implements ClientRequest, RuleRequest {
  private final List<HttpCookie> cookies;
  private final Request request;
  private final ClientOrigin relayed;

  private JettyCookies(List<HttpCookie> cookies, Request request, ClientOrigin relayed) {
    this.cookies = cookies;
    this.request = request;
    this.relayed = relayed;
  }

  /** The request's cookies as Jetty parsed them (with the server's cookie compliance). */
  static JettyCookies of(Request request) {
    return of(request, null);
  }

  /**
   * As {@link #of(Request)}, with the client as trusted proxies reported it ({@code null} for a direct
   * client): rules then see the client's address and the host it asked the first proxy for.
   */
  static JettyCookies of(Request request, ClientOrigin relayed) {
    List<HttpCookie> cookies;
    try {
      cookies = Request.getCookies(request);
    } catch (RuntimeException e) {
      // Jetty 12.1.8's RFC 2965 cookie mode throws on a non-numeric $Version: a cookie header that
      // cannot be parsed is treated as no cookies, never as a 500.
      cookies = List.of();
    }
    return new JettyCookies(cookies, request, relayed);
  }

  @Override
  public String header(String name) {
    return request.getHeaders().get(name);
  }

  @Override
  public String host() {
    if (relayed != null && relayed.host() != null) {
      return relayed.host();
    }
    return request.getHttpURI().getAuthority();
  }

  @Override
  public String method() {
    return request.getMethod();
  }

  @Override
  public String rawPath() {
    String path = request.getHttpURI().getPath();
    return path == null || path.isEmpty() ? "/" : path;
  }

  @Override
  public String rawQuery() {
    return request.getHttpURI().getQuery();
  }

  @Override
  public List<String> headers(String name) {
    return request.getHeaders().getValuesList(name);
  }

  @Override
  public InetAddress sourceAddress() {
    if (relayed != null) {
      return relayed.address();
    }
    return request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress socket ? socket.getAddress() : null;
  }

  /** The name of the listener the request came in on ({@code host:port}, see {@link ListenerSpec#name()}). */
  static String listener(Request request) {
    return request.getConnectionMetaData().getConnector().getName();
  }

  /**
   * What keeps the client pinned, on the client's response: the cookies {@link Attempt#answered}
   * returned, and for header persistence the sealed token in its header.
   */
  static void addPins(Response response, Attempt attempt, List<SetCookie> setCookies) {
    addPins(response.getHeaders(), attempt, setCookies);
  }

  static void addPins(HttpFields.Mutable headers, Attempt attempt, List<SetCookie> setCookies) {
    for (int i = 0, n = setCookies.size(); i < n; i++) {
      headers.add(setCookieField(setCookies.get(i)));
    }
    RouteDecision decision = attempt.decision();
    String header = decision.sessionHeaderName();
    if (header != null) {
      headers.put(header, decision.sessionHeaderValue());
    }
  }

  @Override
  public String value(String name) {
    return value(cookies, name);
  }

  /** The value of the first cookie called {@code name}, or {@code null}. */
  static String value(List<HttpCookie> cookies, String name) {
    // A handful of cookies per request: a scan beats building a map.
    for (int i = 0, n = cookies.size(); i < n; i++) {
      HttpCookie cookie = cookies.get(i);
      if (cookie.getName().equals(name)) {
        return cookie.getValue();
      }
    }
    return null;
  }

  /**
   * Adds the cookies as {@code Set-Cookie} headers rendered by Jetty's RFC 6265 writer. (Not
   * {@code Response.addCookie}, which also stamps an {@code Expires} header on the whole response and
   * would change the target's caching headers.)
   */
  static void addAll(Response response, List<SetCookie> setCookies) {
    for (int i = 0, n = setCookies.size(); i < n; i++) {
      response.getHeaders().add(setCookieField(setCookies.get(i)));
    }
  }

  /**
   * Header fields rendered lately, by the identity of their cookie. With {@code cookies.sealReuse},
   * core hands the same {@link SetCookie} to every client it pins to one target within a second, so a
   * field is rendered once for all of them instead of once per response (the date formatting of
   * {@code Expires} costs more than everything else the cookie needs). Direct-mapped and lock-free: a
   * slot holds the last cookie that hashed there; a hit is the very same object, so never a wrong field.
   */
  private static final AtomicReferenceArray<Rendered> RENDERED = new AtomicReferenceArray<>(256);

  private record Rendered(SetCookie cookie, HttpField field) {}

  static HttpField setCookieField(SetCookie cookie) {
    int slot = System.identityHashCode(cookie) & (RENDERED.length() - 1);
    Rendered rendered = RENDERED.getAcquire(slot);
    if (rendered != null && rendered.cookie == cookie) {
      return rendered.field;
    }
    HttpField field = new HttpField(HttpHeader.SET_COOKIE, HttpCookieUtils.getRFC6265SetCookie(toJetty(cookie)));
    RENDERED.setRelease(slot, new Rendered(cookie, field));
    return field;
  }

  /**
   * The cookies a target's answer sets, parsed by Jetty's RFC 6265 {@code Set-Cookie} parser when core
   * asks for one (only application stickiness does). An attribute that does not parse is absent, as
   * a browser would ignore it. {@link Attempt.AnswerCookies#NONE} when {@code attempt} does not read
   * them ({@link Attempt#readsAnswerCookies()}), so that no reader is made per answer for nothing.
   */
  static Attempt.AnswerCookies answerCookies(Attempt attempt, HttpFields targetHeaders) {
    if (!attempt.readsAnswerCookies()) {
      return Attempt.AnswerCookies.NONE;
    }
    return name -> {
      HttpCookie found = null;
      for (HttpField field : targetHeaders) {
        String value = field.getValue();
        if (field.getHeader() == HttpHeader.SET_COOKIE && value != null && value.length() > name.length()
            && value.startsWith(name) && value.charAt(name.length()) == '=') {
          HttpCookie parsed = SET_COOKIE_PARSER.parse(value);
          if (parsed != null && parsed.getName().equals(name)) {
            found = parsed;
          }
        }
      }
      return found == null ? null : new Attempt.AnswerCookie(name, found.getValue(), maxAge(found), expires(found));
    };
  }

  private static final SetCookieParser SET_COOKIE_PARSER = SetCookieParser.newInstance();

  private static Long maxAge(HttpCookie cookie) {
    try {
      long maxAge = cookie.getMaxAge();
      return maxAge == -1 && cookie.getAttributes().get(HttpCookie.MAX_AGE_ATTRIBUTE) == null ? null : maxAge;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static Instant expires(HttpCookie cookie) {
    try {
      return cookie.getExpires();
    } catch (RuntimeException e) {
      return null;
    }
  }

  static HttpCookie toJetty(SetCookie c) {
    HttpCookie.Builder b = HttpCookie.build(c.name(), c.value())
        .path(c.path())
        .domain(c.domain())
        .secure(c.secure())
        .httpOnly(c.httpOnly())
        .sameSite(sameSite(c.sameSite()));
    if (c.maxAge() != null) {
      b.maxAge(c.maxAgeSeconds()).expires(c.expires());
    }
    return b.build();
  }

  private static HttpCookie.SameSite sameSite(SameSite sameSite) {
    switch (sameSite) {
      case STRICT:
        return HttpCookie.SameSite.STRICT;
      case NONE:
        return HttpCookie.SameSite.NONE;
      default:
        return HttpCookie.SameSite.LAX;
    }
  }
}
