package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.vertx.core.json.JsonObject;

/**
 * A notification about a task, as todo-api saves it in the outbox with the task and sends it to notification-service.
 * Its {@code id} is the idempotency key notification-service deduplicates by: the same event of the same task always
 * has the same id ({@code <task>:created}, {@code <task>:completed:<completed_at>}), whichever path delivers it.
 *
 * @param event       {@code created} or {@code completed}
 * @param requestedAt when the task was created or completed; bounds how long delivery is retried
 * @param version     the task's version this change saved, which tells a committed change from a phantom one
 * @param charge      for a completion, what billing-service charges for it, saved and delivered with the notification
 *                    (null when there is none): one outbox event carries everything one change announces
 */
@JsonPropertyOrder({"message", "task_id", "notification_id", "event", "requested_at", "version", "charge"})
record Notification(@JsonProperty("notification_id") String id, String event, String message, String taskId,
                    String requestedAt, int version, Charge charge) {

  static final String CREATED = "created";
  static final String COMPLETED = "completed";

  static Notification created(Task task) {
    return new Notification(task.id() + ":" + CREATED, CREATED, "Todo created: " + task.title(), task.id(),
      task.createdAt(), task.version(), null);
  }

  /** The completion's notification; with its {@link Charge} when {@code charged}. */
  static Notification completed(Task task, boolean charged) {
    return new Notification(task.id() + ":" + COMPLETED + ":" + task.completedAt(), COMPLETED,
      "Todo completed: " + task.title(), task.id(), task.completedAt(), task.version(),
      charged ? Charge.of(task) : null);
  }

  /**
   * Whether the change this notification announces was committed, judged from {@code task} as stored now (null when
   * there is none). Dapr publishes an outbox event before its transaction runs and drops it only when the transaction
   * left no trace; on Redis, whose transactions do not roll back, a transaction refused for a stale ETag still leaves
   * one, and its event arrives for a change that never happened: a phantom. A task that exists was created; a
   * completion was committed if the task still is at that version and completion, or has moved past that version.
   * The one case judged wrong: a refused completion whose competitor's change is itself changed again before the
   * event arrives (about a second) passes as committed.
   */
  boolean announces(Task task) {
    if (task == null || !task.id().equals(taskId)) {
      return false;
    }
    return CREATED.equals(event) || task.version() > version
      || (task.version() == version && requestedAt.equals(task.completedAt()));
  }

  /** What notification-service receives: the seed's {@code message} and {@code task_id}, and the idempotency key. */
  JsonObject invokeBody() {
    return JsonBinding.toJsonObject(new InvokeBody(message, taskId, id));
  }

  /** The body of the call to notification-service's {@code /notify}. */
  record InvokeBody(String message, String taskId, String notificationId) {
  }

  /** The outbox form: everything, so that the subscriber can check and deliver it without asking anything else. */
  JsonObject toJson() {
    return JsonBinding.toJsonObject(this);
  }

  /** Reads the outbox form; a malformed one is a 400 {@link ApiException}. */
  static Notification fromJson(JsonObject json) {
    Notification read;
    try {
      read = JsonBinding.bind(json, Notification.class);
    } catch (ApiException e) {
      throw ApiException.badRequest("MALFORMED_NOTIFICATION", "not an outbox notification (" + e.getMessage() + "): "
        + json.encode());
    }
    Charge charge = read.charge;
    if (read.version < 1 || read.id == null || read.message == null || read.taskId == null || read.requestedAt == null
      || !(CREATED.equals(read.event) || COMPLETED.equals(read.event))
      || charge != null && (charge.chargeId() == null || charge.taskId() == null || charge.title() == null
      || charge.completedAt() == null)) {
      throw ApiException.badRequest("MALFORMED_NOTIFICATION", "not an outbox notification: " + json.encode());
    }
    return read;
  }
}
