package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonRequests;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/** Validation of what clients send to {@code /tasks}: every rule that answers 400 before anything is stored or sent. */
final class TaskRequests {

  static final int MAX_TITLE_LENGTH = 200;
  private static final Set<String> CREATE_FIELDS = Set.of("title", "status");
  private static final Set<String> UPDATE_FIELDS = Set.of("title", "status");

  private TaskRequests() {
  }

  /** The title of a {@code POST /tasks} body; {@code status} may be given but only as {@code pending}. */
  static String createTitle(JsonObject body) {
    if (body.containsKey("id")) {
      throw ApiException.badRequest("INVALID_FIELD", "'id' is assigned by the server; do not send it");
    }
    rejectUnknown(body, CREATE_FIELDS);
    String title = JsonRequests.requiredString(body, "title", MAX_TITLE_LENGTH);
    String status = JsonRequests.optionalString(body, "status", 20);
    if (status != null && !status.equals(Task.PENDING)) {
      throw ApiException.badRequest("INVALID_FIELD", "a new task is always 'pending'; complete it with PATCH /tasks/{id}");
    }
    return title;
  }

  /** A {@code PUT}/{@code PATCH /tasks/{id}} body: a new title, a new status, or both. */
  static Change change(JsonObject body) {
    rejectUnknown(body, UPDATE_FIELDS);
    String title = JsonRequests.optionalString(body, "title", MAX_TITLE_LENGTH);
    String status = JsonRequests.optionalString(body, "status", 20);
    if (title == null && status == null) {
      throw ApiException.badRequest("MISSING_FIELD", "send 'status' (\"completed\" or \"pending\") and/or 'title'");
    }
    if (status != null && !status.equals(Task.PENDING) && !status.equals(Task.COMPLETED)) {
      throw ApiException.badRequest("INVALID_FIELD", "'status' must be \"pending\" or \"completed\"");
    }
    return new Change(title, status);
  }

  /** A validated change of a task; a null field stays as it is. */
  record Change(String title, String status) {
    Task applyTo(Task current) {
      Task updated = title == null ? current : current.withTitle(title);
      return status == null ? updated : updated.withStatus(status);
    }
  }

  /** The task id of the path; only UUIDs are task ids, so nothing else can reach the state store as a key. */
  static String taskId(String raw) {
    try {
      UUID uuid = UUID.fromString(raw);
      if (uuid.toString().equalsIgnoreCase(raw)) {
        return uuid.toString();
      }
    } catch (IllegalArgumentException notAUuid) {
      // answered below
    }
    throw new ApiException(404, "TASK_NOT_FOUND", "no task with id '" + abbreviate(raw) + "' (task ids are UUIDs)");
  }

  private static void rejectUnknown(JsonObject body, Set<String> allowed) {
    Set<String> unknown = new TreeSet<>(body.fieldNames());
    unknown.removeAll(allowed);
    if (!unknown.isEmpty()) {
      throw ApiException.badRequest("UNKNOWN_FIELD", "unknown field(s) " + unknown + "; allowed: " + new TreeSet<>(allowed));
    }
  }

  private static String abbreviate(String text) {
    return text.length() <= 64 ? text : text.substring(0, 64) + "...";
  }
}
