package com.example.dapr.e2e;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The outbox's backlog in a system's Redis, as scripts/lib.sh outbox_backlog reads it: the events of Dapr's internal
 * outbox topic and of notifications / notifications-retry that their consumer groups have not yet read and
 * acknowledged (XINFO GROUPS: lag and pending). 0 once every event was handled to the end: delivered, or answered
 * SUCCESS as already delivered, or dropped.
 */
final class Outbox {

  /** Dapr's stream of the internal outbox topic: namespace + app id + outboxPublishTopic + "outbox". */
  private static final List<String> STREAMS = List.of("defaulttodo-apinotificationsoutbox", "notifications",
    "notifications-retry");

  private Outbox() {
  }

  static long backlog(int redisPort) throws Exception {
    long total = 0;
    for (String stream : STREAMS) {
      String previous = "";
      for (String line : RedisCli.run(redisPort, "XINFO", "GROUPS", stream).split("\n")) {
        String value = line.strip();
        if ((previous.equals("pending") || previous.equals("lag")) && value.matches("\\d+")) {
          total += Long.parseLong(value);
        }
        previous = value;
      }
    }
    return total;
  }

  /** Waits until the backlog is 0; fails after {@code limitSeconds}, a limit only an outbox that never drains reaches. */
  static void awaitDrained(Http http, int redisPort, long limitSeconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(limitSeconds);
    long backlog;
    while ((backlog = backlog(redisPort)) > 0) {
      if (System.nanoTime() > deadline) {
        fail("the outbox still holds " + backlog + " events after " + limitSeconds + " s");
      }
      http.vertx().timer(200).await(30, TimeUnit.SECONDS);
    }
  }
}
