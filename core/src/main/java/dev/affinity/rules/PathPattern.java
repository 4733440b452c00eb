package dev.affinity.rules;

import static java.util.Objects.requireNonNull;

/**
 * A path condition, matched case-sensitively against the decoded, normalised path ({@link RequestPath}),
 * so it is written decoded too ({@code /café/*}, not {@code /caf%C3%A9/*}). Three kinds, said
 * explicitly so that a {@code *} in a path is never a surprise:
 *
 * <ul>
 *   <li>{@link #exact}: the path and nothing else; {@code /admin} is not {@code /admin/}.
 *   <li>{@link #prefix}: every path starting with it; {@code /v1/} covers {@code /v1/} and below, while
 *       {@code /v1} would also cover {@code /v10} (that is what was written).
 *   <li>{@link #glob}: {@code *} any run of characters, {@code /} included (as ALB), {@code ?} one.
 * </ul>
 *
 * A pattern no normalised path can ever match ({@code //}, a dot segment, {@code ;}, {@code \}, a
 * control character) is refused rather than kept as a rule that silently never applies.
 */
public final class PathPattern {
  /** How a pattern is compared with a path. */
  public enum Kind { EXACT, PREFIX, GLOB }

  private static final int MAX_LENGTH = 1024;
  private static final int MAX_GLOB_LENGTH = 128;

  private final Kind kind;
  private final String text;
  private final Wildcard glob;
  private final String literalHead;

  private PathPattern(Kind kind, String text) {
    this.kind = kind;
    this.text = text;
    this.glob = kind == Kind.GLOB ? Wildcard.of(text, false) : null;
    if (kind == Kind.GLOB) {
      int star = text.indexOf('*');
      int question = text.indexOf('?');
      int first = star < 0 ? question : question < 0 ? star : Math.min(star, question);
      this.literalHead = text.substring(0, first);
    } else {
      this.literalHead = text;
    }
  }

  /** The path and nothing else. */
  public static PathPattern exact(String path) {
    return new PathPattern(Kind.EXACT, check("exact", path, false));
  }

  /** Every path that starts with {@code prefix}. */
  public static PathPattern prefix(String prefix) {
    return new PathPattern(Kind.PREFIX, check("prefix", prefix, false));
  }

  /** {@code *} any run of characters ({@code /} included), {@code ?} one character; needs one of them, at most 128 characters. */
  public static PathPattern glob(String glob) {
    check("glob", glob, true);
    if (glob.length() > MAX_GLOB_LENGTH) {
      // Matching costs up to length(glob) x length(path), and the path is the client's: ALB's limit.
      throw new IllegalArgumentException("path glob must be at most " + MAX_GLOB_LENGTH + " characters, got \"" + glob + "\"");
    }
    if (!Wildcard.hasWildcard(glob)) {
      throw new IllegalArgumentException("path glob has no * or ?; write it as exact: \"" + glob + "\"");
    }
    return new PathPattern(Kind.GLOB, glob);
  }

  /**
   * The shorthand: one trailing {@code *} and no other wildcard is a prefix ({@code /v1/*} is prefix
   * {@code /v1/}); no wildcard is exact; any other {@code *} or {@code ?} makes a glob.
   */
  public static PathPattern parse(String shorthand) {
    requireNonNull(shorthand, "shorthand");
    if (shorthand.isEmpty() || shorthand.charAt(0) != '/') {
      throw new IllegalArgumentException("path must start with '/', got \"" + shorthand + "\"");
    }
    int star = shorthand.indexOf('*');
    if (star == shorthand.length() - 1 && shorthand.indexOf('?') < 0 && star > 0) {
      return prefix(shorthand.substring(0, star));
    }
    return Wildcard.hasWildcard(shorthand) ? glob(shorthand) : exact(shorthand);
  }

  private static String check(String kind, String path, boolean wildcards) {
    requireNonNull(path, kind);
    if (path.isEmpty() || path.charAt(0) != '/') {
      throw new IllegalArgumentException("path " + kind + " must start with '/', got \"" + path + "\"");
    }
    if (path.length() > MAX_LENGTH) {
      throw new IllegalArgumentException("path " + kind + " must be at most " + MAX_LENGTH + " characters, got \"" + path + "\"");
    }
    if (!wildcards && Wildcard.hasWildcard(path)) {
      throw new IllegalArgumentException("path " + kind + " may not hold * or ? (use a glob), got \"" + path + "\"");
    }
    String never = null;
    if (path.contains("//")) {
      never = "'//' (runs of slashes are matched as one)";
    } else if (path.indexOf(';') >= 0) {
      never = "';' (path parameters are stripped before matching)";
    } else if (path.indexOf('\\') >= 0) {
      never = "'\\' (a backslash in a request path is refused)";
    } else if (path.chars().anyMatch(Character::isISOControl)) {
      never = "a control character";
    } else {
      for (String segment : path.split("/", -1)) {
        if (segment.equals(".") || segment.equals("..")) {
          never = "a dot segment (requests holding one are refused)";
        }
      }
    }
    if (never != null) {
      throw new IllegalArgumentException("path " + kind + " can never match a request: it holds " + never
          + ", got \"" + path + "\"");
    }
    return path;
  }

  /** Whether the normalised path matches. */
  public boolean matches(String path) {
    switch (kind) {
      case EXACT:
        return text.equals(path);
      case PREFIX:
        return path.startsWith(text);
      default:
        return path.startsWith(literalHead) && glob.matches(path);
    }
  }

  public Kind kind() {
    return kind;
  }

  /** The pattern as written (for a prefix, without the shorthand's {@code *}). */
  public String text() {
    return text;
  }

  /** What every matching path starts with: the whole exact path or prefix, or a glob's text before its first wildcard. */
  String literalHead() {
    return literalHead;
  }

  /**
   * The first segment every matching path has ({@code v1} for {@code /v1/x}, {@code /v1/}, {@code /v1/*}
   * and exact {@code /v1}; {@code ""} for exact {@code /}), or {@code null} when matching paths may start
   * differently (prefix {@code /v1} also covers {@code /v10}). Rule sets index on it.
   */
  String firstSegmentOrNull() {
    int slash = literalHead.indexOf('/', 1);
    if (slash > 0) {
      return literalHead.substring(1, slash);
    }
    return kind == Kind.EXACT ? literalHead.substring(1) : null;
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.ROOT) + " " + text;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PathPattern other && other.kind == kind && other.text.equals(text);
  }

  @Override
  public int hashCode() {
    return kind.hashCode() * 31 + text.hashCode();
  }
}
