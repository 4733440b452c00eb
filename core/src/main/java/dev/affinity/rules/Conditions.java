package dev.affinity.rules;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Cidr;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a request must have for a rule to apply: every condition set must hold (AND), and within one
 * condition any of its values will do (OR), as in ALB. Conditions left unset do not constrain.
 */
public final class Conditions {
  private static final int MAX_VALUE_PATTERN = 128;

  private final List<HostPattern> hosts;
  private final List<PathPattern> paths;
  private final List<String> methods;
  private final Map<String, List<Wildcard>> headers;
  private final Map<String, List<Wildcard>> query;
  private final List<Cidr> sourceIps;
  private final String description;

  private Conditions(Builder b) {
    this.hosts = List.copyOf(b.hosts);
    this.paths = List.copyOf(b.paths);
    this.methods = List.copyOf(b.methods);
    this.headers = copy(b.headers);
    this.query = copy(b.query);
    this.sourceIps = List.copyOf(b.sourceIps);
    this.description = describe();
  }

  private static Map<String, List<Wildcard>> copy(Map<String, List<Wildcard>> map) {
    Map<String, List<Wildcard>> copy = new LinkedHashMap<>();
    map.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    return java.util.Collections.unmodifiableMap(copy);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Whether the request meets every condition; {@code path} must not be refused. */
  public boolean matches(RuleRequest request, RequestPath path) {
    requireNonNull(request, "request");
    requireNonNull(path, "path");
    if (path.isRefused()) {
      throw new IllegalArgumentException("a refused path matches no rule (answer 400 first): " + path.refusal());
    }
    return matches(request, path.path(), hosts.isEmpty() ? null : HostPattern.hostWithoutPort(request.host()));
  }

  /** As {@link #matches(RuleRequest, RequestPath)}, with the host already read (rule sets read it once). */
  boolean matches(RuleRequest request, String path, String host) {
    if (!paths.isEmpty() && !anyPath(path)) {
      return false;
    }
    if (!hosts.isEmpty() && !anyHost(host)) {
      return false;
    }
    if (!methods.isEmpty() && !methods.contains(request.method())) {
      return false;
    }
    for (Map.Entry<String, List<Wildcard>> header : headers.entrySet()) {
      if (!anyValue(request.headers(header.getKey()), header.getValue())) {
        return false;
      }
    }
    if (!query.isEmpty() && !queryMatches(request.rawQuery())) {
      return false;
    }
    return sourceIps.isEmpty() || anySource(request.sourceAddress());
  }

  private boolean anyPath(String path) {
    for (PathPattern p : paths) {
      if (p.matches(path)) {
        return true;
      }
    }
    return false;
  }

  private boolean anyHost(String host) {
    if (host == null) {
      return false;
    }
    for (HostPattern h : hosts) {
      if (h.matches(host)) {
        return true;
      }
    }
    return false;
  }

  private static boolean anyValue(List<String> values, List<Wildcard> patterns) {
    if (values == null) {
      return false;
    }
    for (String value : values) {
      if (value == null) {
        continue;
      }
      for (Wildcard w : patterns) {
        if (w.matches(value)) {
          return true;
        }
      }
    }
    return false;
  }

  private boolean queryMatches(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return false;
    }
    // Decoded once per request and condition set; query conditions are rare and queries short.
    List<String[]> pairs = new ArrayList<>();
    for (String part : rawQuery.split("&")) {
      if (part.isEmpty()) {
        continue;
      }
      int eq = part.indexOf('=');
      String key = decodeQueryPart(eq < 0 ? part : part.substring(0, eq));
      String value = decodeQueryPart(eq < 0 ? "" : part.substring(eq + 1));
      if (key != null && value != null) {
        pairs.add(new String[] {key, value});
      }
    }
    for (Map.Entry<String, List<Wildcard>> condition : query.entrySet()) {
      boolean found = false;
      for (String[] pair : pairs) {
        if (Wildcard.asciiLower(pair[0]).equals(Wildcard.asciiLower(condition.getKey()))) {
          for (Wildcard w : condition.getValue()) {
            if (w.matches(pair[1])) {
              found = true;
              break;
            }
          }
        }
        if (found) {
          break;
        }
      }
      if (!found) {
        return false;
      }
    }
    return true;
  }

