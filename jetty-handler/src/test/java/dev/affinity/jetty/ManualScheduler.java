package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A Jetty {@link Scheduler} whose time moves only when a test calls {@link #advance}: due tasks then
 * run on the test's thread, in the order they fall due, so a test of periodic work never sleeps.
 */
public final class ManualScheduler extends AbstractLifeCycle implements Scheduler {
  private final List<Entry> tasks = new ArrayList<>();
  private long nowNanos;
  private long sequence;

  private final class Entry implements Task {
    final Runnable task;
    final long dueNanos;
    final long order = sequence++;
    boolean cancelled;

    Entry(Runnable task, long dueNanos) {
      this.task = task;
      this.dueNanos = dueNanos;
    }

    @Override
    public boolean cancel() {
      synchronized (ManualScheduler.this) {
        return !cancelled && (cancelled = tasks.remove(this));
      }
    }
  }

  @Override
  public synchronized Task schedule(Runnable task, long delay, TimeUnit units) {
    Entry entry = new Entry(requireNonNull(task, "task"), nowNanos + units.toNanos(Math.max(0, delay)));
    tasks.add(entry);
    return entry;
  }

  /** Moves time forward by {@code by}, running every task that falls due (including ones they schedule). */
  public void advance(Duration by) {
    long until;
    synchronized (this) {
      until = nowNanos + by.toNanos();
    }
    while (true) {
      Entry next;
      synchronized (this) {
        next = tasks.stream().filter(e -> e.dueNanos <= until)
            .min(Comparator.<Entry>comparingLong(e -> e.dueNanos).thenComparingLong(e -> e.order)).orElse(null);
        if (next == null) {
          nowNanos = until;
          return;
        }
        tasks.remove(next);
        nowNanos = Math.max(nowNanos, next.dueNanos);
      }
      next.task.run();
    }
  }

  public synchronized int pending() {
    return tasks.size();
  }
}
