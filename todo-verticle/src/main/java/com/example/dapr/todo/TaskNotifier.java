package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.logging.Logger;

/**
 * Sends a notification to notification-service through the sidecar and says what became of it. It is the fast path
 * only: every notification was saved with its task in Dapr's outbox before this runs, so one that this attempt does
 * not deliver is delivered by {@link OutboxSubscriber} when the outbox publishes it.
 */
final class TaskNotifier {

  private static final Logger LOG = Logger.getLogger(TaskNotifier.class.getName());

  /** notification-service's answer while another replica is delivering the same notification: send it again later. */
  static final String IN_PROGRESS = "NOTIFICATION_IN_PROGRESS";

  private final SidecarClient sidecar;
  private final RecentDeliveries recent;
  private final NotificationStats stats;

  TaskNotifier(SidecarClient sidecar, RecentDeliveries recent, NotificationStats stats) {
    this.sidecar = sidecar;
    this.recent = recent;
    this.stats = stats;
  }

  /** What became of one attempt: the answer for the client, and whether a later attempt may still deliver it. */
  record Outcome(JsonObject json, boolean delivered, boolean retryable) {
  }

  /**
   * Sends {@code notification} once. Never fails: the outcome says {@code {"status": "delivered", "replica": ...}}, or
   * {@code {"status": "pending", ...}} (the outbox will deliver it) or {@code {"status": "failed", ...}} (refused
   * for good, with a 4xx), the last two with the error and Dapr's error code. {@code viaOutbox} says which path this
   * is, for the counts.
   */
  Future<Outcome> send(Notification notification, boolean viaOutbox) {
    Future<Outcome> outcome = attempt(notification, viaOutbox);
    recent.sending(notification.id(), outcome);
    return outcome;
  }

  private Future<Outcome> attempt(Notification notification, boolean viaOutbox) {
    return sidecar.invokeNotification(notification.invokeBody())
      .compose(answer -> "delivered".equals(answer.getString("status")) ? Future.succeededFuture(answer)
        // daprd 1.18.3 answered 200 with an empty body for an invocation whose replica was SIGKILLed in mid-request
        // (seen in the fault suite): only notification-service's own answer says that it was delivered.
        : Future.failedFuture(new SidecarException(SidecarException.Kind.ERROR_RESPONSE, "invoke notify", 200, null,
          "invoke notify: the answer is not notification-service's (" + abbreviate(answer.encode()) + ")", null)))
      .map(answer -> {
        String replica = answer.getString("replica");
        recent.remember(notification.id(), replica);
        stats.delivered(viaOutbox);
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

  private static String abbreviate(String text) {
    return text.length() <= 200 ? text : text.substring(0, 200) + "...";
  }

  /** Whether notification-service's breaker is open, so that a notification sent now would fail at once. */
  boolean cannotSendNow() {
    return sidecar.invokeBreakerState() == io.vertx.circuitbreaker.CircuitBreakerState.OPEN;
  }

  private Outcome undelivered(Notification notification, Throwable failure) {
    SidecarException error = failure instanceof SidecarException e ? e
      : new SidecarException(SidecarException.Kind.UNREACHABLE, "notify", 0, null, String.valueOf(failure), failure);
    JsonObject json = SidecarErrors.toJson(error).put("notification_id", notification.id());
    if (error.mayPassLater() || IN_PROGRESS.equals(error.errorCode())) {
      LOG.fine(() -> "notification " + notification.id() + " not delivered yet (" + error.getMessage()
        + "); the outbox will deliver it");
      stats.leftToOutbox();
      return new Outcome(json.put("status", "pending").put("redelivery", "outbox"), false, true);
    }
    LOG.warning(() -> "notification " + notification.id() + " refused by notification-service: " + error.getMessage());
    return new Outcome(json.put("status", "failed"), false, false);
  }
}
