package com.example.dapr.todo;

import com.example.dapr.http.Env;
import com.example.dapr.http.Observability;
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
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * todo-api with tracing and metrics on, as ServiceLauncher starts it: the caller's traceparent continued into every
 * sidecar call and into the outbox event, the spans exported, and /metrics counting by route, by sidecar target, the
 * breakers and the notifications.
 */
class TodoObservabilityTest {

  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String CALLER = "00-" + TRACE_ID + "-00f067aa0ba902b7-01";

  private final InMemorySpanExporter spans = InMemorySpanExporter.create();
  private OpenTelemetrySdk tracing;
  private Vertx vertx;
  private FakeSidecar sidecar;
  private WebClient client;
  private int port;
  private int metricsPort;

  @BeforeEach
  void start() throws Exception {
    tracing = Observability.tracing(new Env(Map.of()), "todo-api", spans);
    try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      metricsPort = free.getLocalPort();
    }
    vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(Observability.metricsOptions(metricsPort)))
      .withTracer(new OpenTelemetryTracingFactory(tracing)).build();
    sidecar = new FakeSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    TodoVerticle verticle = new TodoVerticle(TodoConfig.from(new Env(Map.of("APP_PORT", "0",
      "DAPR_HTTP_PORT", String.valueOf(sidecar.port()), "SHUTDOWN_DELAY_MS", "0"))));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
    sidecar.awaitOutboxCheck(vertx);
    client = WebClient.create(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    tracing.close();
  }

  private HttpResponse<Buffer> create(String title, String... headers) throws Exception {
    var request = client.post(port, "127.0.0.1", "/tasks");
    for (int i = 0; i < headers.length; i += 2) {
      request.putHeader(headers[i], headers[i + 1]);
    }
    return request.sendJsonObject(new JsonObject().put("title", title)).await(10, TimeUnit.SECONDS);
  }

  @Test
  void theCallersTraceContinuesThroughEverySidecarCallAndIntoTheOutboxEvent() throws Exception {
    HttpResponse<Buffer> created = create("Traced", "traceparent", CALLER);
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String taskId = created.bodyAsJsonObject().getString("id");

    // Each sidecar call carries the caller's trace id, with a span id of its own (a child span, not the caller's).
    List<FakeSidecar.Received> calls = sidecar.received();
    assertTrue(calls.size() >= 2, "a transaction and an invocation: " + calls.size());
    for (FakeSidecar.Received call : calls) {
      String traceparent = call.headers().get("traceparent");
      assertTrue(traceparent != null && traceparent.startsWith("00-" + TRACE_ID + "-"), call.path() + ": " + traceparent);
      assertNotEquals(CALLER, traceparent, call.path() + " got the caller's own span id");
    }
    // The outbox event Dapr publishes gets the request's traceparent from the save's metadata.
    JsonObject save = calls.stream().filter(c -> c.path().endsWith("/transaction")).findFirst().orElseThrow().json()
      .getJsonArray("operations").getJsonObject(0).getJsonObject("request");
    assertTrue(save.getJsonObject("metadata").getString("traceparent").startsWith("00-" + TRACE_ID + "-"), save.encode());

    // The server span ends once todo-api's answer is written, which may be after the client has read it: wait for it
    // and for a client span per sidecar call of this trace, whatever else is exported meanwhile.
    long tracedCalls = calls.stream().filter(c -> String.valueOf(c.headers().get("traceparent"))
      .startsWith("00-" + TRACE_ID + "-")).count();
    List<SpanData> exported = finished("the server span of POST /tasks and a client span per sidecar call of trace "
      + TRACE_ID, all -> serverSpan(all, TRACE_ID) != null && all.stream().filter(s -> s.getKind() == SpanKind.CLIENT
        && TRACE_ID.equals(s.getTraceId())).count() >= tracedCalls);
    SpanData server = serverSpan(exported, TRACE_ID);
    assertEquals("POST /tasks", server.getName());
    assertEquals(TRACE_ID, server.getTraceId());
    assertEquals("00f067aa0ba902b7", server.getParentSpanId(), "the server span is the caller's child");
    assertEquals(taskId, server.getAttributes().get(Observability.TASK_ID));
    List<SpanData> clients = exported.stream().filter(s -> s.getKind() == SpanKind.CLIENT
      && TRACE_ID.equals(s.getTraceId())).toList();
    assertTrue(clients.size() >= 2, "a client span per sidecar call: " + exported);
    for (SpanData span : clients) {
      assertEquals(TRACE_ID, span.getTraceId());
      assertEquals(server.getSpanId(), span.getParentSpanId(), span.getName() + " is the server span's child");
    }
    assertEquals("todo-api", server.getResource().getAttribute(
      io.opentelemetry.api.common.AttributeKey.stringKey("service.name")));
  }

  @Test
  void aRequestWithoutTraceparentStartsATraceAndProbesStartNone() throws Exception {
    // The probes first: todo-api serves every request on one event loop, so a span of theirs would have ended, and
    // been queued for export, before the span of the POST that follows them.
    assertEquals(200, client.get(port, "127.0.0.1", "/health/live").send().await(10, TimeUnit.SECONDS).statusCode());
    assertEquals(200, client.get(port, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS).statusCode());
    int callsBefore = sidecar.received().size();
    HttpResponse<Buffer> created = create("Untraced caller");
    assertEquals(201, created.statusCode());
    String taskId = created.bodyAsJsonObject().getString("id");
    List<SpanData> exported = finished("the server span of POST /tasks", all -> all.stream()
      .anyMatch(s -> s.getKind() == SpanKind.SERVER && taskId.equals(s.getAttributes().get(Observability.TASK_ID))));
    // Only todo-api's own routes: the stand-in sidecar serves in the same Vert.x, so its server spans are exported too.
    List<SpanData> servers = exported.stream()
      .filter(s -> s.getKind() == SpanKind.SERVER && !path(s).startsWith("/v1.0/")).toList();
    assertEquals(1, servers.size(), "one trace, for POST /tasks only: " + servers);
    assertEquals("/tasks", path(servers.get(0)));
    String transaction = sidecar.received().subList(callsBefore, sidecar.received().size()).stream()
      .filter(c -> c.path().endsWith("/transaction")).findFirst().orElseThrow().headers().get("traceparent");
    assertTrue(transaction.startsWith("00-" + servers.get(0).getTraceId() + "-"), transaction);
  }

  @Test
  void metricsCountRequestsByRouteSidecarCallsByTargetAndWhatBecameOfNotifications() throws Exception {
    String before = metrics();

    for (int i = 0; i < 3; i++) {
      assertEquals(201, create("Counted " + i).statusCode());
    }
    assertEquals(404, client.get(port, "127.0.0.1", "/tasks/00000000-0000-4000-8000-000000000000").send()
      .await(10, TimeUnit.SECONDS).statusCode());
    String after = metrics();

    assertEquals(3, delta(before, after, "vertx_http_server_requests_total", "code=\"201\"", "method=\"POST\"",
      "route=\"/tasks\""));
    assertEquals(1, delta(before, after, "vertx_http_server_requests_total", "code=\"404\"", "route=\"/tasks/:id\""));
    assertEquals(3, delta(before, after, "vertx_http_client_requests_total", "client_name=\"dapr-invoke\""));
    assertTrue(delta(before, after, "vertx_http_client_requests_total", "client_name=\"dapr-state\"") >= 4,
      "3 transactions and a read through the state client");
    assertEquals(3, delta(before, after, "todo_notifications_total", "outcome=\"delivered_first_attempt\""));
    assertEquals(0, value(after, "todo_circuit_breaker_state", "breaker=\"state store statestore\""));
    assertEquals(0, value(after, "todo_circuit_breaker_state", "breaker=\"invoke notification-service/notify\""));
    assertTrue(after.contains("vertx_http_server_response_time_seconds_bucket"), "server timings");
    assertTrue(!after.contains("00000000-0000-4000-8000-000000000000"), "no task id in any label");

    // A breaker opening is counted and shown.
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 6; i++) {
      create("While notification-service fails " + i);
    }
    System.gc(); // the gauges must outlive a collection (a weakly held one reads NaN after it)
    String open = metrics();
    assertEquals(2, value(open, "todo_circuit_breaker_state", "breaker=\"invoke notification-service/notify\""));
    assertEquals(1, value(open, "todo_circuit_breaker_transitions_total", "breaker=\"invoke notification-service/notify\"",
      "state=\"open\""));
    assertTrue(value(open, "todo_notifications_total", "outcome=\"left_to_outbox\"") >= 6);
  }

  @Test
  void eachFailureABreakerCountsIsCountedByBreakerAndCauseOncePerCallNotPerAttempt() throws Exception {
    String before = metrics();
    String[] stateStore = {"breaker=\"state store statestore\""};
    String[] notify = {"breaker=\"invoke notification-service/notify\""};
    sidecar.stateMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 2; i++) {
      assertEquals(502, create("Store down " + i).statusCode());
    }
    assertEquals(6, sidecar.transactions().size(), "each call tried three times (STATE_RETRIES 2)");
    sidecar.stateMode = FakeSidecar.Mode.OK;
    sidecar.appDownFor.set(1); // one replica gone: sent again, delivered, nothing counted
    assertEquals("delivered", create("Replica gone").bodyAsJsonObject().getJsonObject("notification")
      .getString("status"));
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    assertEquals("pending", create("Service failing").bodyAsJsonObject().getJsonObject("notification")
      .getString("status"));

    String after = metrics();
    assertEquals(2, delta(before, after, "todo_circuit_breaker_failures_total", stateStore[0],
      "cause=\"ERR_STATE_TRANSACTION\""), after);
    assertEquals(2, delta(before, after, "todo_circuit_breaker_failures_total", stateStore), "no other cause");
    assertEquals(1, delta(before, after, "todo_circuit_breaker_failures_total", notify[0],
      "cause=\"ERR_DIRECT_INVOKE\""), after);
    assertEquals(1, delta(before, after, "todo_circuit_breaker_failures_total", notify), "the gone replica: none");
  }

  @Test
  void theSameScrapeIsServedOnAMetricsPortOfItsOwnForTheScrapersNetworkPolicy() throws Exception {
    for (int i = 0; i < 2; i++) {
      assertEquals(201, create("Scraped " + i).statusCode());
    }
    HttpResponse<Buffer> own = client.get(metricsPort, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS);
    assertEquals(200, own.statusCode());
    String[] created = {"code=\"201\"", "route=\"/tasks\""};
    assertEquals(2, value(own.bodyAsString(), "vertx_http_server_requests_total", created));
    assertEquals(value(metrics(), "vertx_http_server_requests_total", created),
      value(own.bodyAsString(), "vertx_http_server_requests_total", created), "one registry behind both ports");
    assertTrue(own.bodyAsString().contains("todo_circuit_breaker_state{"), "the app's own meters too");
    // Only the scrape: the API is not served there.
    assertEquals(404, client.post(metricsPort, "127.0.0.1", "/tasks").send().await(10, TimeUnit.SECONDS).statusCode());
  }

  /**
   * The spans exported once {@code complete} holds for them; fails, saying {@code what} and what was exported, if it
   * does not within 60 s (a limit only a missing span reaches: they are exported within milliseconds).
   */
  private List<SpanData> finished(String what, java.util.function.Predicate<List<SpanData>> complete) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      tracing.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS);
      List<SpanData> exported = spans.getFinishedSpanItems();
      if (complete.test(exported)) {
        return exported;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not exported within 60 s: " + what + "; exported: " + exported);
      }
      Thread.sleep(20);
    }
  }

  /** The server span of {@code POST /tasks} in trace {@code traceId}, or null. */
  private static SpanData serverSpan(List<SpanData> spans, String traceId) {
    return spans.stream().filter(s -> s.getKind() == SpanKind.SERVER && "/tasks".equals(path(s))
      && traceId.equals(s.getTraceId())).findFirst().orElse(null);
  }

  private static String path(SpanData span) {
    return String.valueOf(span.getAttributes().get(io.opentelemetry.api.common.AttributeKey.stringKey("url.path")));
  }

  private String metrics() throws Exception {
    HttpResponse<Buffer> scrape = client.get(port, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS);
    assertEquals(200, scrape.statusCode());
    return scrape.bodyAsString();
  }

  private static double delta(String before, String after, String name, String... labels) {
    return value(after, name, labels) - value(before, name, labels);
  }

  /** The sum of the samples of {@code name} whose labels include all of {@code labels}; 0 when there is none. */
  private static double value(String scrape, String name, String... labels) {
    double sum = 0;
    Matcher line = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(scrape);
    while (line.find()) {
      String found = line.group(1);
      boolean all = true;
      for (String label : labels) {
        all &= found.contains(label);
      }
      if (all) {
        sum += Double.parseDouble(line.group(2));
      }
    }
    return sum;
  }
}
