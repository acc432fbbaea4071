package com.example.dapr.todo;

import com.example.dapr.client.DaprPubSub;
import com.example.dapr.client.DaprPubSub.Status;
import com.example.dapr.todo.NotificationDelivery.Counted;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * Delivers what the outbox publishes. Dapr's transactional outbox publishes every notification saved with a task, about
 * a second after its transaction, to the {@code notifications} topic; todo-api subscribes ({@code GET /dapr/subscribe})
 * with Dapr's bulk subscribe, so Dapr posts up to 500 events at a time to {@value #ROUTE} (one CloudEvent at a time
 * when bulk subscribe is off). An event whose notification this process already delivered is acknowledged; a phantom
 * (its transaction failed) is dropped; any other is sent through service invocation, as the first attempt was.
 * <p>
 * The answer is Dapr's {@code {"status": "SUCCESS"}} or {@code {"status": "RETRY"}}, never {@code DROP}: Dapr's
 * Resiliency policy on the pub/sub component retries a RETRY a few times, then publishes it to the dead-letter topic
 * {@code notifications-retry}, which this subscribes to as well and which is its own dead-letter topic. So a
 * notification whose replicas are down for hours goes round that loop, stored in Redis all along, until it is
 * delivered or older than {@code NOTIFY_GIVE_UP_AFTER_MS}. (A DROP would go to the dead-letter topic too, and loop.)
 */
final class OutboxSubscriber {

  static final String ROUTE = "/outbox/notifications";
  static final int MAX_BULK_EVENTS = 500;
  /** The largest bulk accepted: 500 events of up to 16 kB (a notification's message is at most a few kB). */
  static final int MAX_BULK_BYTES = 8 * 1024 * 1024;
  private static final Logger LOG = Logger.getLogger(OutboxSubscriber.class.getName());

  private final TodoConfig.Notifications config;
  private final DaprPubSub pubsub;
  private final TaskStore store;
  private final NotificationDelivery delivery;

  OutboxSubscriber(TodoConfig.Notifications config, DaprPubSub pubsub, TaskStore store, NotificationDelivery delivery) {
    this.config = config;
    this.pubsub = pubsub;
    this.store = store;
    this.delivery = delivery;
  }

  /** {@code GET /dapr/subscribe}: the topic and its dead-letter topic, both to {@value #ROUTE}. */
  void subscriptions(RoutingContext ctx) {
    JsonArray subscriptions = new JsonArray()
      .add(subscription(config.topic()))
      .add(subscription(config.retryTopic()));
    ctx.response().putHeader("Content-Type", "application/json").end(subscriptions.encode());
  }

  private JsonObject subscription(String topic) {
    // Bulk: one call for up to 500 events; an event waits at most 100 ms for others to fill a batch. Dapr delivers
    // one bulk of a topic at a time, and while notification-service is down each bulk waits out its retries, so a
    // large bulk is what lets a backlog drain fast once it is back.
    return pubsub.subscription(topic, ROUTE, config.retryTopic(), MAX_BULK_EVENTS, 100);
  }

  /**
   * {@code POST /outbox/notifications}: a bulk of events from Dapr ({@code {"entries": [{"entryId", "event"}]}},
   * answered {@code {"statuses": [{"entryId", "status"}]}}), or one CloudEvent, answered {@code {"status"}}.
   */
  void receive(RoutingContext ctx) {
    JsonObject body;
    try {
      body = ctx.body().asJsonObject();
    } catch (RuntimeException notJson) {
      body = null;
    }
    JsonArray entries = body == null ? null : body.getJsonArray("entries");
    if (entries == null) {
      handle(body).onSuccess(status -> answer(ctx, DaprPubSub.answer(status)));
      return;
    }
    List<Future<JsonObject>> statuses = new ArrayList<>(entries.size());
    for (int i = 0; i < entries.size(); i++) {
      JsonObject entry = entries.getJsonObject(i);
      statuses.add(handle(entry.getJsonObject("event")).map(status -> DaprPubSub.bulkEntry(entry.getString("entryId"),
        status)));
    }
    Future.join(statuses).onComplete(done -> answer(ctx, new JsonObject().put("statuses",
      new JsonArray(statuses.stream().map(Future::result).toList()))));
  }

