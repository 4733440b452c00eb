package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * One {@code Set-Cookie} the adapters turn into their container's cookie type.
 *
 * @param maxAge {@code null} for a browser-session cookie (neither {@code Max-Age} nor {@code Expires}),
 *     {@link Duration#ZERO} to delete the cookie
 * @param expires the {@code Expires} attribute matching {@code maxAge}, or {@code null} with it
 * @param domain {@code null} for a host-only cookie
 */
public record SetCookie(
    String name,
    String value,
    String path,
    String domain,
    Duration maxAge,
    Instant expires,
    boolean secure,
    boolean httpOnly,
    SameSite sameSite) {

  private static final DateTimeFormatter IMF_FIXDATE =
      DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", java.util.Locale.US).withZone(ZoneOffset.UTC);

  public SetCookie {
    requireNonNull(name, "name");
    requireNonNull(value, "value");
    requireNonNull(path, "path");
    requireNonNull(sameSite, "sameSite");
    if (sameSite == SameSite.NONE && !secure) {
      throw new IllegalArgumentException("cookie " + name + ": SameSite=None requires Secure (RFC 6265bis)");
    }
    if ((maxAge == null) != (expires == null)) {
      throw new IllegalArgumentException("cookie " + name + ": maxAge and expires go together");
    }
  }

  /** True when this cookie tells the browser to forget the cookie. */
  public boolean isRemoval() {
    return maxAge != null && maxAge.isZero();
  }

  /** {@code Max-Age} in whole seconds, or -1 for a browser-session cookie. */
  public long maxAgeSeconds() {
    return maxAge == null ? -1 : maxAge.getSeconds();
  }

  /**
   * The header value as RFC 6265bis writes it. Adapters use their container's renderer; this one is
   * for containers without one, logs, and tests.
   */
  public String toHeaderValue() {
    StringBuilder sb = new StringBuilder(name.length() + value.length() + 120);
    sb.append(name).append('=').append(value).append("; Path=").append(path);
    if (domain != null) {
      sb.append("; Domain=").append(domain);
    }
    if (maxAge != null) {
      sb.append("; Max-Age=").append(maxAge.getSeconds());
      sb.append("; Expires=").append(IMF_FIXDATE.format(expires));
    }
    if (secure) {
      sb.append("; Secure");
    }
    if (httpOnly) {
      sb.append("; HttpOnly");
    }
    sb.append("; SameSite=").append(sameSite.attributeValue());
    return sb.toString();
  }
}
