package dev.affinity.observe;

/**
 * Told of every finished exchange, once, on the thread that finished it: the access log and the
 * request metrics. Must not block and should not throw (a throw is logged and the exchange is not
 * affected).
 */
@FunctionalInterface
public interface ExchangeObserver {
  void exchangeCompleted(ExchangeRecord exchange);
}
