package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * The one rule for a target's address, wherever it comes from (the YAML, the registration API): an
 * {@code http} or {@code https} URI with a host and an explicit port, and nothing else (no path, query,
 * fragment or user info, which the balancer would silently drop).
 */
public final class TargetUri {
  private TargetUri() {}

  /**
   * {@code text} as a normalised {@code scheme://host:port} URI.
   *
   * @throws IllegalArgumentException naming the text and the rule it breaks
   */
  public static URI parse(String text) {
    requireNonNull(text, "text");
    String rule = " must be an http or https URI with host and port";
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(quote(text) + rule + " (" + e.getReason() + ")");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.isOpaque() || uri.getHost() == null
        || uri.getPort() < 1 || uri.getPort() > 65535) {
      throw new IllegalArgumentException(quote(text) + rule);
    }
    String path = uri.getRawPath();
    if ((path != null && !path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null
        || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException(quote(text) + " must be only scheme://host:port, without path, query, fragment or user info");
    }
    return URI.create(scheme + "://" + uri.getRawAuthority());
  }

  private static String quote(String text) {
    String shown = text.length() > 200 ? text.substring(0, 200) + "…" : text;
    StringBuilder out = new StringBuilder("\"");
    for (char c : shown.toCharArray()) {
      // Control characters would break a log line or a JSON error.
      out.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return out.append('"').toString();
  }
}
