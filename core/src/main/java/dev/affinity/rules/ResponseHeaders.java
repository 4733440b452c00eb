package dev.affinity.rules;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Changes a rule makes to the response going back to the client: headers to set (replacing any the
 * target sent, e.g. {@code Strict-Transport-Security}) and headers to remove (e.g. {@code Server}).
 * Names are HTTP tokens, values carry no CR, LF or other control character (no response splitting),
 * and the headers that frame the message ({@code Content-Length}, {@code Transfer-Encoding},
 * {@code Connection} and the other hop-by-hop ones) can be neither set nor removed: a rule changing
 * them would break the answer, not decorate it.
 */
public record ResponseHeaders(Map<String, String> add, List<String> remove) {
  private static final ResponseHeaders NONE = new ResponseHeaders(Map.of(), List.of());
  private static final List<String> FRAMING = List.of("content-length", "transfer-encoding", "connection",
      "keep-alive", "upgrade", "te", "trailer", "proxy-connection");

  public ResponseHeaders {
    requireNonNull(add, "add");
    requireNonNull(remove, "remove");
    Map<String, String> added = new LinkedHashMap<>();
    List<String> seen = new ArrayList<>();
    for (Map.Entry<String, String> e : add.entrySet()) {
      String name = checkName("add", e.getKey());
      String value = requireNonNull(e.getValue(), "value of " + name);
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          throw new IllegalArgumentException("responseHeaders add " + name
              + " value may not hold CR, LF or other control characters, got \"" + value.replace("\r", "\\r").replace("\n", "\\n")
              + "\"");
        }
      }
      unique(seen, name, "add");
      added.put(name, value.strip());
    }
    List<String> removed = new ArrayList<>();
    for (String name : remove) {
      checkName("remove", name);
      unique(seen, name, "remove");
      removed.add(name);
    }
    add = Collections.unmodifiableMap(added);
    remove = List.copyOf(removed);
  }

  /** No change. */
  public static ResponseHeaders none() {
    return NONE;
  }

  public boolean isEmpty() {
    return add.isEmpty() && remove.isEmpty();
  }

  private static String checkName(String what, String name) {
    requireNonNull(name, "header name");
    if (!isToken(name)) {
      throw new IllegalArgumentException("responseHeaders " + what + " name must be an HTTP token, got \"" + name + "\"");
    }
    if (FRAMING.contains(name.toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException("responseHeaders may not " + what + " " + name
          + ": it frames the message (hop-by-hop), and changing it would break the answer");
    }
    return name;
  }

  private static void unique(List<String> seen, String name, String what) {
    for (String s : seen) {
      if (s.equalsIgnoreCase(name)) {
        throw new IllegalArgumentException("responseHeaders " + what + " " + name + ": the header is already "
            + (s.equals(name) ? "named" : "named as " + s) + " (names are case-insensitive; add or remove it once)");
      }
    }
    seen.add(name);
  }

  /** An HTTP token (RFC 9110): the characters a header name may have. */
  static boolean isToken(String s) {
    if (s == null || s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
