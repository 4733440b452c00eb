package dev.affinity.rules;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * A redirect, in ALB's parts: each part is a template that may reuse the request's own parts through
 * {@code #{protocol}}, {@code #{host}}, {@code #{port}}, {@code #{path}} and {@code #{query}}, and a part
 * left {@code null} is its own placeholder (path {@code /#{path}}: as in ALB, {@code #{path}} has no
 * leading slash, so a path template starts with {@code /}). {@code protocol} is {@code HTTP},
 * {@code HTTPS} or {@code #{protocol}}; {@code port} is 1 to 65535 or {@code #{port}}. Everything is
 * checked at construction; {@link #location} cannot fail.
 *
 * <p><b>Loops.</b> A redirect with every part at its default sends the client back to the URL it came
 * from, whatever the request: it is refused. Any other redirect may loop for some requests only
 * ({@code protocol: HTTPS} with {@code port: #{port}} loops for a request that was HTTPS already, and
 * only if the rule matches it); whether it does depends on which requests the rule's conditions let in,
 * which is the configuration's business, so it is left to the user. Note that, as in ALB, changing the
 * protocol does not change the port: an HTTP to HTTPS redirect says {@code port: 443}.
 */
public record Redirect(int status, String protocol, String host, String port, String path, String query)
    implements RuleAction {
  private static final List<String> PLACEHOLDERS = List.of("protocol", "host", "port", "path", "query");
  private static final List<Integer> STATUSES = List.of(301, 302, 303, 307, 308);

  public Redirect {
    if (!STATUSES.contains(status)) {
      throw new IllegalArgumentException("redirect status must be one of " + STATUSES + ", got " + status);
    }
    protocol = protocol == null ? "#{protocol}" : protocol;
    host = host == null ? "#{host}" : host;
    port = port == null ? "#{port}" : port;
    path = path == null ? "/#{path}" : path;
    query = query == null ? "#{query}" : query;
    if (!protocol.equals("#{protocol}") && !protocol.equalsIgnoreCase("http") && !protocol.equalsIgnoreCase("https")) {
      throw new IllegalArgumentException("redirect protocol must be HTTP, HTTPS or #{protocol}, got \"" + protocol + "\"");
    }
    if (!port.equals("#{port}") && portOf(port) < 0) {
      throw new IllegalArgumentException("redirect port must be 1 to 65535 or #{port}, got \"" + port + "\"");
    }
    check("host", host, ".-_:[]");
    if (host.isEmpty()) {
      throw new IllegalArgumentException("redirect host must not be empty (leave it out for #{host})");
    }
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("redirect path must start with '/' (#{path} has no leading slash), got \""
          + path + "\"");
    }
    check("path", path, "/-._~!$&'()*+,;=:@%");
    check("query", query, "/-._~!$&'()*+,;=:@%?");
    if (protocol.equals("#{protocol}") && host.equals("#{host}") && port.equals("#{port}") && path.equals("/#{path}")
        && query.equals("#{query}")) {
      throw new IllegalArgumentException("redirect with every part at its default (#{protocol}://#{host}:#{port}/#{path}?#{query})"
          + " sends every client back to the URL it asked for, a loop; change at least one part");
    }
  }

  /**
   * The Location for a request: {@code scheme} ({@code http}/{@code https}), the host without port,
   * the port it came to, its path as sent without the leading slash, and its query as sent (or
   * {@code null}). The port is left out when it is the scheme's default, the {@code ?} when the query
   * is empty. Characters that may not stand in a URL (controls, spaces, non-ASCII) are percent-encoded.
   */
  public String location(String scheme, String host, int port, String pathWithoutLeadingSlash, String rawQuery) {
    String[] values = {
        scheme == null ? "http" : scheme.toLowerCase(Locale.ROOT),
        host == null ? "" : host,
        String.valueOf(port),
        pathWithoutLeadingSlash == null ? "" : pathWithoutLeadingSlash,
        rawQuery == null ? "" : rawQuery};
    String outScheme = protocol.equals("#{protocol}") ? values[0] : protocol.toLowerCase(Locale.ROOT);
    // The Host header is the client's: whatever in it is not a host character ('@', '/', '?') is
    // encoded, so it cannot turn into userinfo or a path that sends the client somewhere else.
    String outHost = hostOnly(fill(this.host, values));
    if (outHost.indexOf(':') >= 0 && !outHost.startsWith("[")) {
      outHost = "[" + outHost + "]";
    }
    int outPort = this.port.equals("#{port}") ? port : portOf(this.port);
    String outPath = fill(path, values);
    String outQuery = fill(query, values);
    StringBuilder url = new StringBuilder(outScheme).append("://").append(outHost);
    boolean defaultPort = (outScheme.equals("https") && outPort == 443) || (outScheme.equals("http") && outPort == 80);
    if (!defaultPort && outPort > 0) {
      url.append(':').append(outPort);
    }
    url.append(outPath);
    if (!outQuery.isEmpty()) {
      url.append('?').append(outQuery);
    }
    return escape(url.toString());
  }

  private static String fill(String template, String[] values) {
    if (template.indexOf("#{") < 0) {
      return template;
    }
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < template.length()) {
      int open = template.indexOf("#{", i);
      if (open < 0) {
        out.append(template, i, template.length());
        break;
      }
      int close = template.indexOf('}', open);
      out.append(template, i, open).append(values[PLACEHOLDERS.indexOf(template.substring(open + 2, close))]);
      i = close + 1;
    }
    return out.toString();
  }

  /** Checks placeholders (known, closed) and the literal text between them. */
  private static void check(String part, String template, String allowedPunctuation) {
    int i = 0;
    while (i < template.length()) {
      int open = template.indexOf("#{", i);
      int literalEnd = open < 0 ? template.length() : open;
      for (int j = i; j < literalEnd; j++) {
        char c = template.charAt(j);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || allowedPunctuation.indexOf(c) >= 0;
        if (!ok) {
          throw new IllegalArgumentException("redirect " + part + " may not hold '" + c + "' outside a placeholder, got \""
              + template + "\"");
        }
      }
      if (open < 0) {
        break;
      }
      int close = template.indexOf('}', open);
      if (close < 0) {
        throw new IllegalArgumentException("redirect " + part + " has an unclosed #{ in \"" + template + "\"");
      }
      String name = template.substring(open + 2, close);
      if (!PLACEHOLDERS.contains(name)) {
        throw new IllegalArgumentException("redirect " + part + " has an unknown placeholder #{" + name + "} in \"" + template
            + "\"; known: #{protocol} #{host} #{port} #{path} #{query}");
      }
      i = close + 1;
    }
  }

  private static int portOf(String text) {
    if (text.isEmpty() || text.length() > 5 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return -1;
    }
    int p = Integer.parseInt(text);
    return p >= 1 && p <= 65535 ? p : -1;
  }

  private static String hostOnly(String host) {
    StringBuilder out = null;
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || ".-_:[]".indexOf(c) >= 0;
      if (ok) {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      if (out == null) {
        out = new StringBuilder(host.length() + 8).append(host, 0, i);
      }
      percentEncode(out, String.valueOf(c));
    }
    return out == null ? host : out.toString();
  }

  private static void percentEncode(StringBuilder out, String chars) {
    for (byte b : chars.getBytes(StandardCharsets.UTF_8)) {
      out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xF, 16)))
          .append(Character.toUpperCase(Character.forDigit(b & 0xF, 16)));
    }
  }

  private static String escape(String url) {
    StringBuilder out = null;
    for (int i = 0; i < url.length(); i++) {
      char c = url.charAt(i);
      if (c > 0x20 && c < 0x7f && "\"<>\\^`{|}".indexOf(c) < 0) {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      if (out == null) {
        out = new StringBuilder(url.length() + 16).append(url, 0, i);
      }
      int end = Character.isHighSurrogate(c) && i + 1 < url.length() ? i + 2 : i + 1;
      percentEncode(out, url.substring(i, end));
      i = end - 1;
    }
    return out == null ? url : out.toString();
  }
}
