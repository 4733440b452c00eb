package dev.affinity.jetty;

import java.nio.channels.SelectableChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A test target's connector that can stop like a crashed process: {@link #crash()} stops the server
 * and closes every connection it accepted. A plain {@code server.stop()} is not that: a connection its
 * acceptor thread takes while the server stops goes to a selector that has stopped and stays open
 * with nobody reading it, so the balancer waits on a target that neither answers nor closes, which no
 * killed process does (TargetChurnTest saw it as a client's 20 s timeout, about one run in three on a
 * loaded machine with 60 kills).
 */
final class CrashableConnector extends ServerConnector {
  private final Set<SelectableChannel> accepted = ConcurrentHashMap.newKeySet();

  CrashableConnector(Server server, ConnectionFactory... factories) {
    super(server, 1, 1, factories);
  }

  @Override
  protected SelectorManager newSelectorManager(Executor executor, Scheduler scheduler, int selectors) {
    return new ServerConnectorManager(executor, scheduler, selectors) {
      @Override
      public void accept(SelectableChannel channel, Object attachment) {
        accepted.removeIf(c -> !c.isOpen());
        accepted.add(channel);
        super.accept(channel, attachment);
      }
    };
  }

  /** Stops the server, then closes whatever it accepted and left open. */
  void crash() throws Exception {
    getServer().stop();
    for (SelectableChannel channel : accepted) {
      channel.close();
    }
    accepted.clear();
  }
}
