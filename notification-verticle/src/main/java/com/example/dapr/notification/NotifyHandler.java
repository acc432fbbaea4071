package com.example.dapr.notification;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.example.dapr.http.JsonErrors;
import com.example.dapr.http.JsonRequests;
import com.example.dapr.http.Observability;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.time.Instant;
import java.util.Map;
import java.util.logging.Logger;

/**
 * {@code POST /notify}: validates a notification, delivers it once, and answers that it was delivered by this replica.
 * A notification with a {@code notification_id} is delivered once across every replica ({@link DeliveryRecords}): a
 * repeat is answered with the first delivery's answer, marked {@code "duplicate": true}.
 */
final class NotifyHandler {

  static final int MAX_MESSAGE_LENGTH = 2_000;
  static final int MAX_ID_LENGTH = 200;
  private static final Logger LOG = Logger.getLogger(NotifyHandler.class.getName());

  private final Vertx vertx;
  private final String replica;
  private final DeliveryLog deliveries;
  private final DeliveryRecords records;
  private final Faults faults;
  private final Counter delivered;

  /** {@code records} is null when deduplication is off ({@code DEDUP_STORE_NAME=none}). */
  NotifyHandler(Vertx vertx, String replica, DeliveryLog deliveries, DeliveryRecords records, Faults faults) {
    this.vertx = vertx;
    this.replica = replica;
    this.deliveries = deliveries;
    this.records = records;
    this.faults = faults;
    this.delivered = Counter.builder("notifications_delivered")
      .description("Notifications this replica delivered (a repeat answered from its record is not counted)")
      .tag("replica", replica).register(Observability.registry());
  }

  void notify(RoutingContext ctx) {
    NotifyRequest body = JsonBinding.read(ctx, NotifyRequest.class);
    String message = body.message();
    String taskId = body.taskId();
    String notificationId = body.notificationId();
    if (taskId != null) {
      Observability.tagTask(taskId);
    }
    long delayMs = faults.delayMs();
    Future<Void> delayed = delayMs > 0 ? vertx.timer(delayMs).mapEmpty() : Future.succeededFuture();
    delayed.compose(v -> {
        if (notificationId == null || records == null) {
          deliver(message, taskId, notificationId);
          return Future.succeededFuture(answer(message, taskId, notificationId));
        }
        return deliverOnce(message, taskId, notificationId);
      })
      .onSuccess(answer -> ctx.response()
        .putHeader("Content-Type", "application/json")
        .putHeader("X-Replica", answer.getString("replica", replica))
        .end(answer.encode()))
      .onFailure(failure -> JsonErrors.send(ctx, failure instanceof ApiException api ? api
        : new ApiException(503, "DEDUP_STORE_UNAVAILABLE", "cannot check whether notification " + notificationId
        + " was delivered before: " + failure.getMessage(), null, Map.of("Retry-After", "1"), failure)));
  }

  private Future<JsonObject> deliverOnce(String message, String taskId, String notificationId) {
    return records.claim(notificationId).compose(claim -> {
      if (claim instanceof DeliveryRecords.AlreadyDelivered repeat) {
        LOG.info(() -> "Notification " + notificationId + " received again: answered from its delivery by replica "
          + repeat.answer().getString("replica") + ", not delivered twice");
        return Future.succeededFuture(repeat.answer().copy().put("duplicate", true));
      }
      if (claim instanceof DeliveryRecords.InProgress other) {
        return Future.failedFuture(new ApiException(409, "NOTIFICATION_IN_PROGRESS", "notification " + notificationId
          + " is being delivered by " + other.replica() + "; send it again shortly", null,
          Map.of("Retry-After", "1"), null));
      }
      deliver(message, taskId, notificationId);
      JsonObject answer = answer(message, taskId, notificationId);
      // The answer is recorded in the background, batched with others (DEDUP_RECORD_LINGER_MS): the sender need not
      // wait for it. A repeat meanwhile finds the claim and is told to come back. A record that fails is tried again
      // (DeliveryRecords.delivered); only if it still fails after three claim timeouts, a repeat after CLAIM_TIMEOUT_MS
      // may have delivered again.
      records.delivered(notificationId, answer).onFailure(failure -> LOG.warning(() -> "notification "
        + notificationId + " delivered, but its answer could not be recorded: " + failure.getMessage()));
      return Future.succeededFuture(answer);
    });
  }

  /** The delivery itself: the seed's log line and this replica's count. */
  private void deliver(String message, String taskId, String notificationId) {
    // The seed's log line, so that `grep "Notification received"` works the same on both implementations.
    LOG.info(() -> "Notification received: " + message + " (task_id=" + taskId
      + (notificationId == null ? "" : ", notification_id=" + notificationId) + ", replica=" + replica + ")");
    deliveries.record(message, taskId, notificationId);
    delivered.increment();
    // In production this is where an e-mail, push notification or chat message would be sent.
  }

  /** The answer, as a JsonObject: it is also what {@link DeliveryRecords} keeps and answers a repeat with. */
  private JsonObject answer(String message, String taskId, String notificationId) {
    return JsonBinding.toJsonObject(new NotifyAnswer("delivered", message, taskId, replica, notificationId,
      notificationId == null ? null : Instant.now().toString()));
  }

  /**
   * A {@code POST /notify} body. The message is text shown to people, so it may hold no control character or
   * bidirectional override ({@link JsonRequests#requiredText}); the ids are at most {@value #MAX_ID_LENGTH} characters.
   * Other fields are ignored, as the seed's {@code /notify} ignores them: callers written against the seed send more.
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  record NotifyRequest(String message, String taskId, String notificationId)
    implements JsonBinding.Checked<NotifyRequest> {
    @Override
    public NotifyRequest checked() {
      return new NotifyRequest(JsonRequests.requiredText("message", message, MAX_MESSAGE_LENGTH),
        JsonRequests.optionalString("task_id", taskId, MAX_ID_LENGTH),
        JsonRequests.optionalString("notification_id", notificationId, MAX_ID_LENGTH));
    }
  }

  /** The answer to a delivery: {@code task_id} is always there (null when none was sent), as the seed's is. */
  record NotifyAnswer(String status, String message, @JsonInclude(JsonInclude.Include.ALWAYS) String taskId,
                      String replica, String notificationId, String deliveredAt) {
  }

  /** {@code GET /notifications[?task_id=...][&notification_id=...]}: what this replica received. */
  void list(RoutingContext ctx) {
    String taskId = ctx.request().getParam("task_id");
    String notificationId = ctx.request().getParam("notification_id");
    ctx.response()
      .putHeader("Content-Type", "application/json")
      .end(deliveries.snapshot(taskId, notificationId).put("replica", replica).encode());
  }
}
