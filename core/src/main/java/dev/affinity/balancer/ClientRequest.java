package dev.affinity.balancer;

import dev.affinity.cookie.CookieSource;

/**
 * What the router reads from a request besides its cookies: header persistence carries the client's
 * pin in a request header. Adapters implement it over their request type; a plain {@link CookieSource}
 * is a request without headers.
 */
public interface ClientRequest extends CookieSource {
  /** The first value of the request header {@code name} (case-insensitive), or {@code null}. */
  String header(String name);

  /** The header of {@code request}, or {@code null} when it is a plain cookie source. */
  static String header(CookieSource request, String name) {
    return request instanceof ClientRequest r ? r.header(name) : null;
  }
}
