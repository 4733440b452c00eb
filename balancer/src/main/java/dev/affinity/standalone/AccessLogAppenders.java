package dev.affinity.standalone;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.TimeBasedRollingPolicy;
import dev.affinity.observe.AccessLog;
import dev.affinity.observe.AccessLogFormat;
import dev.affinity.standalone.config.AccessLogConfig;
import org.slf4j.LoggerFactory;

/**
 * Points the access log's logger ({@value AccessLog#LOGGER}) where {@code accessLog.to} says, with
 * Logback: standard output, or a file rotated each day (the old ones compressed, {@code maxHistory}
 * days kept). {@link AccessLogWriter} batches the lines: one logging event per flush interval.
 */
final class AccessLogAppenders {
  private AccessLogAppenders() {}

  /**
   * Sets up the logger for {@code config} and returns the writer feeding it (a life cycle for the
   * server to start and stop); {@code null} when the log is off.
   */
  static AccessLogWriter install(AccessLogConfig config) {
    if (!config.enabled()) {
      return null;
    }
    AccessLogFormat format = AccessLogFormat.named(config.format());
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      // Another SLF4J binding: its own configuration decides where "affinity.access" goes.
      return new AccessLogWriter(format, LoggerFactory.getLogger(AccessLog.LOGGER));
    }
    Logger logger = context.getLogger(AccessLog.LOGGER);
    logger.detachAndStopAllAppenders();
    logger.setAdditive(false);
    logger.setLevel(Level.INFO);
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern("%msg%n");
    encoder.start();
    OutputStreamAppender<ILoggingEvent> out;
    if (config.file() == null) {
      ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
      console.setTarget("System.out");
      out = console;
    } else {
      RollingFileAppender<ILoggingEvent> file = new RollingFileAppender<>();
      file.setContext(context);
      file.setFile(config.file().toString());
      TimeBasedRollingPolicy<ILoggingEvent> rolling = new TimeBasedRollingPolicy<>();
      rolling.setContext(context);
      rolling.setParent(file);
      rolling.setFileNamePattern(config.file() + ".%d{yyyy-MM-dd}.gz");
      rolling.setMaxHistory(config.maxHistory());
      rolling.start();
      file.setRollingPolicy(rolling);
      out = file;
    }
    out.setContext(context);
    out.setName("affinity-access-out");
    out.setEncoder(encoder);
    out.start();
    logger.addAppender(out);
    return new AccessLogWriter(format, logger);
  }

  /** Writes what is queued and closes the file (at shutdown, and in tests). */
  static void flush() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      Logger logger = context.getLogger(AccessLog.LOGGER);
      logger.detachAndStopAllAppenders();
    }
  }
}
