package dev.affinity.standalone.config;

/**
 * A standalone balancer configuration that cannot be used. The message is one line:
 * {@code source:line: key.path: problem}, for example
 * {@code balancer.yaml:14: targetGroups[0].stickiness.duration: must be between 1 second (PT1S) and 7 days (P7D), got PT0S}.
 * The line is left out when it is not known ({@link #line()} is 0), the key path when the problem
 * is with the whole file ({@link #keyPath()} is empty).
 */
public class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final int line;
  private final String keyPath;
  private final String problem;

  public ConfigException(String source, int line, String keyPath, String problem) {
    this(source, line, keyPath, problem, null);
  }

  public ConfigException(String source, int line, String keyPath, String problem, Throwable cause) {
    super(format(source, line, keyPath, problem), cause);
    this.source = source == null ? "" : source;
    this.line = Math.max(0, line);
    this.keyPath = keyPath == null ? "" : keyPath;
    this.problem = problem == null ? "" : problem;
  }

  private static String format(String source, int line, String keyPath, String problem) {
    StringBuilder out = new StringBuilder();
    out.append(source == null || source.isEmpty() ? "<config>" : oneLine(source));
    if (line > 0) {
      out.append(':').append(line);
    }
    out.append(": ");
    if (keyPath != null && !keyPath.isEmpty()) {
      out.append(oneLine(keyPath)).append(": ");
    }
    out.append(problem == null ? "invalid configuration" : oneLine(problem));
    return out.toString();
  }

  /** Keeps the message on one line whatever text went into it. */
  static String oneLine(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      out.append(c == '\n' || c == '\r' || c == '\u2028' || c == '\u2029' || c == '\u0085' ? ' ' : c);
    }
    return out.toString();
  }

  /** The file name (or other source name) the configuration came from. */
  public String source() {
    return source;
  }

  /** The 1-based line of the offending key or value, or 0 when no line applies. */
  public int line() {
    return line;
  }

  /** Where in the document, as {@code targetGroups[0].targets[1].uri}; empty for the whole file. */
  public String keyPath() {
    return keyPath;
  }

  /** The message without the source, line and key path. */
  public String problem() {
    return problem;
  }
}
