package dev.affinity.jetty;

import java.net.ConnectException;
import java.nio.channels.UnresolvedAddressException;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/** What the HTTP and the WebSocket paths to a target share: failure classification and forwarding headers. */
final class Upstream {
  private Upstream() {}

  /** True when the target refused (or could not be reached for) the connection: nothing was sent. */
  static boolean isConnectFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConnectException || t instanceof UnresolvedAddressException || t instanceof java.net.UnknownHostException) {
        return true;
      }
      if (t instanceof java.net.SocketTimeoutException && String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT).contains("connect")) {
        return true;
      }
    }
    return false;
  }

  /** {@code X-Forwarded-For} (appended), {@code -Proto} and {@code -Host}, as Jetty's servlet proxy sets them. */
  static void addForwardedFor(HttpFields.Mutable headers, String remote, String host, String proto) {
    headers.put(HttpHeader.X_FORWARDED_FOR, forwardedFor(headers.get(HttpHeader.X_FORWARDED_FOR), remote));
    headers.put(HttpHeader.X_FORWARDED_PROTO, proto);
    if (host != null) {
      headers.put(HttpHeader.X_FORWARDED_HOST, host);
    }
  }

  /**
   * The header names a {@code Connection} header lists, lower case: hop-by-hop too (RFC 9110 section
   * 7.6.1), so a proxy drops them. Empty, without allocating, when there is no {@code Connection} header
   * or it only says {@code keep-alive} or {@code close} (what nearly every target sends): neither names
   * a header that is not already dropped as hop-by-hop.
   */
  static Set<String> connectionListed(HttpFields headers) {
    boolean onlyKeepAliveOrClose = true;
    for (HttpField field : headers) {
      if (field.getHeader() == HttpHeader.CONNECTION) {
        String value = field.getValue();
        if (!"keep-alive".equalsIgnoreCase(value) && !"close".equalsIgnoreCase(value)) {
          onlyKeepAliveOrClose = false;
          break;
        }
      }
    }
    if (onlyKeepAliveOrClose) {
      return Set.of();
    }
    Set<String> names = new HashSet<>();
    for (String name : headers.getCSV(HttpHeader.CONNECTION, false)) {
      names.add(name.toLowerCase(Locale.ROOT));
    }
    return names;
  }

  /** An {@code X-Forwarded-For} value: the one the request came with (if any), then this hop's client. */
  static String forwardedFor(String existing, String remote) {
    return existing == null ? remote : existing + ", " + remote;
  }

  /** One RFC 7239 {@code Forwarded} element, each value quoted only where the RFC needs it. */
  static String forwardedElement(String by, String forValue, String host, String proto) {
    StringBuilder b = new StringBuilder(64);
    appendForwardedValue(b.append("by="), by);
    appendForwardedValue(b.append(";for="), forValue);
    appendForwardedValue(b.append(";host="), host);
    return appendForwardedValue(b.append(";proto="), proto).toString();
  }

  /**
   * A token as is ({@code for=192.0.2.60}), anything else as a quoted string ({@code for="[2001:db8::1]"},
   * {@code host="example.com:8080"}), as RFC 7239 section 4 writes them; a missing value as {@code ""}.
   */
  static StringBuilder appendForwardedValue(StringBuilder b, String value) {
    if (value != null && !value.isEmpty() && isToken(value)) {
      return b.append(value);
    }
    b.append('"');
    if (value != null) {
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (c == '"' || c == '\\') {
          b.append('\\');
        }
        // Control characters cannot be escaped into a header; a reverse proxy drops them.
        if (c >= 0x20 && c != 0x7F) {
          b.append(c);
        }
      }
    }
    return b.append('"');
  }

  private static boolean isToken(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!tchar) {
        return false;
      }
    }
    return true;
  }

  /**
   * Appends {@code value} to a list-valued header: the values already there (from every field of
   * that name, blanks dropped) stay in front, joined by {@code ", "}, in a single field.
   */
  static void appendValue(HttpFields.Mutable headers, HttpHeader header, String value) {
    StringBuilder joined = null;
    for (HttpField field : headers) {
      if (field.getHeader() == header) {
        joined = joinValues(joined, field);
      }
    }
    headers.put(header, joined(joined, value));
  }

  /** Adds a field's list elements (blanks dropped), each followed by {@code ", "}; null until there is one. */
  static StringBuilder joinValues(StringBuilder joined, HttpField field) {
    for (String v : field.getValues()) {
      if (v != null && !v.isBlank()) {
        (joined == null ? joined = new StringBuilder(64) : joined).append(v).append(", ");
      }
    }
    return joined;
  }

  /** What {@link #joinValues} gathered, then {@code value}. */
  static String joined(StringBuilder joined, String value) {
    return joined == null ? value : joined.append(value).toString();
  }
}
