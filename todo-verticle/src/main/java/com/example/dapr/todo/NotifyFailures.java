package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Which failures of invoking notification-service count against its breaker: failures of the service as a whole, not
 * of one replica going away. Not one that Dapr says never reached a replica ({@link SidecarException#neverReachedApp}).
 * And the calls a replica had in flight when it died, which all fail at once with the same app address ({@link
 * SidecarException#appChannelAddress}), count as one failure per address within the breaker's window: on a busy
 * machine, five such answers within 40 ms of one replica's SIGKILL opened the breaker for the healthy replicas too.
 * In Kubernetes each replica's sidecar names its app 127.0.0.1:&lt;port&gt;, so there they count once together.
 */
final class NotifyFailures implements Predicate<Throwable> {

  private final long windowMs;
  private final LongSupplier clock;
  private final Map<String, Long> countedAt = new HashMap<>();

  NotifyFailures(long windowMs, LongSupplier clock) {
    this.windowMs = windowMs;
    this.clock = clock;
  }

  @Override
  public synchronized boolean test(Throwable failure) {
    if (!(failure instanceof SidecarException e)) {
      return true;
    }
    if (e.neverReachedApp()) {
      return false;
    }
    String address = e.appChannelAddress();
    if (address == null) {
      return true;
    }
    long now = clock.getAsLong();
    countedAt.values().removeIf(at -> now - at >= windowMs);
    return countedAt.putIfAbsent(address, now) == null;
  }
}
