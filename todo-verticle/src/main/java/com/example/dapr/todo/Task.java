package com.example.dapr.todo;

import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.util.UUID;

/**
 * A todo task as stored under {@code task-{id}} in the state store and returned by the API. {@code version} counts the
 * saved changes (1 when created); the outbox subscriber uses it to tell a committed change from one whose transaction
 * failed (see {@link Notification#announces}).
 */
record Task(String id, String title, String status, String createdAt, String completedAt, int version) {

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

  JsonObject toJson() {
    JsonObject json = new JsonObject().put("id", id).put("title", title).put("status", status)
      .put("created_at", createdAt);
    if (completedAt != null) {
      json.put("completed_at", completedAt);
    }
    return json.put("version", version);
  }

  static Task fromJson(JsonObject json) {
    return new Task(json.getString("id"), json.getString("title"), json.getString("status", PENDING),
      json.getString("created_at"), json.getString("completed_at"), json.getInteger("version", 1));
  }
}
