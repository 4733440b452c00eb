package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * {@code accessLog:}: one line per request, or none.
 *
 * @param format {@code off}, {@code json} or {@code combined}
 * @param file where the lines go; {@code null} for standard output
 * @param maxHistory days of rotated files kept (a file is rotated each day and compressed), with a file only
 */
public record AccessLogConfig(String format, Path file, int maxHistory) {
  public static final int DEFAULT_MAX_HISTORY = 7;

  public AccessLogConfig {
    requireNonNull(format, "format");
  }

  public static AccessLogConfig off() {
    return new AccessLogConfig("off", null, DEFAULT_MAX_HISTORY);
  }

  public boolean enabled() {
    return !format.equals("off");
  }
}
