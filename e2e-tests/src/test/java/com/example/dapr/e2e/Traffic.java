package com.example.dapr.e2e;

import io.vertx.core.json.JsonObject;


/**
 * A steady stream of {@code POST /tasks} at a fixed rate, each outcome recorded with its time, for watching the system
 * through a fault. Bounded: it stops by itself after {@code maxSeconds}.
 */
final class Traffic extends PacedRequests<Traffic.Outcome> {

  /**
   * One create: when it started (ms since the traffic began), how long it took, what it answered, and for a 201 the
   * task's id and its notification's id and status.
   */
  record Outcome(long startedMs, long latencyMs, int status, String notification, String replica, String error,
                 String taskId, String notificationId) implements PacedRequests.Timed {
    boolean delivered() {
      return status == 201 && "delivered".equals(notification);
    }

    boolean accepted() {
      return status == 201;
    }
  }

  private Traffic(Http http, String host, int port, int perSecond, int maxSeconds) {
    super(http, host, port, perSecond, maxSeconds);
  }

  static Traffic start(Http http, int port, int perSecond, int maxSeconds) {
    return new Traffic(http, "127.0.0.1", port, perSecond, maxSeconds);
  }

  /** The same to {@code host}: a Service's ClusterIP on the test cluster's own bridge ({@code ClusterK8s}). */
  static Traffic start(Http http, String host, int port, int perSecond, int maxSeconds) {
    return new Traffic(http, host, port, perSecond, maxSeconds);
  }

  @Override
  protected void sendOne() {
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
      record(outcome);
    });
  }

  /** Whether the last {@code n} outcomes started after {@code ms} were all delivered. */
  boolean lastDelivered(long ms, int n) {
    return last(ms, n, Outcome::delivered);
  }
}
