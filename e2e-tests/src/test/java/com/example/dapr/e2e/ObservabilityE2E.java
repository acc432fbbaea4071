package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
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
    super("observability", 1200, Map.of("TODO_ENV", "LOG_FORMAT=json", "NOTIFICATION_ENV", "LOG_FORMAT=json"));
  }

  private int zipkinPort() throws Exception {
    return java.net.URI.create(system.url("zipkin")).getPort();
  }

  /** The spans of trace {@code traceId} in Zipkin once {@code enough} holds for them (spans arrive in batches). */
  private JsonArray trace(String traceId, java.util.function.Predicate<JsonArray> enough) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    JsonArray spans = new JsonArray();
    while (System.nanoTime() < deadline) {
      HttpResponse<Buffer> answer = http.get(zipkinPort(), "/api/v2/trace/" + traceId);
      if (answer.statusCode() == 200) {
        spans = answer.bodyAsJsonArray();
        if (enough.test(spans)) {
          return spans;
        }
      }
      http.vertx().timer(500).await(10, TimeUnit.SECONDS);
    }
    return spans;
  }

  private static Set<String> services(JsonArray spans) {
    Set<String> names = new HashSet<>();
    for (int i = 0; i < spans.size(); i++) {
      names.add(spans.getJsonObject(i).getJsonObject("localEndpoint", new JsonObject()).getString("serviceName"));
    }
    return names;
  }

  private static boolean has(JsonArray spans, String service, String kind, String name) {
    for (int i = 0; i < spans.size(); i++) {
      JsonObject span = spans.getJsonObject(i);
      if (service.equals(span.getJsonObject("localEndpoint", new JsonObject()).getString("serviceName"))
        && kind.equals(span.getString("kind")) && span.getString("name", "").contains(name)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Every hop of a create, in Zipkin: todo-api's POST /tasks and its calls to its sidecar, the sidecar's state
   * transaction and invocation (callLocal), the replica's sidecar and the replica's POST /notify, and the outbox's
   * publication and delivery back to todo-api; and every span's parent is in the trace too (the sidecars send their
   * spans in batches, so this is waited for).
   */
  private static boolean complete(JsonArray spans, String callerSpanId) {
    if (!(has(spans, "todo-api", "SERVER", "post /tasks")
      && has(spans, "todo-api", "CLIENT", "post")
      // todo-api's sidecar: the state transaction, and the invocation it sends to the replica's sidecar
      && has(spans, "todo-api", "CLIENT", "/v1.0/state/statestore/transaction")
      && has(spans, "todo-api", "CLIENT", "calllocal/notification-service/notify")
      // the replica's sidecar, and the replica
      && has(spans, "notification-service", "SERVER", "calllocal/notification-service/notify")
      && has(spans, "notification-service", "SERVER", "post /notify")
      // the outbox: Dapr publishes the saved notification and delivers it to todo-api, in the same trace
      && has(spans, "todo-api", "CLIENT", "pubsub/notifications")
      && has(spans, "todo-api", "SERVER", "post /outbox/notifications"))) {
      return false;
    }
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < spans.size(); i++) {
      ids.add(spans.getJsonObject(i).getString("id"));
    }
    for (int i = 0; i < spans.size(); i++) {
      String parent = spans.getJsonObject(i).getString("parentId");
      if (parent != null && !parent.equals(callerSpanId) && !ids.contains(parent)) {
        return false;
      }
    }
    return true;
  }

  @Test
  void oneTraceRunsFromTheClientThroughBothSidecarsToTheReplica() throws Exception {
    String traceId = String.format("%016x%016x", ThreadLocalRandom.current().nextLong(),
      ThreadLocalRandom.current().nextLong());
    HttpResponse<Buffer> created = http.postJson(system.todoPort(), "/tasks", new JsonObject().put("title", "Traced"),
      "traceparent", "00-" + traceId + "-b7ad6b7169203331-01");
    assertEquals(201, created.statusCode(), created.bodyAsString());
    assertEquals("delivered", created.bodyAsJsonObject().getJsonObject("notification").getString("status"));

    JsonArray spans = trace(traceId, t -> complete(t, "b7ad6b7169203331"));
    assertTrue(complete(spans, "b7ad6b7169203331"), "the trace in Zipkin lacks a hop, or a span's parent: "
      + summary(spans));
    assertEquals(Set.of("todo-api", "notification-service"), services(spans));
    // The root of the tree is the client's span: the caller's traceparent was continued, not replaced.
    long roots = spans.stream().map(JsonObject.class::cast).filter(span -> span.getString("parentId") == null).count();
    assertEquals(0, roots, "no span started a trace of its own: " + summary(spans));
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
    JsonArray spans = trace(traceId, t -> complete(t, null));
    assertTrue(complete(spans, null), "the log line's trace " + traceId + " in Zipkin: " + summary(spans));
    assertTrue(has(spans, "todo-api", "SERVER", "post /tasks"), "the client's POST /tasks began that trace");
  }

  private static List<String> summary(JsonArray spans) {
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 0; i < spans.size(); i++) {
      JsonObject s = spans.getJsonObject(i);
      lines.add(s.getJsonObject("localEndpoint", new JsonObject()).getString("serviceName") + " " + s.getString("kind")
        + " " + s.getString("name") + " " + s.getString("id") + "<-" + s.getString("parentId"));
    }
    return lines;
  }
}
