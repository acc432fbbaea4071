package com.example.dapr.todo;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import io.vertx.core.json.JsonObject;

/**
 * What {@code /tasks} answers: the task's fields, and after a create or a completion what became of its notification,
 * and after a completion of its charge ({@code billing}) ({@link Outcome}); each left out when there is none.
 */
record TaskAnswer(@JsonUnwrapped Task task, JsonObject notification, JsonObject billing) {

  TaskAnswer(Task task) {
    this(task, null, null);
  }

  TaskAnswer(Task task, JsonObject notification) {
    this(task, notification, null);
  }
}
