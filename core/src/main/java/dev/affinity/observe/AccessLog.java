package dev.affinity.observe;

import static java.util.Objects.requireNonNull;

import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: one line per finished exchange, in an {@link AccessLogFormat}, to a sink. The
 * default sink is the SLF4J logger {@value #LOGGER} at INFO, so that where the lines go (stdout, a
 * rotated file, a log shipper) is the logging library's configuration, as for any other log.
 */
public final class AccessLog implements ExchangeObserver {
  /** The logger the lines go to by default. */
  public static final String LOGGER = "affinity.access";

  private final AccessLogFormat format;
  private final Consumer<String> sink;

  private AccessLog(AccessLogFormat format, Consumer<String> sink) {
    this.format = requireNonNull(format, "format");
    this.sink = requireNonNull(sink, "sink");
  }

  /** Lines to the SLF4J logger {@value #LOGGER}, at INFO. */
  public static AccessLog toLogger(AccessLogFormat format) {
    Logger logger = LoggerFactory.getLogger(LOGGER);
    return new AccessLog(format, logger::info);
  }

  /** Lines to {@code sink} (a test, an embedder's own writer). */
  public static AccessLog to(AccessLogFormat format, Consumer<String> sink) {
    return new AccessLog(format, sink);
  }

  @Override
  public void exchangeCompleted(ExchangeRecord exchange) {
    sink.accept(format.format(exchange));
  }

  @Override
  public String toString() {
    return "AccessLog{" + format + "}";
  }
}
