package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A trace read back from Zipkin's own API ({@code GET /api/v2/trace/{id}}), and what a create's trace must hold: the
 * embedded run's Zipkin ({@code ObservabilityE2E}) and the cluster's ({@code ClusterK8s}) answer the same questions.
 */
final class Zipkin {

  private Zipkin() {
  }

  /** A new W3C trace id, 32 hex digits. */
  static String newTraceId() {
    return String.format("%016x%016x", ThreadLocalRandom.current().nextLong(), ThreadLocalRandom.current().nextLong());
  }

  /** The spans of trace {@code traceId} in the Zipkin on host:port once {@code enough} holds for them (within 30 s). */
  static JsonArray trace(Http http, String host, int port, String traceId, Predicate<JsonArray> enough)
    throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    JsonArray spans = new JsonArray();
    while (System.nanoTime() < deadline) {
      HttpResponse<Buffer> answer = http.request(HttpMethod.GET, host, port, "/api/v2/trace/" + traceId).send()
        .await(15, TimeUnit.SECONDS);
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

  static Set<String> services(JsonArray spans) {
    Set<String> names = new HashSet<>();
    for (int i = 0; i < spans.size(); i++) {
      names.add(spans.getJsonObject(i).getJsonObject("localEndpoint", new JsonObject()).getString("serviceName"));
    }
    return names;
  }

  static boolean has(JsonArray spans, String service, String kind, String name) {
    for (int i = 0; i < spans.size(); i++) {
      JsonObject span = spans.getJsonObject(i);
      if (service.equals(span.getJsonObject("localEndpoint", new JsonObject()).getString("serviceName"))
        && kind.equals(span.getString("kind")) && span.getString("name", "").contains(name)) {
        return true;
      }
    }
    return false;
  }

  /** How many spans have no parent: 0 when the trace continues a caller's span. */
  static long roots(JsonArray spans) {
    return spans.stream().map(JsonObject.class::cast).filter(span -> span.getString("parentId") == null).count();
  }

  /**
   * Every hop of a create, in Zipkin: todo-api's POST /tasks and its calls to its sidecar, the sidecar's state
   * transaction and invocation (callLocal), the replica's sidecar and the replica's POST /notify, and the outbox's
   * publication and delivery back to todo-api; and every span's parent is in the trace too (the sidecars send their
   * spans in batches, so this is waited for).
   */
  static boolean complete(JsonArray spans, String callerSpanId) {
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

  static List<String> summary(JsonArray spans) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < spans.size(); i++) {
      JsonObject s = spans.getJsonObject(i);
      lines.add(s.getJsonObject("localEndpoint", new JsonObject()).getString("serviceName") + " " + s.getString("kind")
        + " " + s.getString("name") + " " + s.getString("id") + "<-" + s.getString("parentId"));
    }
    return lines;
  }
}
