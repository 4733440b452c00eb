package dev.affinity.rules;

/**
 * ALB-style wildcards: {@code *} is any run of characters (none included), {@code ?} exactly one.
 * Matched by a loop with one backtrack point rather than a regular expression, so that a crafted
 * header or host can cost at most length(pattern) x length(input) steps, never a regex's blow-up.
 */
final class Wildcard {
  private final String pattern;
  private final boolean ignoreCase;
  private final boolean literal;

  private Wildcard(String pattern, boolean ignoreCase) {
    this.pattern = pattern;
    this.ignoreCase = ignoreCase;
    this.literal = pattern.indexOf('*') < 0 && pattern.indexOf('?') < 0;
  }

  static Wildcard of(String pattern, boolean ignoreCase) {
    return new Wildcard(pattern, ignoreCase);
  }

  static boolean hasWildcard(String text) {
    return text.indexOf('*') >= 0 || text.indexOf('?') >= 0;
  }

  boolean isLiteral() {
    return literal;
  }

  String pattern() {
    return pattern;
  }

  boolean matches(String input) {
    if (literal && !ignoreCase) {
      return pattern.equals(input);
    }
    return matches(input, 0, input.length());
  }

  /** Whether {@code input[from, to)} matches the whole pattern. */
  boolean matches(String input, int from, int to) {
    int p = 0;
    int i = from;
    int starP = -1;
    int starI = -1;
    int plen = pattern.length();
    while (i < to) {
      if (p < plen) {
        char pc = pattern.charAt(p);
        if (pc == '*') {
          starP = p++;
          starI = i;
          continue;
        }
        if (pc == '?' || same(pc, input.charAt(i))) {
          p++;
          i++;
          continue;
        }
      }
      if (starP < 0) {
        return false;
      }
      // Let the last '*' swallow one more character and try again from just after it.
      p = starP + 1;
      i = ++starI;
    }
    while (p < plen && pattern.charAt(p) == '*') {
      p++;
    }
    return p == plen;
  }

  private boolean same(char a, char b) {
    if (a == b) {
      return true;
    }
    if (!ignoreCase) {
      return false;
    }
    return asciiLower(a) == asciiLower(b);
  }

  /**
   * Case is folded for ASCII letters only: Unicode folding makes the dotless {@code ı} equal {@code i}
   * and the Kelvin sign equal {@code k}, so a host index keyed on lower-cased names and a matcher folding
   * Unicode would disagree, and a rule would match or not depending on which one was asked.
   */
  static char asciiLower(char c) {
    return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
  }

  /** {@code text} with ASCII letters lower-cased; the same instance when there are none to change. */
  static String asciiLower(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        char[] chars = text.toCharArray();
        for (int j = i; j < chars.length; j++) {
          chars[j] = asciiLower(chars[j]);
        }
        return new String(chars);
      }
    }
    return text;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
