package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import io.vertx.core.json.JsonObject;

/**
 * A notification about a task, as todo-api saves it in the outbox with the task and sends it to notification-service.
 * Its {@code id} is the idempotency key notification-service deduplicates by: the same event of the same task always
 * has the same id ({@code <task>:created}, {@code <task>:completed:<completed_at>}), whichever path delivers it.
 *
 * @param event       {@code created} or {@code completed}
 * @param requestedAt when the task was created or completed; bounds how long delivery is retried
 * @param version     the task's version this change saved, which tells a committed change from a phantom one
 */
record Notification(String id, String event, String message, String taskId, String requestedAt, int version) {

  static final String CREATED = "created";
  static final String COMPLETED = "completed";

  static Notification created(Task task) {
    return new Notification(task.id() + ":" + CREATED, CREATED, "Todo created: " + task.title(), task.id(),
      task.createdAt(), task.version());
  }

  static Notification completed(Task task) {
    return new Notification(task.id() + ":" + COMPLETED + ":" + task.completedAt(), COMPLETED,
      "Todo completed: " + task.title(), task.id(), task.completedAt(), task.version());
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
    return new JsonObject().put("message", message).put("task_id", taskId).put("notification_id", id);
  }

  /** The outbox form: everything, so that the subscriber can check and deliver it without asking anything else. */
  JsonObject toJson() {
    return invokeBody().put("event", event).put("requested_at", requestedAt).put("version", version);
  }

  /** Reads the outbox form; a malformed one is a 400 {@link ApiException}. */
  static Notification fromJson(JsonObject json) {
    String id = json.getValue("notification_id") instanceof String s ? s : null;
    String event = json.getValue("event") instanceof String s ? s : null;
    String message = json.getValue("message") instanceof String s ? s : null;
    String taskId = json.getValue("task_id") instanceof String s ? s : null;
    String requestedAt = json.getValue("requested_at") instanceof String s ? s : null;
    int version = json.getValue("version") instanceof Number n ? n.intValue() : 0;
    if (version < 1 || id == null || message == null || taskId == null || requestedAt == null
      || !(CREATED.equals(event) || COMPLETED.equals(event))) {
      throw ApiException.badRequest("MALFORMED_NOTIFICATION", "not an outbox notification: " + json.encode());
    }
    return new Notification(id, event, message, taskId, requestedAt, version);
  }
}
