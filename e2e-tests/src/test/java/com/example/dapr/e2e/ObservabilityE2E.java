package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedded system as scripts/run.sh starts it by default, tracing on (its Zipkin, sampling 1 in every sidecar,
 * Vert.x's OpenTelemetry in both apps), with JSON logs: one trace per request from the client through todo-api, its
 * sidecar, notification-service's sidecar and the replica, read back from Zipkin's own API; and the trace id of the
 * apps' JSON log lines is that trace's.
 */
class ObservabilityE2E extends AgainstEmbeddedSystem {

  ObservabilityE2E() {
    super("observability", TestSystems.offset("observability"), Map.of("TODO_ENV", "LOG_FORMAT=json", "NOTIFICATION_ENV", "LOG_FORMAT=json"));
  }

  private JsonArray trace(String traceId, java.util.function.Predicate<JsonArray> enough) throws Exception {
    return Zipkin.trace(http, "127.0.0.1", java.net.URI.create(system.url("zipkin")).getPort(), traceId, enough);
  }

  @Test
  void oneTraceRunsFromTheClientThroughBothSidecarsToTheReplica() throws Exception {
    String traceId = Zipkin.newTraceId();
    HttpResponse<Buffer> created = http.postJson(system.todoPort(), "/tasks", new JsonObject().put("title", "Traced"),
      "traceparent", "00-" + traceId + "-b7ad6b7169203331-01");
    assertEquals(201, created.statusCode(), created.bodyAsString());
    assertEquals("delivered", created.bodyAsJsonObject().getJsonObject("notification").getString("status"));

    JsonArray spans = trace(traceId, t -> Zipkin.complete(t, "b7ad6b7169203331"));
    assertTrue(Zipkin.complete(spans, "b7ad6b7169203331"), "the trace in Zipkin lacks a hop, or a span's parent: "
      + Zipkin.summary(spans));
    assertEquals(Set.of("todo-api", "notification-service"), Zipkin.services(spans));
    // The root of the tree is the client's span: the caller's traceparent was continued, not replaced.
    assertEquals(0, Zipkin.roots(spans), "no span started a trace of its own: " + Zipkin.summary(spans));
  }

  @Test
  void theTraceIdOfTheJsonLogLinesIsTheTraceInZipkin() throws Exception {
    HttpResponse<Buffer> created = http.postJson(system.todoPort(), "/tasks", new JsonObject().put("title", "Logged"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String taskId = created.bodyAsJsonObject().getString("id");
    JsonObject received = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (received == null && System.nanoTime() < deadline) {
      for (int k = 1; k <= 3 && received == null; k++) {
        for (String line : Files.readAllLines(system.logs().resolve("notification-" + k + ".log"))) {
          if (line.startsWith("{") && line.contains("Notification received") && line.contains(taskId)) {
            received = new JsonObject(line);
          }
        }
      }
      Thread.sleep(100);
    }
    assertNotNull(received, "no replica logged the notification of " + taskId + " as a JSON line");
    for (String field : List.of("time", "level", "logger", "message", "trace_id", "span_id", "task_id")) {
      assertTrue(received.containsKey(field), field + " in " + received.encode());
    }
    assertEquals(taskId, received.getString("task_id"));
    String traceId = received.getString("trace_id");
    JsonArray spans = trace(traceId, t -> Zipkin.complete(t, null));
    assertTrue(Zipkin.complete(spans, null), "the log line's trace " + traceId + " in Zipkin: " + Zipkin.summary(spans));
    assertTrue(Zipkin.has(spans, "todo-api", "SERVER", "post /tasks"), "the client's POST /tasks began that trace");
  }
}
