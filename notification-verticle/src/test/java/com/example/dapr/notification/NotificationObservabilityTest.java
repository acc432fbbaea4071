package com.example.dapr.notification;

import com.example.dapr.http.Env;
import com.example.dapr.http.JsonLogFormatter;
import com.example.dapr.http.Observability;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A replica with tracing and metrics on, as ServiceLauncher starts it: the sidecar's traceparent continued (server
 * span POST /notify, tagged with the task id), and /metrics, open without the app token, counting this replica's
 * deliveries (not a repeat answered from its record).
 */
class NotificationObservabilityTest {

  private static final String TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
  private static final String TOKEN = "from-the-sidecar";

  private final InMemorySpanExporter spans = InMemorySpanExporter.create();
  private OpenTelemetrySdk tracing;
  private Vertx vertx;
  private WebClient client;
  private int port;

  @BeforeEach
  void start() throws Exception {
    tracing = Observability.tracing(new Env(Map.of()), "notification-service", spans);
    vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(Observability.metricsOptions()))
      .withTracer(new OpenTelemetryTracingFactory(tracing)).build();
    FakeStateSidecar sidecar = new FakeStateSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    NotificationVerticle verticle = new NotificationVerticle(new NotificationConfig(0, "replica-m", 16_384, 3, false,
      new NotificationConfig.Dedup(FakeStateSidecar.STORE, "127.0.0.1", sidecar.port(), null, 2_000, 90_000, 30_000,
        100, 0), TOKEN));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
    client = WebClient.create(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    tracing.close();
  }

  private HttpResponse<Buffer> notify(String notificationId, String traceparent) throws Exception {
    var request = client.post(port, "127.0.0.1", "/notify").putHeader("dapr-api-token", TOKEN);
    if (traceparent != null) {
      request.putHeader("traceparent", traceparent);
    }
    return request.sendJsonObject(new JsonObject().put("message", "Todo created: observed").put("task_id", "task-9")
      .put("notification_id", notificationId)).await(10, TimeUnit.SECONDS);
  }

  @Test
  void theSidecarsTraceContinuesIntoAServerSpanNamedByRouteAndTaggedWithTheTask() throws Exception {
    assertEquals(200, notify("n-traced", "00-" + TRACE_ID + "-b7ad6b7169203331-01").statusCode());
    SpanData server = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (server == null && System.nanoTime() < deadline) {
      tracing.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS);
      server = spans.getFinishedSpanItems().stream()
        .filter(s -> s.getKind() == SpanKind.SERVER && s.getName().equals("POST /notify")).findFirst().orElse(null);
      Thread.sleep(20);
    }
    assertTrue(server != null, "a server span POST /notify: " + spans.getFinishedSpanItems());
    assertEquals(TRACE_ID, server.getTraceId());
    assertEquals("b7ad6b7169203331", server.getParentSpanId());
    assertEquals("task-9", server.getAttributes().get(Observability.TASK_ID));
    assertEquals("notification-service", server.getResource().getAttribute(AttributeKey.stringKey("service.name")));
  }

  @Test
  void metricsAreOpenWithoutTheTokenAndCountThisReplicasDeliveriesButNotARepeat() throws Exception {
    double before = delivered(metrics());
    assertEquals(200, notify("n-1", null).statusCode());
    assertEquals(200, notify("n-2", null).statusCode());
    // A repeat of n-1, once its record is saved, is answered from the record: not a delivery.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    HttpResponse<Buffer> repeat;
    do {
      repeat = notify("n-1", null);
      Thread.sleep(20);
    } while (repeat.statusCode() != 200 && System.nanoTime() < deadline);
    assertEquals(true, repeat.bodyAsJsonObject().getBoolean("duplicate"), repeat.bodyAsString());
    String scrape = metrics();
    assertEquals(2, delivered(scrape) - before);
    assertTrue(scrape.contains("vertx_http_server_requests_total{code=\"200\",method=\"POST\",route=\"/notify\"}"),
      "POST /notify counted under its route");
    assertTrue(scrape.contains("client_name=\"dapr-state\""), "the delivery record's sidecar calls, by client name");
  }

  /**
   * Claims that arrive together go to the sidecar in one call (Batcher); each replica log line must still carry the
   * trace of the notification it is about, not of the request whose call carried the batch. The CI of 2026-12-02
   * saw the latter in the cluster: the line's trace_id was another request's and it had no task_id.
   */
  @Test
  void concurrentNotificationsBatchedIntoOneClaimCallEachLogTheirOwnTraceId() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    JsonLogFormatter json = new JsonLogFormatter();
    // Formatted on the thread that logs, as the console handler does: the span current there is what the line gets.
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord record) {
        lines.add(json.format(record));
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };
    Logger logger = Logger.getLogger(NotifyHandler.class.getName());
    logger.addHandler(capture);
    try {
      int count = 24;
      Map<String, String> traceByNotification = new HashMap<>();
      List<Future<HttpResponse<Buffer>>> answers = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        String traceId = String.format("%032x", 0xabc000L + i);
        String id = "n-concurrent-" + i;
        traceByNotification.put(id, traceId);
        answers.add(client.post(port, "127.0.0.1", "/notify").putHeader("dapr-api-token", TOKEN)
          .putHeader("traceparent", "00-" + traceId + "-b7ad6b7169203331-01")
          .sendJsonObject(new JsonObject().put("message", "Todo created: " + id).put("task_id", "task-" + i)
            .put("notification_id", id)));
      }
      for (Future<HttpResponse<Buffer>> answer : answers) {
        assertEquals(200, answer.await(10, TimeUnit.SECONDS).statusCode());
      }
      int checked = 0;
      for (String line : lines) {
        JsonObject record = new JsonObject(line);
        Matcher m = Pattern.compile("Notification received: Todo created: (n-concurrent-\\d+) ").matcher(
          record.getString("message"));
        if (m.find()) {
          String id = m.group(1);
          assertEquals(traceByNotification.get(id), record.getString("trace_id"), "the line for " + id + ": " + line);
          assertEquals("task-" + id.substring("n-concurrent-".length()), record.getString("task_id"), line);
          checked++;
        }
      }
      assertEquals(count, checked, "one line per notification: " + lines);
    } finally {
      logger.removeHandler(capture);
    }
  }

  private String metrics() throws Exception {
    HttpResponse<Buffer> scrape = client.get(port, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS);
    assertEquals(200, scrape.statusCode(), "no token needed: " + scrape.bodyAsString());
    return scrape.bodyAsString();
  }

  private static double delivered(String scrape) {
    Matcher m = Pattern.compile("(?m)^notifications_delivered_total\\{replica=\"replica-m\"\\} (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }
}
