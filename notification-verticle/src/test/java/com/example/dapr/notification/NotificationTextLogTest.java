package com.example.dapr.notification;

import com.example.dapr.http.Env;
import com.example.dapr.http.Logging;
import com.example.dapr.http.Observability;
import com.example.dapr.http.TextLogFormatter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedded run's text logs: the replica's "Notification received" line carries the trace id the sidecar sent in
 * {@code traceparent} and the task id, as its JSON line does; the start-up line, outside any request, carries none.
 */
class NotificationTextLogTest {

  private static final String TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    private final TextLogFormatter text = new TextLogFormatter();

    @Override
    public void publish(LogRecord record) {
      lines.add(text.format(record));
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };
  private final Logger root = Logger.getLogger("com.example.dapr.notification");
  private OpenTelemetrySdk tracing;
  private Vertx vertx;

  @BeforeEach
  void captureLogs() {
    // The service's own logging set up first: it reads its configuration, which drops handlers added before.
    Logging.configure();
    root.addHandler(capture);
    tracing = Observability.tracing(new Env(Map.of()), "notification-service", null);
    vertx = Vertx.builder().withTracer(new OpenTelemetryTracingFactory(tracing)).build();
  }

  @AfterEach
  void stop() throws Exception {
    root.removeHandler(capture);
    vertx.close().await(10, TimeUnit.SECONDS);
    tracing.close();
  }

  @Test
  void aNotificationsLineCarriesItsTraceAndTaskIdsAndTheStartLineNone() throws Exception {
    NotificationVerticle verticle = new NotificationVerticle(NotificationConfig.from(new Env(Map.of(
      "APP_PORT", "0", "REPLICA_ID", "replica-text", "DEDUP_STORE_NAME", "none"))));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    assertEquals(200, WebClient.create(vertx).post(verticle.actualPort(), "127.0.0.1", "/notify")
      .putHeader("traceparent", "00-" + TRACE_ID + "-b7ad6b7169203331-01")
      .sendJsonObject(new JsonObject().put("message", "Todo created: in text").put("task_id", "task-text"))
      .await(10, TimeUnit.SECONDS).statusCode());

    String received = lines.stream().filter(l -> l.contains("Notification received: Todo created: in text"))
      .findFirst().orElseThrow(() -> new AssertionError("no Notification received line in " + lines));
    assertTrue(received.matches("(?s).* \\[com\\.example\\.dapr\\.notification\\.NotifyHandler] \\[trace_id=" + TRACE_ID
      + " span_id=[0-9a-f]{16} task_id=task-text] Notification received: .*"), received);
    assertFalse(received.contains("span_id=b7ad6b7169203331"), "the replica's server span, not the sidecar's");
    String started = lines.stream().filter(l -> l.contains("listening on port")).findFirst()
      .orElseThrow(() -> new AssertionError("no start-up line in " + lines));
    assertFalse(started.contains("trace_id"), started);
  }
}
