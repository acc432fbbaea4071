package com.example.dapr.todo;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import io.vertx.core.json.JsonObject;

/**
 * What {@code /tasks} answers: the task's fields, and after a create or a completion what became of its notification
 * ({@link NotificationDelivery.Outcome}); left out when there is none.
 */
record TaskAnswer(@JsonUnwrapped Task task, JsonObject notification) {

  TaskAnswer(Task task) {
    this(task, null);
  }
}
