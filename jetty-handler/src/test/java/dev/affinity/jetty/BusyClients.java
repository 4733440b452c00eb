package dev.affinity.jetty;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.ContentResponse;

/**
 * Clients that each send one request after another on their own thread until stopped, and write
 * down every error a user would see: a status other than 200, an answer the test did not expect, an
 * exception.
 */
final class BusyClients {
  /** Checks one 200 answer of client number {@code client}; {@code false} counts it as an error. */
  interface Answers {
    boolean expected(int client, String body);
  }

  private final AtomicBoolean running = new AtomicBoolean(true);
  private final Queue<String> errors = new ConcurrentLinkedQueue<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final CountDownLatch done;

  private BusyClients(int count) {
    done = new CountDownLatch(count);
  }

  static BusyClients start(List<UserAgent> clients, String path, Answers answers) {
    BusyClients busy = new BusyClients(clients.size());
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients.size(); i++) {
      int index = i;
      UserAgent client = clients.get(i);
      Thread t = new Thread(() -> busy.loop(index, client, path, answers), "busy-client-" + i);
      t.setDaemon(true);
      threads.add(t);
    }
    threads.forEach(Thread::start);
    return busy;
  }

  private void loop(int index, UserAgent client, String path, Answers answers) {
    try {
      while (running.get()) {
        try {
          ContentResponse r = client.get(path);
          requests.incrementAndGet();
          String body = r.getContentAsString();
          if (r.getStatus() != 200) {
            errors.add(r.getStatus() + " " + body.strip());
          } else if (!answers.expected(index, body)) {
            errors.add("unexpected answer: " + body.strip());
          }
        } catch (Exception e) {
          errors.add(e.toString());
        }
      }
    } finally {
      done.countDown();
    }
  }

  /** Stops the clients and waits for their last requests; {@code false} if one is still stuck. */
  boolean stop() throws InterruptedException {
    running.set(false);
    return done.await(30, TimeUnit.SECONDS);
  }

  Queue<String> errors() {
    return errors;
  }

  int requests() {
    return requests.get();
  }
}
