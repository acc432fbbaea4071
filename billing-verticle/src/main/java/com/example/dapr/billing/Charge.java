package com.example.dapr.billing;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.example.dapr.http.JsonRequests;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * The charge for one completed task, as todo-api sends it to {@code POST /charges}. Its {@code charge_id} is fixed by
 * the completion, {@code <task_id>:completed:<completed_at>} (as notification ids are), so a repeat of the same
 * completion carries the same id and a later completion of the same task a new one.
 */
record Charge(String chargeId, String taskId, String title, String completedAt)
  implements JsonBinding.Checked<Charge> {

  static final int MAX_ID_LENGTH = 200;
  static final int MAX_TITLE_LENGTH = 200;
  static final int MAX_CHARGE_ID_LENGTH = 300;

  @Override
  public Charge checked() {
    String task = JsonRequests.requiredString("task_id", taskId, MAX_ID_LENGTH);
    String name = JsonRequests.requiredText("title", title, MAX_TITLE_LENGTH);
    String completed = JsonRequests.requiredString("completed_at", completedAt, 64);
    try {
      Instant.parse(completed);
    } catch (DateTimeParseException e) {
      throw ApiException.badRequest("INVALID_FIELD", "'completed_at' must be an ISO-8601 instant such as "
        + "2026-12-04T10:15:30Z");
    }
    String id = JsonRequests.requiredString("charge_id", chargeId, MAX_CHARGE_ID_LENGTH);
    String expected = id(task, completed);
    if (!id.equals(expected)) {
      throw ApiException.badRequest("INVALID_FIELD", "'charge_id' must be '<task_id>:completed:<completed_at>' "
        + "of this charge: '" + expected + "'");
    }
    return new Charge(id, task, name, completed);
  }

  /** The charge id of a task's completion at {@code completedAt}. */
  static String id(String taskId, String completedAt) {
    return taskId + ":completed:" + completedAt;
  }
}
