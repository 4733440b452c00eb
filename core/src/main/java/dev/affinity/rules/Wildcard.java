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
    if (literal) {
      return ignoreCase ? pattern.equalsIgnoreCase(input) : pattern.equals(input);
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
    char ua = Character.toUpperCase(a);
    char ub = Character.toUpperCase(b);
    return ua == ub || Character.toLowerCase(ua) == Character.toLowerCase(ub);
  }

  @Override
  public String toString() {
    return pattern;
  }
}
