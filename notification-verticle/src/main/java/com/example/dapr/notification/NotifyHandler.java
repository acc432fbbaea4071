package com.example.dapr.notification;

import com.example.dapr.http.JsonRequests;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.logging.Logger;

/** {@code POST /notify}: validates a notification, records it, and answers that it was delivered by this replica. */
final class NotifyHandler {

  static final int MAX_MESSAGE_LENGTH = 2_000;
  static final int MAX_TASK_ID_LENGTH = 200;
  private static final Logger LOG = Logger.getLogger(NotifyHandler.class.getName());

  private final String replica;
  private final DeliveryLog deliveries;

  NotifyHandler(String replica, DeliveryLog deliveries) {
    this.replica = replica;
    this.deliveries = deliveries;
  }

  void notify(RoutingContext ctx) {
    JsonObject body = JsonRequests.object(ctx);
    String message = JsonRequests.requiredString(body, "message", MAX_MESSAGE_LENGTH);
    String taskId = JsonRequests.optionalString(body, "task_id", MAX_TASK_ID_LENGTH);

    // The seed's log line, so that `grep "Notification received"` works the same on both implementations.
    LOG.info(() -> "Notification received: " + message + " (task_id=" + taskId + ", replica=" + replica + ")");
    deliveries.record(message, taskId);
    // In production this is where an e-mail, push notification or chat message would be sent.

    ctx.response()
      .putHeader("Content-Type", "application/json")
      .putHeader("X-Replica", replica)
      .end(new JsonObject()
        .put("status", "delivered")
        .put("message", message)
        .put("task_id", taskId)
        .put("replica", replica)
        .encode());
  }

  /** {@code GET /notifications[?task_id=...]}: what this replica received, for operators and load tests. */
  void list(RoutingContext ctx) {
    String taskId = ctx.request().getParam("task_id");
    ctx.response()
      .putHeader("Content-Type", "application/json")
      .end(deliveries.snapshot(taskId).put("replica", replica).encode());
  }
}
