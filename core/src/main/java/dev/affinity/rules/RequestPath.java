package dev.affinity.rules;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A request path decoded and normalised for matching, or the reason it is refused (the adapter answers
 * 400 and does not match rules at all).
 *
 * <p>The danger a rule on paths has to meet is a path the rule reads one way and the target another:
 * a {@code /admin/*} rule that answers 403 is worthless if {@code /%61dmin/x}, {@code /x/../admin/x} or
 * {@code /admin;x/y} reach a target that serves them as {@code /admin/...}. So the path is read once,
 * here, the way Java targets (Tomcat, Jetty, Spring) read it, and whatever they would read in more
 * than one way is refused:
 *
 * <ul>
 *   <li><b>Percent-escapes are decoded</b>, once, as UTF-8: rules are written in plain text
 *       ({@code /café/*}) and {@code /%61dmin} is {@code /admin}. A malformed escape or invalid UTF-8
 *       (overlong {@code %C0%AF} for {@code /}, lone continuation bytes) is refused: decoders differ on
 *       what to make of it. {@code %2561} decodes to {@code %61}, not {@code a}: the target decodes
 *       once too, so both see the same path.
 *   <li><b>An encoded slash ({@code %2F}), an encoded semicolon ({@code %3B}), a backslash</b> (raw or
 *       {@code %5C}) and <b>control characters</b> ({@code %00}, raw or encoded) are refused: some
 *       targets split segments on them after decoding (a backslash is a separator on Windows and to some
 *       servlet containers), so the segment a rule saw is not the one the target sees.
 *   <li><b>Dot segments</b> ({@code .} and {@code ..}, raw or encoded as {@code %2e}, with or without
 *       {@code ;} parameters as in {@code ..;}) are refused, not resolved: a browser never sends them
 *       (it resolves them itself), and resolving them differently from the target is exactly the
 *       bypass. A dot elsewhere in a segment ({@code /admin./x}, {@code /v1.2/}) is an ordinary
 *       character, as it is to a Java target.
 *   <li><b>Path parameters</b> ({@code ;} up to the end of the segment) are stripped from each segment
 *       before decoding, as Tomcat, Jetty and Spring strip them: {@code /admin;x/secret} is matched as
 *       {@code /admin/secret}, which is what the target serves, so a rule matches what the target
 *       sees, and {@code ;jsessionid=} URL rewriting keeps working.
 *   <li><b>Runs of slashes collapse</b>: {@code //admin//x} is matched as {@code /admin/x} (Tomcat
 *       collapses them). A trailing slash is kept: {@code /admin/} and {@code /admin} are two paths.
 * </ul>
 *
 * <p>Paths are case-sensitive (as to the targets and to ALB): {@code /ADMIN/x} is another path than
 * {@code /admin/x}, and a Java target does not serve one for the other.
 *
 * <p>A path with none of {@code %}, {@code ;}, {@code \}, a control character, a dot segment or
 * {@code //} — almost every request — is its own normalised form and costs one object.
 */
public final class RequestPath {
  private final String path;
  private final String refusal;

  private RequestPath(String path, String refusal) {
    this.path = path;
    this.refusal = refusal;
  }

  /** Reads the path as sent (percent-encoded, without the query). Never throws for client input. */
  public static RequestPath parse(String rawPath) {
    if (rawPath == null || rawPath.isEmpty() || rawPath.charAt(0) != '/') {
      return refused("the path does not start with '/'");
    }
    if (isPlain(rawPath)) {
      return new RequestPath(rawPath, null);
    }
    return normalise(rawPath);
  }

  /** A path normalised already (tests and benchmarks), taken as it is. */
  static RequestPath ofNormalised(String path) {
    return new RequestPath(path, null);
  }

  /** Whether the path is refused; the adapter then answers 400 and matches no rule. */
  public boolean isRefused() {
    return refusal != null;
  }

  /** Why the path is refused, e.g. {@code encoded slash (%2F) in the path}; {@code null} when it is not. */
  public String refusal() {
    return refusal;
  }

  /** The decoded, normalised path rules match against; {@code null} when refused. */
  public String path() {
    return path;
  }

  @Override
  public String toString() {
    return refusal == null ? path : "refused: " + refusal;
  }

  private static RequestPath refused(String why) {
    return new RequestPath(null, why);
  }

  /** One pass over the raw path, allocating nothing: true when it needs no decoding or normalising. */
  private static boolean isPlain(String raw) {
    int n = raw.length();
    for (int i = 0; i < n; i++) {
      char c = raw.charAt(i);
      if (c == '%' || c == ';' || c == '\\' || c < 0x20 || c == 0x7f) {
        return false;
      }
      if (c == '/' && i + 1 < n) {
        char next = raw.charAt(i + 1);
        if (next == '/') {
          return false;
        }
        if (next == '.') {
          // "/." or "/.." followed by '/' or the end is a dot segment.
          int end = i + 2;
          if (end < n && raw.charAt(end) == '.') {
            end++;
          }
          if (end == n || raw.charAt(end) == '/') {
            return false;
          }
        }
      }
      if (c >= 0x80 && Character.isISOControl(c)) {
        return false;
      }
    }
    return true;
  }

  private static RequestPath normalise(String raw) {
    StringBuilder out = new StringBuilder(raw.length());
    CharsetDecoder utf8 = null;
    int n = raw.length();
    int start = 1;
    boolean trailingSlash = false;
    while (start <= n) {
      int slash = raw.indexOf('/', start);
      int end = slash < 0 ? n : slash;
      // Scanned within the segment only: indexOf to the end of the path for every segment would make
      // a long path of many short segments cost its length squared.
      int segmentEnd = end;
      boolean escaped = false;
      for (int i = start; i < end; i++) {
        char c = raw.charAt(i);
        if (c == ';') {
          segmentEnd = i;
          break;
        }
        escaped |= c == '%';
      }
      String segment;
      if (escaped) {
        if (utf8 == null) {
          utf8 = StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT);
        }
        segment = decode(raw, start, segmentEnd, utf8);
        if (segment == null) {
          return refused("malformed percent-escape or invalid UTF-8 in the path");
        }
      } else {
        segment = raw.substring(start, segmentEnd);
      }
      for (int i = 0; i < segment.length(); i++) {
        char c = segment.charAt(i);
        if (c == '/') {
          return refused("encoded slash (%2F) in the path");
        }
        if (c == '\\') {
          return refused("backslash in the path");
        }
        if (c == ';') {
          return refused("encoded semicolon (%3B) in the path");
        }
        if (Character.isISOControl(c)) {
          return refused("control character in the path");
        }
      }
      // A parameter's own text is dropped, but it may not smuggle what the segment may not carry.
      for (int i = segmentEnd; i < end; i++) {
        char c = raw.charAt(i);
        if (c == '\\' || Character.isISOControl(c)) {
          return refused(c == '\\' ? "backslash in the path" : "control character in the path");
        }
      }
      if (segment.equals(".") || segment.equals("..")) {
        return refused("dot segment (. or ..) in the path");
      }
      if (!segment.isEmpty()) {
        out.append('/').append(segment);
        trailingSlash = false;
      } else {
        trailingSlash = true;
      }
      if (slash < 0) {
        break;
      }
      start = slash + 1;
      if (start == n) {
        trailingSlash = true;
        break;
      }
    }
    if (out.length() == 0 || trailingSlash) {
      out.append('/');
    }
    return new RequestPath(out.toString(), null);
  }

  /** Percent-decodes {@code raw[from, to)} as UTF-8; {@code null} when an escape or the UTF-8 is malformed. */
  private static String decode(String raw, int from, int to, CharsetDecoder utf8) {
    // A char is at most 3 bytes of UTF-8 (a surrogate pair, 2 chars, is 4); an escape is 3 chars for 1 byte.
    byte[] bytes = new byte[(to - from) * 3];
    int length = 0;
    for (int i = from; i < to; i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= to) {
          return null; // fewer than two hex digits before the segment ends
        }
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi < 0 || lo < 0 || raw.charAt(i + 1) > 'f' || raw.charAt(i + 2) > 'f') {
          return null;
        }
        bytes[length++] = (byte) (hi << 4 | lo);
        i += 2;
      } else if (c < 0x80) {
        bytes[length++] = (byte) c;
      } else {
        // Already a decoded character (a server that hands non-ASCII through): take it as UTF-8.
        byte[] encoded = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        if (Character.isHighSurrogate(c) && i + 1 < to) {
          encoded = raw.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
          i++;
        }
        System.arraycopy(encoded, 0, bytes, length, encoded.length);
        length += encoded.length;
      }
    }
    try {
      CharBuffer chars = utf8.reset().decode(ByteBuffer.wrap(bytes, 0, length));
      return chars.toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