  /**
   * Form decoding ({@code +} is a space, escapes are UTF-8), as the target's framework reads the query.
   * A malformed occurrence is {@code null}: it matches no condition rather than being guessed at.
   */
  static String decodeQueryPart(String raw) {
    if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0) {
      return raw;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '+') {
        bytes.write(' ');
      } else if (c == '%') {
        if (i + 2 >= raw.length()) {
          return null;
        }
        char h = raw.charAt(i + 1);
        char l = raw.charAt(i + 2);
        int hi = h > 'f' ? -1 : Character.digit(h, 16);
        int lo = l > 'f' ? -1 : Character.digit(l, 16);
        if (hi < 0 || lo < 0) {
          return null;
        }
        bytes.write(hi << 4 | lo);
        i += 2;
      } else {
        byte[] encoded = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(encoded, 0, encoded.length);
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray()))
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private boolean anySource(InetAddress address) {
    if (address == null) {
      return false;
    }
    byte[] bytes = address.getAddress();
    for (Cidr c : sourceIps) {
      if (c.contains(bytes)) {
        return true;
      }
    }
    return false;
  }

  public List<HostPattern> hosts() {
    return hosts;
  }

  public List<PathPattern> paths() {
    return paths;
  }

  public List<String> methods() {
    return methods;
  }

  @Override
  public String toString() {
    return description;
  }

  private String describe() {
    List<String> parts = new ArrayList<>();
    if (!hosts.isEmpty()) {
      parts.add("host " + hosts);
    }
    if (!paths.isEmpty()) {
      parts.add("path " + paths);
    }
    if (!methods.isEmpty()) {
      parts.add("method " + methods);
    }
    headers.forEach((k, v) -> parts.add("header " + k + " " + v));
    query.forEach((k, v) -> parts.add("query " + k + " " + v));
    if (!sourceIps.isEmpty()) {
      parts.add("sourceIp " + sourceIps);
    }
    return String.join(" and ", parts);
  }

  /** Fail-fast: each condition is checked as it is set, and may be set once. */
  public static final class Builder {
    private final List<HostPattern> hosts = new ArrayList<>();
    private final List<PathPattern> paths = new ArrayList<>();
    private final List<String> methods = new ArrayList<>();
    private final Map<String, List<Wildcard>> headers = new LinkedHashMap<>();
    private final Map<String, List<Wildcard>> query = new LinkedHashMap<>();
    private final List<Cidr> sourceIps = new ArrayList<>();

    private Builder() {}

    /** Host patterns ({@link HostPattern}); any of them will do. */
    public Builder host(List<String> patterns) {
      requireSetOnce("host", hosts.isEmpty(), patterns);
      for (String p : patterns) {
        hosts.add(HostPattern.of(requireNonNull(p, "host pattern")));
      }
      return this;
    }

    /** Path patterns; any of them will do. */
    public Builder paths(List<PathPattern> patterns) {
      requireSetOnce("path", paths.isEmpty(), patterns);
      for (PathPattern p : patterns) {
        paths.add(requireNonNull(p, "path pattern"));
      }
      return this;
    }

    /**
     * Methods, compared exactly as sent (methods are case-sensitive, RFC 9110): upper-case letters,
     * {@code -} and {@code _}, as ALB; {@code get} is refused rather than kept as a rule no browser meets.
     */
    public Builder methods(List<String> methods) {
      requireSetOnce("method", this.methods.isEmpty(), methods);
      for (String m : methods) {
        requireNonNull(m, "method");
        if (m.isEmpty() || m.length() > 40 || !m.chars().allMatch(c -> (c >= 'A' && c <= 'Z') || c == '-' || c == '_')) {
          throw new IllegalArgumentException("method must be upper-case letters, - or _ (methods are case-sensitive), got \""
              + m + "\"");
        }
        if (this.methods.contains(m)) {
          throw new IllegalArgumentException("method \"" + m + "\" is listed twice");
        }
        this.methods.add(m);
      }
      return this;
    }

    /**
     * A header any of whose values matches any of the patterns (case-insensitive, {@code *} and
     * {@code ?} wildcards, as ALB). Several headers must all match.
     */
    public Builder header(String name, List<String> valuePatterns) {
      requireNonNull(name, "name");
      if (!ResponseHeaders.isToken(name)) {
        throw new IllegalArgumentException("header condition name must be an HTTP token, got \"" + name + "\"");
      }
      String key = name.toLowerCase(Locale.ROOT);
      requireSetOnce("header " + name, !headers.containsKey(key), valuePatterns);
      headers.put(key, patterns("header " + name, valuePatterns));
      return this;
    }

    /**
     * A query parameter: any occurrence of {@code key} (decoded, case-insensitive) whose decoded value
     * matches any of the patterns (case-insensitive wildcards, as ALB). Several keys must all match.
     */
    public Builder query(String key, List<String> valuePatterns) {
      requireNonNull(key, "key");
      if (key.isEmpty() || key.length() > MAX_VALUE_PATTERN) {
        throw new IllegalArgumentException("query condition key must be 1 to " + MAX_VALUE_PATTERN + " characters, got \""
            + key + "\"");
      }
      for (String existing : query.keySet()) {
        if (Wildcard.asciiLower(existing).equals(Wildcard.asciiLower(key))) {
          throw new IllegalArgumentException("query condition \"" + key + "\" is set twice (keys are case-insensitive)");
        }
      }
      requireSetOnce("query " + key, true, valuePatterns);
      query.put(key, patterns("query " + key, valuePatterns));
      return this;
    }

    /** Client address blocks ({@code 10.0.0.0/8}, {@code 2001:db8::/32}); any of them will do. */
    public Builder sourceIp(List<String> cidrs) {
      requireSetOnce("sourceIp", sourceIps.isEmpty(), cidrs);
      for (String c : cidrs) {
        sourceIps.add(Cidr.parse("sourceIp", requireNonNull(c, "cidr")));
      }
      return this;
    }

    private static List<Wildcard> patterns(String what, List<String> valuePatterns) {
      List<Wildcard> out = new ArrayList<>();
      for (String v : valuePatterns) {
        requireNonNull(v, what + " value");
        if (v.length() > MAX_VALUE_PATTERN || v.chars().anyMatch(Character::isISOControl)) {
          throw new IllegalArgumentException(what + " value pattern must be at most " + MAX_VALUE_PATTERN
              + " characters without control characters, got \"" + v + "\"");
        }
        out.add(Wildcard.of(v, true));
      }
      return out;
    }

    private static void requireSetOnce(String what, boolean unset, List<?> values) {
      requireNonNull(values, what);
      if (!unset) {
        throw new IllegalStateException(what + " condition was already set");
      }
      if (values.isEmpty()) {
        throw new IllegalArgumentException(what + " condition needs at least one value");
      }
    }

    /**
     * The conditions; at least one must be set (as ALB): a rule that matches every request is what
     * the default action is for, and would silently shadow every rule after it.
     */
    public Conditions build() {
      if (hosts.isEmpty() && paths.isEmpty() && methods.isEmpty() && headers.isEmpty() && query.isEmpty()
          && sourceIps.isEmpty()) {
        throw new IllegalStateException("a rule needs at least one condition (host, path, method, headers, query or"
            + " sourceIp); the default action is the one for every request");
      }
      return new Conditions(this);
    }
  }
}
