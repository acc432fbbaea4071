package com.example.dapr.notification;

import com.example.dapr.http.Env;
import com.example.dapr.http.Observability;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
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

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
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
