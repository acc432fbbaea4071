package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pieces behind the handlers: If-Match parsing, backoff bounds, reading Dapr's error bodies, notifications and how
 * a phantom outbox event is told from a real one, the record of recent deliveries.
 */
class SmallPartsTest {

  @Test
  void ifMatchAcceptsQuotedBareWeakListsAndStar() {
    assertNull(IfMatch.parse(null));
    assertNull(IfMatch.parse(" "));
    assertTrue(IfMatch.parse("*").matches("anything"));
    assertEquals(Set.of("3"), IfMatch.parse("\"3\"").tags());
    assertEquals(Set.of("3"), IfMatch.parse("3").tags());
    assertEquals(Set.of("3", "4"), IfMatch.parse("W/\"3\", \"4\"").tags());
    assertFalse(IfMatch.parse("\"3\"").matches("4"));
    assertFalse(IfMatch.parse("\"3\"").matches(null));
    assertEquals("\"7\"", IfMatch.quote("7"));
  }

  @RepeatedTest(20)
  void retryDelaysStayWithinTheirCeilingNeverZeroAndNoneAfterAFinalFailure() {
    io.vertx.circuitbreaker.RetryPolicy delays = RetryGate.delays(50, 1_000);
    RuntimeException transientFailure = new RuntimeException("timeout");
    for (int retry = 1; retry < 40; retry++) {
      long ceiling = Math.min(1_000, 50L << retry);
      long delay = delays.delay(transientFailure, retry);
      assertTrue(delay >= 1 && delay <= ceiling, "retry " + retry + ": " + delay + " outside [1, " + ceiling + "]");
      assertEquals(0, delays.delay(new RetryGate.Final(transientFailure), retry), "a final failure sends nothing");
    }
  }

  @Test
  void daprErrorBodiesAreRead() {
    SidecarException invoke = SidecarException.fromResponse("invoke notification-service/notify", 500,
      Buffer.buffer("{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: x\"}"));
    assertEquals("ERR_DIRECT_INVOKE", invoke.errorCode());
    assertEquals("invoke notification-service/notify: failed to invoke, id: x", invoke.getMessage());
    assertTrue(invoke.isTransient());
    assertEquals("SIDECAR_ERROR", SidecarErrors.toJson(invoke).getString("error"));
    assertEquals(500, SidecarErrors.toJson(invoke).getInteger("dapr_status"));

    SidecarException app = SidecarException.fromResponse("invoke", 400,
      Buffer.buffer("{\"error\":\"INVALID_FIELD\",\"message\":\"bad\"}"));
    assertEquals("INVALID_FIELD", app.errorCode());
    assertFalse(app.isTransient());
    assertFalse(app.mayPassLater());

    SidecarException html = SidecarException.fromResponse("save", 502, Buffer.buffer("<html>Bad gateway</html>"));
    assertNull(html.errorCode());
    assertEquals("save: <html>Bad gateway</html>", html.getMessage());
    assertEquals("save: HTTP 503", SidecarException.fromResponse("save", 503, Buffer.buffer()).getMessage());
  }

  @Test
  void aNotificationIdNamesTheEventSoEveryPathSendsTheSameId() {
    Task task = new Task("t1", "Buy milk", Task.PENDING, "2026-01-01T00:00:00Z", null, 1);
    Notification created = Notification.created(task);
    assertEquals("t1:created", created.id());
    assertEquals("Todo created: Buy milk", created.message());
    assertEquals(created, Notification.fromJson(created.toJson()));

    Task completed = new Task("t1", "Buy milk", Task.COMPLETED, task.createdAt(), "2026-01-02T00:00:00Z", 2);
    Notification done = Notification.completed(completed, false);
    assertEquals("t1:completed:2026-01-02T00:00:00Z", done.id());
    assertEquals(new io.vertx.core.json.JsonObject().put("message", "Todo completed: Buy milk").put("task_id", "t1")
      .put("notification_id", done.id()), done.invokeBody());
  }

  @Test
  void aCompletionIsAnnouncedIfItWasCommittedAndNotIfItsTransactionWasRefused() {
    Task before = new Task("t1", "Buy milk", Task.PENDING, "2026-01-01T00:00:00Z", null, 3);
    Task completed = new Task("t1", "Buy milk", Task.COMPLETED, before.createdAt(), "2026-01-02T00:00:00Z", 4);
    Notification done = Notification.completed(completed, false);

    assertTrue(done.announces(completed), "stored as saved");
    assertTrue(done.announces(new Task("t1", "Buy milk", Task.PENDING, before.createdAt(), null, 5)),
      "reopened since: the completion was committed before");
    assertFalse(done.announces(before), "still at the version before: the transaction was refused");
    assertFalse(done.announces(new Task("t1", "Other", Task.PENDING, before.createdAt(), null, 4)),
      "another writer's version 4: not this completion");
    assertFalse(done.announces(null), "no task");
    assertTrue(Notification.created(before).announces(before));
    assertFalse(Notification.created(before).announces(null), "a create whose transaction failed");
  }

  @Test
  void malformedOutboxNotificationsAreRefused() {
    io.vertx.core.json.JsonObject good = Notification.created(
      new Task("t1", "x", Task.PENDING, "2026-01-01T00:00:00Z", null, 1)).toJson();
    for (String field : new String[] {"notification_id", "message", "task_id", "requested_at", "event", "version"}) {
      io.vertx.core.json.JsonObject bad = good.copy();
      bad.remove(field);
      org.junit.jupiter.api.Assertions.assertThrows(com.example.dapr.http.ApiException.class,
        () -> Notification.fromJson(bad), field);
    }
  }

  @Test
  void recentDeliveriesForgetTheOldestPastTheirCapacity() {
    RecentDeliveries recent = new RecentDeliveries(2);
    recent.remember("a");
    recent.remember("b");
    recent.remember("c");
    assertFalse(recent.contains("a"));
    assertTrue(recent.contains("b"));
    assertTrue(recent.contains("c"));
    assertEquals(2, recent.size());
    RecentDeliveries none = new RecentDeliveries(0);
    none.remember("a");
    assertFalse(none.contains("a"));
  }
}
