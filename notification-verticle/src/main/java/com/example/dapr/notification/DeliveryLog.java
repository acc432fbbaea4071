package com.example.dapr.notification;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.Shareable;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What this replica has delivered: a count and the most recent notifications, shared by every verticle instance of
 * the process so that a load test or an operator can ask one replica what reached it.
 */
final class DeliveryLog implements Shareable {

  private final int capacity;
  private final Deque<JsonObject> recent;
  private long delivered;

  DeliveryLog(int capacity) {
    this.capacity = capacity;
    this.recent = new ArrayDeque<>(Math.min(capacity, 1024));
  }

  synchronized void record(String message, String taskId, String notificationId) {
    delivered++;
    if (capacity == 0) {
      return;
    }
    if (recent.size() == capacity) {
      recent.removeFirst();
    }
    recent.addLast(new JsonObject()
      .put("message", message)
      .put("task_id", taskId)
      .put("notification_id", notificationId)
      .put("received_at", Instant.now().toString()));
  }

  /**
   * The count and the recent notifications, newest last; only those of {@code taskId} and of {@code notificationId}
   * when they are not null.
   */
  synchronized JsonObject snapshot(String taskId, String notificationId) {
    JsonArray items = new JsonArray();
    for (JsonObject item : recent) {
      if ((taskId == null || taskId.equals(item.getString("task_id")))
        && (notificationId == null || notificationId.equals(item.getString("notification_id")))) {
        items.add(item.copy());
      }
    }
    return new JsonObject().put("delivered", delivered).put("recent", items);
  }
}
