package com.example.dapr.todo;

import io.vertx.core.Future;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ids of the notifications this process delivered on the first attempt, newest kept, oldest forgotten past
 * {@code capacity}, and of those it is sending right now. The outbox delivers every notification a second time about
 * a second later; one found delivered here is acknowledged without calling notification-service again, and one still
 * being sent waits for that attempt instead of sending it a second time beside it (under load a first attempt can
 * take longer than the outbox's second: two sends of one notification then cost twice, notification-service answers
 * the later one NOTIFICATION_IN_PROGRESS, and the outbox retries it, which made the load worse). One that is in
 * neither (todo-api restarted, or another replica delivered it) is sent again, and notification-service answers it
 * from its own record without delivering it twice. Used from todo-api's one event loop only.
 */
final class RecentDeliveries {

  private final Map<String, String> replicaById;
  private final Map<String, Future<TaskNotifier.Outcome>> sending = new HashMap<>();

  RecentDeliveries(int capacity) {
    this.replicaById = new LinkedHashMap<>(Math.min(capacity, 4_096), 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
        return size() > capacity;
      }
    };
  }

  void remember(String notificationId, String replica) {
    replicaById.put(notificationId, replica == null ? "" : replica);
  }

  /** Notes that {@code notificationId} is being sent until {@code outcome} completes. */
  void sending(String notificationId, Future<TaskNotifier.Outcome> outcome) {
    if (outcome.isComplete()) {
      return;
    }
    sending.put(notificationId, outcome);
    outcome.onComplete(done -> sending.remove(notificationId, outcome));
  }

  /** How many first attempts are under way now (read by the metrics scrape from another thread: approximate). */
  int sendingNow() {
    return sending.size();
  }

  /** The attempt sending {@code notificationId} now, or null when there is none. */
  Future<TaskNotifier.Outcome> inFlight(String notificationId) {
    return sending.get(notificationId);
  }

  boolean contains(String notificationId) {
    return replicaById.containsKey(notificationId);
  }

  int size() {
    return replicaById.size();
  }
}
