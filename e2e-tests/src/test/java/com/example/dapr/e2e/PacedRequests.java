package com.example.dapr.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Requests at a fixed rate to {@code host}:{@code port}, each outcome recorded with the time it started, for watching
 * the system through a fault. Bounded: it stops by itself after {@code perSecond * maxSeconds} requests. A subclass
 * sends one request in {@link #sendOne} and records its outcome with {@link #record}.
 */
abstract class PacedRequests<O extends PacedRequests.Timed> implements AutoCloseable {

  /** An outcome, with when its request started (ms since the stream began). */
  interface Timed {
    long startedMs();
  }

  protected final Http http;
  protected final String host;
  protected final int port;
  private final long startNanos = System.nanoTime();
  private final long timerId;
  private final List<O> outcomes = new ArrayList<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final int limit;
  private volatile boolean stopped;

  PacedRequests(Http http, String host, int port, int perSecond, int maxSeconds) {
    this.http = http;
    this.host = host;
    this.port = port;
    this.limit = perSecond * maxSeconds;
    this.timerId = http.vertx().setPeriodic(Math.max(1, 1000 / perSecond), id -> {
      if (stopped || requests.get() >= limit) {
        http.vertx().cancelTimer(id);
        return;
      }
      requests.incrementAndGet();
      sendOne();
    });
  }

  /** Sends one request, and {@link #record}s its outcome when it has one. */
  protected abstract void sendOne();

  protected final void record(O outcome) {
    synchronized (outcomes) {
      outcomes.add(outcome);
    }
  }

  long nowMs() {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  List<O> outcomes() {
    synchronized (outcomes) {
      return new ArrayList<>(outcomes);
    }
  }

  List<O> since(long ms, Predicate<O> filter) {
    return outcomes().stream().filter(o -> o.startedMs() >= ms).filter(filter).toList();
  }

  /** Whether the last {@code n} outcomes started after {@code ms} all meet {@code good}. */
  boolean last(long ms, int n, Predicate<O> good) {
    List<O> after = since(ms, o -> true);
    return after.size() >= n && after.subList(after.size() - n, after.size()).stream().allMatch(good);
  }

  /** Stops sending; what was sent is still answered and recorded. */
  void stop() {
    stopped = true;
  }

  /** Whether it has sent all it was to send ({@code perSecond * maxSeconds}), and stopped by itself. */
  boolean allSent() {
    return requests.get() >= limit;
  }

  /** Whether every request sent has been answered (or failed). */
  boolean settled() {
    return outcomes().size() >= requests.get();
  }

  @Override
  public void close() {
    stopped = true;
    http.vertx().cancelTimer(timerId);
  }
}
