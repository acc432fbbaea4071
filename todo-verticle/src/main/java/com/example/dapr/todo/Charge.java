package com.example.dapr.todo;

import com.example.dapr.http.JsonBinding;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.vertx.core.json.JsonObject;

/**
 * The charge of a task's completion, as todo-api saves it in the outbox with the completion and sends it to
 * billing-service's {@code POST /charges}. Its {@code charge_id} is fixed by the completion
 * ({@code <task_id>:completed:<completed_at>}, as the notification's id), so every delivery of it, by any path and any
 * todo-api, carries the same id, and billing-service's ledger records it once.
 */
@JsonPropertyOrder({"charge_id", "task_id", "title", "completed_at"})
record Charge(String chargeId, String taskId, String title, String completedAt) {

  static Charge of(Task completed) {
    return new Charge(completed.id() + ":" + Notification.COMPLETED + ":" + completed.completedAt(), completed.id(),
      completed.title(), completed.completedAt());
  }

  /** The body of {@code POST /charges}, and the charge's part of the outbox form. */
  JsonObject toJson() {
    return JsonBinding.toJsonObject(this);
  }
}
