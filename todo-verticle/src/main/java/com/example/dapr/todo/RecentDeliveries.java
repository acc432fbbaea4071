package com.example.dapr.todo;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ids of the notifications this process delivered on the first attempt, newest kept, oldest forgotten past
 * {@code capacity}. The outbox delivers every notification a second time about a second later; one found here is
 * acknowledged without calling notification-service again. One that is not (todo-api restarted, or another replica
 * delivered it) is sent again, and notification-service answers it from its own record without delivering it twice.
 * Used from todo-api's one event loop only.
 */
final class RecentDeliveries {

  private final Map<String, String> replicaById;

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

  boolean contains(String notificationId) {
    return replicaById.containsKey(notificationId);
  }

  int size() {
    return replicaById.size();
  }
}
