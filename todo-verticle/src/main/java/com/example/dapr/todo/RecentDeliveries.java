package com.example.dapr.todo;

import io.vertx.core.Future;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ids of the notifications this process delivered, newest kept, oldest forgotten past {@code capacity}, and of
 * those it is sending right now, each with the attempt's future (true when it delivered). The outbox offers every
 * notification a second time about a second later; one found here is acknowledged, or waits for the attempt under
 * way, instead of being sent a second time beside it (docs/durability.md: why a second send beside the first makes a
 * load worse). One that is in neither (todo-api
 * restarted, or another todo-api delivered it) is sent again, and notification-service answers it from its own record
 * without delivering it twice. Used from todo-api's one event loop only.
 */
final class RecentDeliveries {

  private final Map<String, Boolean> delivered;
  private final Map<String, Future<Boolean>> sending = new HashMap<>();

  RecentDeliveries(int capacity) {
    this.delivered = new LinkedHashMap<>(Math.min(capacity, 4_096), 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
        return size() > capacity;
      }
    };
  }

  void remember(String notificationId) {
    delivered.put(notificationId, Boolean.TRUE);
  }

  /** Notes that {@code notificationId} is being sent until {@code attempt} completes. */
  void sending(String notificationId, Future<Boolean> attempt) {
    if (attempt.isComplete()) {
      return;
    }
    sending.put(notificationId, attempt);
    attempt.onComplete(done -> sending.remove(notificationId, attempt));
  }

  /** How many attempts are under way now (read by the metrics scrape from another thread: approximate). */
  int sendingNow() {
    return sending.size();
  }

  /** The attempt sending {@code notificationId} now, or null when there is none. */
  Future<Boolean> inFlight(String notificationId) {
    return sending.get(notificationId);
  }

  boolean contains(String notificationId) {
    return delivered.containsKey(notificationId);
  }

  int size() {
    return delivered.size();
  }
}
