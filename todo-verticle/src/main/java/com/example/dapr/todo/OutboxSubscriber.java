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
 * when bulk subscribe is off). An event carries a notification, and for a completion its charge too; what of it this
 * process already delivered is not sent again, a phantom (its transaction failed) is dropped, and the rest is sent
 * through service invocation, as the first attempt was, each to its own service behind its own breaker. The event is
 * acknowledged once both are delivered.
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
  private final ChargeDelivery charges;

  OutboxSubscriber(TodoConfig.Notifications config, DaprPubSub pubsub, TaskStore store, NotificationDelivery delivery,
                   ChargeDelivery charges) {
    this.config = config;
    this.pubsub = pubsub;
    this.store = store;
    this.delivery = delivery;
    this.charges = charges;
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
    Charge charge = notification.charge();
    Future<Boolean> notified = delivery.deliveredHere(notification.id());
    Future<Boolean> charged = charge == null ? Future.succeededFuture(true) : charges.chargedHere(charge.chargeId());
    return Future.all(notified, charged).compose(done -> {
      if (notified.result() && charged.result()) {
        LOG.fine(() -> "outbox event for " + notification.id() + ": delivered already by this process");
        return Future.succeededFuture(Status.SUCCESS);
      }
      return deliver(notification, !notified.result(), charged.result() ? null : charge);
    });
  }

  /**
   * Sends what of an event this process has not delivered: the notification when {@code notify}, the charge when there
   * is one. SUCCESS once neither is left to deliver, else RETRY. Never fails.
   */
  private Future<Status> deliver(Notification notification, boolean notify, Charge charge) {
    if (tooOld(notification)) {
      if (notify) {
        delivery.count(Counted.GIVEN_UP);
      }
      if (charge != null) {
        charges.count(ChargeDelivery.Counted.GIVEN_UP);
      }
      LOG.severe(() -> (notify ? "notification " + notification.id() : "") + (notify && charge != null ? " and " : "")
        + (charge != null ? "charge " + charge.chargeId() : "") + " given up: still not delivered "
        + Duration.ofMillis(config.giveUpAfterMs()) + " after " + notification.requestedAt()
        + " (NOTIFY_GIVE_UP_AFTER_MS)");
      return Future.succeededFuture(Status.SUCCESS);
    }
    boolean notifyNow = notify && !delivery.cannotSendNow();
    boolean chargeNow = charge != null && !charges.cannotSendNow();
    if (!notifyNow && !chargeNow) {
      // Every breaker it needs is open: a call would fail at once, so neither read the task nor try it. A backlog of
      // thousands goes round the retry loop without loading the sidecar or the store meanwhile.
      return Future.succeededFuture(retryLater(notify, charge));
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
        Future<Status> notified = !notify ? Future.succeededFuture(Status.SUCCESS)
          : notifyNow ? sendNotification(notification) : Future.succeededFuture(retryLater(true, null));
        Future<Status> charged = charge == null ? Future.succeededFuture(Status.SUCCESS)
          : chargeNow ? sendCharge(charge) : Future.succeededFuture(retryLater(false, charge));
        return Future.all(notified, charged).map(both -> notified.result() == Status.RETRY
          || charged.result() == Status.RETRY ? Status.RETRY : Status.SUCCESS);
      })
      .otherwise(failure -> {
        // The task could not be read (store or sidecar down): Dapr offers the event again.
        LOG.fine(() -> "outbox event for " + notification.id() + " deferred: " + failure.getMessage());
        return retryLater(notify, charge);
      });
  }

  private Status retryLater(boolean notify, Charge charge) {
    if (notify) {
      delivery.count(Counted.OUTBOX_RETRIES);
    }
    if (charge != null) {
      charges.count(ChargeDelivery.Counted.OUTBOX_RETRIES);
    }
    return Status.RETRY;
  }

  private Future<Status> sendNotification(Notification notification) {
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
  }

  private Future<Status> sendCharge(Charge charge) {
    return charges.send(charge, true).map(outcome -> {
      if (outcome.delivered()) {
        LOG.info(() -> "charge " + charge.chargeId() + " delivered from the outbox (replica "
          + outcome.json().getString("replica") + ")");
        return Status.SUCCESS;
      }
      LOG.fine(() -> "outbox event for charge " + charge.chargeId() + ": " + outcome.json().getString("status") + ", "
        + outcome.json().getString("error"));
      return outcome.retryable() ? Status.RETRY : Status.SUCCESS;
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
