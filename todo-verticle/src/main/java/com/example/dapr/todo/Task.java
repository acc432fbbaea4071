package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * A todo task as stored under {@code task-{id}} in the state store and returned by the API. {@code version} counts the
 * saved changes (1 when created); the outbox subscriber uses it to tell a committed change from one whose transaction
 * failed (see {@link Notification#announces}).
 */
record Task(String id, String title, String status, String createdAt, String completedAt, int version) {

  private static final Logger LOG = Logger.getLogger(Task.class.getName());
  static final String PENDING = "pending";
  static final String COMPLETED = "completed";

  static Task newPending(String title) {
    return new Task(UUID.randomUUID().toString(), title, PENDING, Instant.now().toString(), null, 1);
  }

  static String stateKey(String id) {
    return "task-" + id;
  }

  String stateKey() {
    return stateKey(id);
  }

  /** This task with {@code newStatus} (and its completion time when it becomes completed). */
  Task withStatus(String newStatus) {
    if (newStatus.equals(status)) {
      return this;
    }
    return new Task(id, title, newStatus, createdAt, COMPLETED.equals(newStatus) ? Instant.now().toString() : null,
      version);
  }

  Task withTitle(String newTitle) {
    return new Task(id, newTitle, status, createdAt, completedAt, version);
  }

  /** The same task as the next saved version. */
  Task nextVersion() {
    return new Task(id, title, status, createdAt, completedAt, version + 1);
  }

  boolean isCompleted() {
    return COMPLETED.equals(status);
  }

  /** The stored form (also the answer's): snake_case, {@code completed_at} only once completed. */
  JsonObject toJson() {
    return JsonBinding.toJsonObject(this);
  }

  /**
   * The task stored under {@code key}. A value that is not a task (another field, a field missing or of the wrong
   * type: say a notification written over it by a store without the outbox) is a 500
   * {@code STORED_VALUE_NOT_A_TASK} naming the key, never a half-empty task.
   */
  static Task fromStored(String key, JsonObject value) {
    Task task;
    try {
      task = JsonBinding.bind(value, Task.class);
    } catch (ApiException notATask) {
      throw notATask(key, notATask.getMessage());
    }
    String missing = task.id == null ? "id" : task.title == null ? "title" : task.createdAt == null ? "created_at"
      : task.status == null ? "status" : task.version < 1 ? "version" : null;
    if (missing != null) {
      throw notATask(key, "'" + missing + "' is missing or not valid");
    }
    if (!PENDING.equals(task.status) && !COMPLETED.equals(task.status)) {
      throw notATask(key, "'status' is '" + task.status + "'");
    }
    return task;
  }

  private static ApiException notATask(String key, String why) {
    String message = "the value stored under '" + key + "' is not a task: " + why;
    LOG.severe(message);
    return new ApiException(500, "STORED_VALUE_NOT_A_TASK", message);
  }
}
