package com.example.dapr.e2e;

import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A steady stream of {@code POST /tasks} at a fixed rate, each outcome recorded with its time, for watching the system
 * through a fault. Bounded: it stops by itself after {@code maxSeconds}.
 */
final class Traffic implements AutoCloseable {

  /**
   * One create: when it started (ms since the traffic began), how long it took, what it answered, and for a 201 the
   * task's id and its notification's id and status.
   */
  record Outcome(long startedMs, long latencyMs, int status, String notification, String replica, String error,
                 String taskId, String notificationId) {
    boolean delivered() {
      return status == 201 && "delivered".equals(notification);
    }

    boolean accepted() {
      return status == 201;
    }
  }

  private final Http http;
  private final String host;
  private final int port;
  private final long startNanos = System.nanoTime();
  private final long timerId;
  private final List<Outcome> outcomes = new ArrayList<>();
  private int sent;
  private final int limit;
  private final java.util.concurrent.atomic.AtomicInteger requests = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean stopped;

  private Traffic(Http http, String host, int port, int perSecond, int maxSeconds) {
    this.http = http;
    this.host = host;
    this.port = port;
    long period = Math.max(1, 1000 / perSecond);
    this.limit = perSecond * maxSeconds;
    this.timerId = http.vertx().setPeriodic(period, id -> {
      if (stopped || sent++ >= limit) {
        http.vertx().cancelTimer(id);
        return;
      }
      send();
    });
  }

  static Traffic start(Http http, int port, int perSecond, int maxSeconds) {
    return new Traffic(http, "127.0.0.1", port, perSecond, maxSeconds);
  }

  /** The same to {@code host}: a Service's ClusterIP on the test cluster's own bridge ({@code ClusterK8s}). */
  static Traffic start(Http http, String host, int port, int perSecond, int maxSeconds) {
    return new Traffic(http, host, port, perSecond, maxSeconds);
  }

  long nowMs() {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private void send() {
    requests.incrementAndGet();
    long started = nowMs();
    http.postAsync(host, port, "/tasks", new JsonObject().put("title", "traffic " + started)).onComplete(ar -> {
      long latency = nowMs() - started;
      Outcome outcome;
      if (ar.failed()) {
        outcome = new Outcome(started, latency, 0, null, null, String.valueOf(ar.cause()), null, null);
      } else if (ar.result().statusCode() != 201) {
        outcome = new Outcome(started, latency, ar.result().statusCode(), null, null, ar.result().bodyAsString(),
          null, null);
      } else {
        JsonObject task = ar.result().bodyAsJsonObject();
        JsonObject notification = task.getJsonObject("notification");
        outcome = new Outcome(started, latency, 201, notification.getString("status"),
          notification.getString("replica"), notification.getString("dapr_error_code", notification.getString("error")),
          task.getString("id"), notification.getString("notification_id"));
      }
      synchronized (outcomes) {
        outcomes.add(outcome);
      }
    });
  }

  List<Outcome> outcomes() {
    synchronized (outcomes) {
      return new ArrayList<>(outcomes);
    }
  }

  List<Outcome> since(long ms, Predicate<Outcome> filter) {
    return outcomes().stream().filter(o -> o.startedMs() >= ms).filter(filter).toList();
  }

  /** Whether the last {@code n} outcomes started after {@code ms} were all delivered. */
  boolean lastDelivered(long ms, int n) {
    List<Outcome> after = since(ms, o -> true);
    if (after.size() < n) {
      return false;
    }
    return after.subList(after.size() - n, after.size()).stream().allMatch(Outcome::delivered);
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
