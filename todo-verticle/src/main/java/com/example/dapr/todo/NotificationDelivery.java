package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.logging.Logger;

/**
 * Sends notifications to notification-service through the sidecar, and owns what became of them in this process:
 * which it delivered ({@link RecentDeliveries}), which it is sending now, and the counts by outcome, which readiness
 * reports and Micrometer reads ({@code todo_notifications_total{outcome}}, {@code todo_notifications_in_flight}: bind
 * it with {@link #bindTo}). Every notification was saved with its task in Dapr's outbox before it is sent here, so one
 * that an attempt does not deliver is delivered later from its outbox event ({@link OutboxSubscriber}).
 */
final class NotificationDelivery implements MeterBinder {

  private static final Logger LOG = Logger.getLogger(NotificationDelivery.class.getName());

  /** notification-service's answer while another replica is delivering the same notification: send it again later. */
  static final String IN_PROGRESS = "NOTIFICATION_IN_PROGRESS";

  /** What became of a notification, as counted; the label is the {@code outcome} tag and the readiness field. */
  enum Counted {
    DELIVERED_FIRST_ATTEMPT,
    DELIVERED_BY_OUTBOX,
    /** A first attempt that did not deliver its notification (yet): the outbox will. */
    LEFT_TO_OUTBOX,
    /** An outbox event answered RETRY: Dapr will offer it again. */
    OUTBOX_RETRIES,
    /** An outbox event for a notification this process had delivered already: acknowledged, not sent again. */
    OUTBOX_ALREADY_DELIVERED,
    /** An outbox event that came while its first attempt was under way, and waited for it. */
    OUTBOX_WAITED_FOR_FIRST_ATTEMPT,
    /** An outbox event whose task is not stored as announced: its transaction failed after Dapr published it. */
    OUTBOX_PHANTOMS,
    GIVEN_UP
  }

  private final SidecarClient sidecar;
  private final RecentDeliveries recent;
  private final OutcomeCounts<Counted> counts = new OutcomeCounts<>(Counted.class);

  NotificationDelivery(SidecarClient sidecar, int rememberDelivered) {
    this.sidecar = sidecar;
    this.recent = new RecentDeliveries(rememberDelivered);
  }

  /**
   * Sends {@code notification} once. Never fails: the outcome says {@code {"status": "delivered", "replica": ...}}, or
   * {@code {"status": "pending", ...}} (the outbox will deliver it) or {@code {"status": "failed", ...}} (refused
   * for good, with a 4xx), the last two with the error and Dapr's error code. {@code fromOutbox} says which path this
   * is, for the counts.
   */
  Future<Outcome> send(Notification notification, boolean fromOutbox) {
    Future<Outcome> outcome = attempt(notification, fromOutbox);
    recent.sending(notification.id(), outcome.map(Outcome::delivered));
    return outcome;
  }

  /**
   * Whether this process delivered {@code notificationId}: at once when it remembers it; after the attempt under way,
   * when there is one (slower than the outbox's second, so it is not sent twice side by side); else false.
   */
  Future<Boolean> deliveredHere(String notificationId) {
    if (recent.contains(notificationId)) {
      count(Counted.OUTBOX_ALREADY_DELIVERED);
      return Future.succeededFuture(true);
    }
    Future<Boolean> inFlight = recent.inFlight(notificationId);
    if (inFlight == null) {
      return Future.succeededFuture(false);
    }
    count(Counted.OUTBOX_WAITED_FOR_FIRST_ATTEMPT);
    return inFlight.map(delivered -> {
      if (delivered) {
        count(Counted.OUTBOX_ALREADY_DELIVERED);
      }
      return delivered;
    });
  }

  /** Whether notification-service's breaker is open, so that a notification sent now would fail at once. */
  boolean cannotSendNow() {
    return sidecar.invokeBreakerState() == CircuitBreakerState.OPEN;
  }

  void count(Counted counted) {
    counts.count(counted);
  }

  /** The counts by outcome, for readiness. */
  JsonObject toJson() {
    return counts.toJson();
  }

  /**
   * {@code todo_notifications_total{outcome}}: summed over todo-api's pods, left_to_outbox minus delivered_by_outbox
   * minus given_up is what the outbox still holds; {@code todo_notifications_in_flight}: first attempts under way.
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    counts.bindTo(registry, "todo_notifications", "What became of notifications in this process, by outcome");
    Gauge.builder("todo_notifications_in_flight", recent, RecentDeliveries::sendingNow)
      .description("First attempts to deliver a notification under way now").strongReference(true).register(registry);
  }

  private Future<Outcome> attempt(Notification notification, boolean fromOutbox) {
    return sidecar.invokeNotification(notification.invokeBody())
      .compose(answer -> "delivered".equals(answer.getString("status")) ? Future.succeededFuture(answer)
        // daprd 1.18.3 answered 200 with an empty body for an invocation whose replica was SIGKILLed in mid-request
        // (seen in the fault suite): only notification-service's own answer says that it was delivered.
        : Future.failedFuture(new SidecarException(SidecarException.Kind.ERROR_RESPONSE, "invoke notify", 200, null,
          "invoke notify: the answer is not notification-service's (" + abbreviate(answer.encode()) + ")", null)))
      .map(answer -> {
        String replica = answer.getString("replica");
        recent.remember(notification.id());
        count(fromOutbox ? Counted.DELIVERED_BY_OUTBOX : Counted.DELIVERED_FIRST_ATTEMPT);
        LOG.fine(() -> "notification " + notification.id() + " delivered by " + replica + " (answer " + answer.encode()
          + ")");
        JsonObject json = new JsonObject().put("status", "delivered").put("notification_id", notification.id());
        if (replica != null) {
          json.put("replica", replica);
        }
        return new Outcome(json, true, false);
      })
      .recover(failure -> Future.succeededFuture(undelivered(notification, failure)));
  }

  private Outcome undelivered(Notification notification, Throwable failure) {
    SidecarException error = failure instanceof SidecarException e ? e
      : new SidecarException(SidecarException.Kind.UNREACHABLE, "notify", 0, null, String.valueOf(failure), failure);
    JsonObject json = SidecarErrors.toJson(error).put("notification_id", notification.id());
    if (error.mayPassLater() || IN_PROGRESS.equals(error.errorCode())) {
      LOG.fine(() -> "notification " + notification.id() + " not delivered yet (" + error.getMessage()
        + "); the outbox will deliver it");
      count(Counted.LEFT_TO_OUTBOX);
      return new Outcome(json.put("status", "pending").put("redelivery", "outbox"), false, true);
    }
    LOG.warning(() -> "notification " + notification.id() + " refused by notification-service: " + error.getMessage());
    return new Outcome(json.put("status", "failed"), false, false);
  }

  private static String abbreviate(String text) {
    return text.length() <= 200 ? text : text.substring(0, 200) + "...";
  }
}