  /** What to answer for one event: SUCCESS or RETRY. Never fails. */
  private Future<Status> handle(JsonObject event) {
    if (OutboxCheck.isCheckEvent(event)) {
      LOG.info(() -> "outbox self-check event " + event.getString("id") + " acknowledged and dropped: "
        + event.getString("data"));
      return Future.succeededFuture(Status.SUCCESS);
    }
    Notification notification;
    try {
      notification = Notification.fromJson(data(event));
    } catch (RuntimeException malformed) {
      delivery.count(Counted.GIVEN_UP);
      LOG.severe(() -> "discarding an outbox event that is not a notification: " + malformed.getMessage());
      return Future.succeededFuture(Status.SUCCESS);
    }
    return delivery.deliveredHere(notification.id()).compose(delivered -> {
      if (delivered) {
        LOG.fine(() -> "outbox event for " + notification.id() + ": delivered already by this process");
        return Future.succeededFuture(Status.SUCCESS);
      }
      return deliver(notification);
    });
  }

  /** Sends a notification the outbox published and this process has not delivered: SUCCESS or RETRY. Never fails. */
  private Future<Status> deliver(Notification notification) {
    if (tooOld(notification)) {
      delivery.count(Counted.GIVEN_UP);
      LOG.severe(() -> "notification " + notification.id() + " given up: still not delivered "
        + Duration.ofMillis(config.giveUpAfterMs()) + " after " + notification.requestedAt()
        + " (NOTIFY_GIVE_UP_AFTER_MS)");
      return Future.succeededFuture(Status.SUCCESS);
    }
    if (delivery.cannotSendNow()) {
      // notification-service's breaker is open: a call would fail at once, so neither read the task nor try it. A
      // backlog of thousands goes round the retry loop without loading the sidecar or the store meanwhile.
      delivery.count(Counted.OUTBOX_RETRIES);
      return Future.succeededFuture(Status.RETRY);
    }
    return store.read(notification.taskId())
      .compose(entry -> {
        Task stored = entry == null ? null : Task.fromStored(Task.stateKey(notification.taskId()), entry.value());
        if (!notification.announces(stored)) {
          delivery.count(Counted.OUTBOX_PHANTOMS);
          LOG.warning(() -> "outbox event for notification " + notification.id() + " dropped: the task is not "
            + "stored as it announces (its transaction failed after Dapr published it)");
          return Future.succeededFuture(Status.SUCCESS);
        }
        return delivery.send(notification, true).map(outcome -> {
          if (outcome.delivered()) {
            LOG.info(() -> "notification " + notification.id() + " delivered from the outbox (replica "
              + outcome.json().getString("replica") + ")");
            return Status.SUCCESS;
          }
          if (outcome.retryable()) {
            delivery.count(Counted.OUTBOX_RETRIES);
            LOG.fine(() -> "outbox event for " + notification.id() + ": RETRY, " + outcome.json().getString("error"));
            return Status.RETRY;
          }
          delivery.count(Counted.GIVEN_UP);
          return Status.SUCCESS;
        });
      })
      .otherwise(failure -> {
        // The task could not be read (store or sidecar down): Dapr offers the event again.
        delivery.count(Counted.OUTBOX_RETRIES);
        LOG.fine(() -> "outbox event for " + notification.id() + " deferred: " + failure.getMessage());
        return Status.RETRY;
      });
  }

  /** The event's {@code data}: a JSON object (the projection's content type), or JSON text from another publisher. */
  private static JsonObject data(JsonObject event) {
    Object data = event == null ? null : event.getValue("data");
    if (data instanceof JsonObject object) {
      return object;
    }
    if (data instanceof String text) {
      return new JsonObject(text);
    }
    throw new IllegalArgumentException("the CloudEvent has no JSON data");
  }

  private boolean tooOld(Notification notification) {
    try {
      return Instant.parse(notification.requestedAt()).plusMillis(config.giveUpAfterMs()).isBefore(Instant.now());
    } catch (DateTimeParseException unreadable) {
      return false;
    }
  }

  private static void answer(RoutingContext ctx, JsonObject answer) {
    ctx.response().putHeader("Content-Type", "application/json").end(answer.toBuffer());
  }
}
