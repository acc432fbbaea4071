package com.example.dapr.todo;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pieces behind the handlers: If-Match parsing, backoff bounds, reading Dapr's error bodies. */
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
  void backoffStaysWithinItsCeilingAndNeverZero() {
    Backoff backoff = new Backoff(50, 1_000);
    for (int attempt = 0; attempt < 40; attempt++) {
      long ceiling = Math.min(1_000, 50L << Math.min(attempt, 30));
      long delay = backoff.delayMs(attempt);
      assertTrue(delay >= 1 && delay <= ceiling, "attempt " + attempt + ": " + delay + " outside [1, " + ceiling + "]");
    }
  }

  @Test
  void daprErrorBodiesAreRead() {
    SidecarException invoke = SidecarException.fromResponse("invoke notification-service/notify", 500,
      Buffer.buffer("{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: x\"}"));
    assertEquals("ERR_DIRECT_INVOKE", invoke.errorCode());
    assertEquals("invoke notification-service/notify: failed to invoke, id: x", invoke.getMessage());
    assertTrue(invoke.isTransient());
    assertEquals("SIDECAR_ERROR", invoke.toJson().getString("error"));
    assertEquals(500, invoke.toJson().getInteger("dapr_status"));

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
}
