package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.example.dapr.http.JsonRequests;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;
import java.util.UUID;

/**
 * What clients send to {@code /tasks}, as records bound by {@link JsonBinding}: every rule that answers 400 before
 * anything is stored or sent. Unknown fields, duplicate keys and mistyped values are refused by the binding; the
 * records' constructors check the values.
 */
final class TaskRequests {

  static final int MAX_TITLE_LENGTH = 200;
  private static final Map<String, String> SERVER_ASSIGNED =
    Map.of("id", "'id' is assigned by the server; do not send it");

  private TaskRequests() {
  }

  /** The title of a {@code POST /tasks} body; {@code status} may be given but only as {@code pending}. */
  static String createTitle(RoutingContext ctx) {
    return JsonBinding.read(ctx, Create.class, SERVER_ASSIGNED).title();
  }

  /** A {@code PUT}/{@code PATCH /tasks/{id}} body: a new title, a new status, or both. */
  static Change change(RoutingContext ctx) {
    return JsonBinding.read(ctx, Change.class);
  }

  /** A {@code POST /tasks} body. */
  record Create(String title, String status) implements JsonBinding.Checked<Create> {
    @Override
    public Create checked() {
      String checkedStatus = JsonRequests.optionalString("status", status, 20);
      if (checkedStatus != null && !checkedStatus.equals(Task.PENDING)) {
        throw ApiException.badRequest("INVALID_FIELD",
          "a new task is always 'pending'; complete it with PATCH /tasks/{id}");
      }
      return new Create(JsonRequests.requiredText("title", title, MAX_TITLE_LENGTH), checkedStatus);
    }
  }

  /** A validated change of a task (a {@code PUT}/{@code PATCH} body); a null field stays as it is. */
  record Change(String title, String status) implements JsonBinding.Checked<Change> {
    @Override
    public Change checked() {
      String checkedTitle = JsonRequests.optionalText("title", title, MAX_TITLE_LENGTH);
      String checkedStatus = JsonRequests.optionalString("status", status, 20);
      if (checkedTitle == null && checkedStatus == null) {
        throw ApiException.badRequest("MISSING_FIELD", "send 'status' (\"completed\" or \"pending\") and/or 'title'");
      }
      if (checkedStatus != null && !checkedStatus.equals(Task.PENDING) && !checkedStatus.equals(Task.COMPLETED)) {
        throw ApiException.badRequest("INVALID_FIELD", "'status' must be \"pending\" or \"completed\"");
      }
      return new Change(checkedTitle, checkedStatus);
    }

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

  private static String abbreviate(String text) {
    return text.length() <= 64 ? text : text.substring(0, 64) + "...";
  }
}
