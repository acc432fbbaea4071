package com.example.dapr.todo;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.logging.Logger;

/**
 * Sends a task's notification to notification-service through the sidecar and says what became of it. A notification
 * that fails for a reason that may pass (timeout, open circuit, 5xx such as {@code ERR_DIRECT_INVOKE}) is queued and
 * redelivered with jittered backoff, so a task accepted while notification-service is down is still announced.
 * The queue is in memory and bounded: it does not survive a restart of todo-api (see the README).
 */
final class TaskNotifier {

  private static final Logger LOG = Logger.getLogger(TaskNotifier.class.getName());

  private final Vertx vertx;
  private final SidecarClient sidecar;
  private final int maxAttempts;
  private final int maxPending;
  private final Backoff backoff;
  private int pending;

  TaskNotifier(Vertx vertx, SidecarClient sidecar, TodoConfig config) {
    this.vertx = vertx;
    this.sidecar = sidecar;
    this.maxAttempts = config.redeliveryAttempts();
    this.maxPending = config.redeliveryMaxPending();
    this.backoff = new Backoff(config.redeliveryInitialDelayMs(), config.redeliveryMaxDelayMs());
  }

  /**
   * Sends {@code message} about {@code taskId}. Never fails: the answer is the notification's outcome,
   * {@code {"status": "delivered", "replica": ...}}, {@code {"status": "pending", ...}} (queued for redelivery) or
   * {@code {"status": "failed", ...}}, the last two with the error and Dapr's error code.
   */
  Future<JsonObject> send(String message, String taskId) {
    JsonObject payload = new JsonObject().put("message", message).put("task_id", taskId);
    return sidecar.invokeNotification(payload)
      .map(TaskNotifier::delivered)
      .recover(failure -> Future.succeededFuture(undelivered(payload, failure)));
  }

  /** How many notifications wait for redelivery in this verticle instance. */
  int pending() {
    return pending;
  }

  private static JsonObject delivered(JsonObject answer) {
    JsonObject outcome = new JsonObject().put("status", "delivered");
    if (answer.getString("replica") != null) {
      outcome.put("replica", answer.getString("replica"));
    }
    return outcome;
  }

  private JsonObject undelivered(JsonObject payload, Throwable failure) {
    SidecarException error = failure instanceof SidecarException e ? e
      : new SidecarException(SidecarException.Kind.UNREACHABLE, "notify", 0, null, String.valueOf(failure), failure);
    JsonObject outcome = error.toJson();
    if (error.mayPassLater()) {
      if (maxAttempts > 0 && pending < maxPending) {
        pending++;
        schedule(payload, 1);
        LOG.warning(() -> "notification for task " + payload.getString("task_id") + " not delivered ("
          + error.getMessage() + "); queued for redelivery");
        return outcome.put("status", "pending").put("redelivery", "queued");
      }
      LOG.warning(() -> "notification for task " + payload.getString("task_id") + " lost: " + error.getMessage()
        + (maxAttempts == 0 ? " (redelivery disabled)" : " (redelivery queue full: " + maxPending + ")"));
    } else {
      LOG.warning(() -> "notification for task " + payload.getString("task_id") + " rejected: " + error.getMessage());
    }
    return outcome.put("status", "failed");
  }

  private void schedule(JsonObject payload, int attempt) {
    vertx.setTimer(backoff.delayMs(attempt), id -> sidecar.invokeNotification(payload)
      .onSuccess(answer -> {
        pending--;
        LOG.info(() -> "notification for task " + payload.getString("task_id") + " delivered on redelivery attempt "
          + attempt + " (replica " + answer.getString("replica") + ")");
      })
      .onFailure(failure -> {
        boolean again = attempt < maxAttempts
          && (!(failure instanceof SidecarException e) || e.mayPassLater());
        if (again) {
          schedule(payload, attempt + 1);
        } else {
          pending--;
          LOG.severe(() -> "notification for task " + payload.getString("task_id") + " given up after " + attempt
            + " redelivery attempts: " + failure.getMessage());
        }
      }));
  }
}
