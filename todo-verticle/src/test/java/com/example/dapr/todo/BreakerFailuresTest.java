package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BreakerFailures} on a clock of its own: the rate-limited lines, the counts by cause, the opening's why. */
class BreakerFailuresTest {

  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final List<String> metrics = new ArrayList<>();
  private final Logger logger = Logger.getLogger(BreakerFailures.class.getName());
  private final Handler handler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      lines.add(record.getMessage());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };
  private long now = 1_000_000;

  @BeforeEach
  void listen() {
    logger.addHandler(handler);
  }

  @AfterEach
  void stop() {
    logger.removeHandler(handler);
  }

  private BreakerFailures failures() {
    return new BreakerFailures("state store statestore", 10_000, 1_000, 1_000, () -> now,
      (breaker, cause) -> metrics.add(breaker + " " + cause));
  }

  @Test
  void oneLinePerSecondSaysHowManyWereNotLoggedAndEveryFailureIsCounted() {
    BreakerFailures failures = failures();
    failures.counted("timeout", "save state task-1: no answer from the sidecar within 2000 ms");
    for (int i = 0; i < 9; i++) {
      now += 100;
      failures.counted(i % 3 == 0 ? "ERR_STATE_SAVE" : "timeout", "call " + i);
    }
    assertEquals(List.of("circuit breaker 'state store statestore' counts a failure (timeout): save state task-1: "
      + "no answer from the sidecar within 2000 ms"), lines);

    now += 100; // a second after the first line
    failures.counted("connection_refused", "get state task-2: cannot connect");
    assertEquals("circuit breaker 'state store statestore' counts a failure (connection_refused): get state task-2: "
      + "cannot connect; 9 more since the last line {ERR_STATE_SAVE=3, timeout=6}", lines.get(1));
    assertEquals(11, metrics.size(), "every failure counted, logged or not");
    assertEquals(7, metrics.stream().filter("state store statestore timeout"::equals).count());
  }

  @Test
  void theOpenLineAndWhyNameTheFailuresSinceTheBreakerLastForgot() {
    BreakerFailures failures = failures();
    failures.counted("timeout", "old");
    failures.forget();
    failures.counted("timeout", "a");
    failures.counted("ERR_STATE_SAVE", "b");
    now += 20_000; // older than the window: no longer what the breaker counts
    failures.counted("timeout", "c");
    failures.counted("timeout", "d");

    failures.opened();

    String open = lines.get(lines.size() - 1);
    assertTrue(open.startsWith("circuit breaker 'state store statestore' OPEN after 2 failures {timeout=2} (last: d)"
      + ": calls fail fast for 1000 ms, until "), open);
    JsonObject why = failures.why();
    assertEquals(new JsonObject().put("timeout", 2), why.getJsonObject("failures"));
    assertEquals("d", why.getString("last_failure"));
    assertEquals(java.time.Instant.ofEpochMilli(now).toString(), why.getString("since"));
    assertEquals(java.time.Instant.ofEpochMilli(now + 1_000).toString(), why.getString("until"));
    failures.closed();
    assertNull(failures.why());
  }

  @Test
  void causesAreTimeoutsConnectionFailuresDaprsCodeOrTheStatus() {
    assertEquals("timeout", BreakerFailures.causeOf(new SidecarException(SidecarException.Kind.TIMEOUT, "x", 0,
      null, "x", null)));
    assertEquals("connection_refused", BreakerFailures.causeOf(new SidecarException(
      SidecarException.Kind.UNREACHABLE, "x", 0, null, "x", new ConnectException("refused"))));
    assertEquals("unreachable", BreakerFailures.causeOf(new SidecarException(SidecarException.Kind.UNREACHABLE, "x", 0,
      null, "x", new IllegalStateException("closed"))));
    assertEquals("ERR_DIRECT_INVOKE", BreakerFailures.causeOf(SidecarException.fromResponse("x", 500,
      io.vertx.core.buffer.Buffer.buffer("{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"m\"}"))));
    assertEquals("http_503", BreakerFailures.causeOf(SidecarException.fromResponse("x", 503, null)));
  }
}
