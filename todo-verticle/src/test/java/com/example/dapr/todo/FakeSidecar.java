package com.example.dapr.todo;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A stand-in for the Dapr sidecar's HTTP API: a real Vert.x HTTP server on a random loopback port that implements
 * {@code /v1.0/state/{store}}, {@code /v1.0/invoke/{app}/method/{method}}, the {@code dapr-app-id} header form and
 * {@code /v1.0/healthz/outbound} the way daprd answers them, records every request, and fails on demand.
 */
final class FakeSidecar {

  /** How the fake answers a kind of call. */
  enum Mode { OK, FAIL, HANG }

  /** One request as the fake received it. */
  record Received(String method, String path, MultiMap headers, Buffer body) {
    JsonObject json() {
      return body.toJsonObject();
    }
  }

  static final String STORE = "statestore";
  static final String APP_ID = "notification-service";

  private final Map<String, StoredValue> store = new ConcurrentHashMap<>();
  private final AtomicLong etags = new AtomicLong();
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private final List<HttpServerRequest> hanging = new CopyOnWriteArrayList<>();
  private HttpServer server;

  volatile Mode stateMode = Mode.OK;
  volatile Mode invokeMode = Mode.OK;
  volatile Mode healthMode = Mode.OK;
  /** How many of the next invocations fail as daprd does when the target replica's app is down. */
  final java.util.concurrent.atomic.AtomicInteger appDownFor = new java.util.concurrent.atomic.AtomicInteger();
  /** When set, the next conditional save fails as if another writer had changed the value first. */
  volatile boolean conflictOnNextSave;

  private record StoredValue(JsonObject value, String etag) {
  }

  Future<FakeSidecar> start(Vertx vertx) {
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      received.add(new Received(request.method().name(), request.path(), MultiMap.caseInsensitiveMultiMap()
        .addAll(request.headers()), body));
      route(request, body);
    }));
    return server.listen(0, "127.0.0.1").map(this);
  }

  int port() {
    return server.actualPort();
  }

  private void route(HttpServerRequest request, Buffer body) {
    String path = request.path();
    if (path.equals("/v1.0/healthz/outbound")) {
      respond(request, healthMode, () -> request.response().setStatusCode(204).end(),
        "ERR_HEALTH_NOT_READY", "dapr is not ready");
    } else if (path.startsWith("/v1.0/state/")) {
      state(request, body, path.substring("/v1.0/state/".length()));
    } else if (path.startsWith("/v1.0/invoke/")) {
      String[] parts = path.substring("/v1.0/invoke/".length()).split("/method/", 2);
      invoke(request, body, parts[0]);
    } else if (request.getHeader("dapr-app-id") != null) {
      invoke(request, body, request.getHeader("dapr-app-id"));
    } else {
      error(request, 404, "ERR_NOT_FOUND", "no route " + path);
    }
  }

  private void state(HttpServerRequest request, Buffer body, String rest) {
    int slash = rest.indexOf('/');
    String storeName = slash < 0 ? rest : rest.substring(0, slash);
    if (!storeName.equals(STORE)) {
      error(request, 400, "ERR_STATE_STORE_NOT_FOUND", "state store " + storeName + " is not found");
      return;
    }
    if (request.method().name().equals("GET") && slash > 0) {
      String key = rest.substring(slash + 1);
      respond(request, stateMode, () -> {
        StoredValue stored = store.get(key);
        if (stored == null) {
          request.response().setStatusCode(204).end();
        } else {
          request.response().putHeader("ETag", stored.etag()).putHeader("Content-Type", "application/json")
            .end(stored.value().encode());
        }
      }, "ERR_STATE_GET", "fail to get " + key + " from state store " + STORE + ": connection refused");
    } else {
      respond(request, stateMode, () -> save(request, body),
        "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": connection refused");
    }
  }

  private void save(HttpServerRequest request, Buffer body) {
    for (Object raw : body.toJsonArray()) {
      JsonObject item = (JsonObject) raw;
      String key = item.getString("key");
      String etag = item.getString("etag");
      StoredValue current = store.get(key);
      boolean conflict = etag != null && (conflictOnNextSave || current == null || !current.etag().equals(etag));
      if (conflict) {
        conflictOnNextSave = false;
        error(request, 409, "ERR_STATE_SAVE", "failed saving state in state store " + STORE
          + ": possible etag mismatch. error from state store: ETag mismatch");
        return;
      }
      store.put(key, new StoredValue(item.getJsonObject("value"), String.valueOf(etags.incrementAndGet())));
    }
    request.response().setStatusCode(204).end();
  }

  private void invoke(HttpServerRequest request, Buffer body, String appId) {
    if (!appId.equals(APP_ID)) {
      error(request, 500, "ERR_DIRECT_INVOKE", "failed to invoke, id: " + appId + ", err: app not found");
      return;
    }
    if (appDownFor.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      // daprd 1.18's answer when the target sidecar cannot connect to its app.
      error(request, 500, "ERR_DIRECT_INVOKE", "failed to invoke, id: " + APP_ID + ", err: rpc error: code = Internal"
        + " desc = error invoking app channel: Post \"http://127.0.0.1:8002/notify\": dial tcp 127.0.0.1:8002: connect:"
        + " connection refused");
      return;
    }
    respond(request, invokeMode, () -> {
      JsonObject notification = body.toJsonObject();
      request.response().putHeader("Content-Type", "application/json").end(new JsonObject()
        .put("status", "delivered").put("message", notification.getString("message")).put("replica", "fake-1")
        .encode());
    }, "ERR_DIRECT_INVOKE", "failed to invoke, id: " + APP_ID + ", err: connection refused");
  }

  private void respond(HttpServerRequest request, Mode mode, Runnable ok, String errorCode, String message) {
    switch (mode) {
      case OK -> ok.run();
      case FAIL -> error(request, 500, errorCode, message);
      case HANG -> hanging.add(request);
    }
  }

  private static void error(HttpServerRequest request, int status, String code, String message) {
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("errorCode", code).put("message", message).encode());
  }

  void put(String key, JsonObject value) {
    store.put(key, new StoredValue(value, String.valueOf(etags.incrementAndGet())));
  }

  JsonObject value(String key) {
    StoredValue stored = store.get(key);
    return stored == null ? null : stored.value();
  }

  String etag(String key) {
    StoredValue stored = store.get(key);
    return stored == null ? null : stored.etag();
  }

  int storedCount() {
    return store.size();
  }

  List<Received> received() {
    return List.copyOf(received);
  }

  List<Received> stateSaves() {
    return received.stream().filter(r -> r.method().equals("POST") && r.path().startsWith("/v1.0/state/"))
      .collect(Collectors.toList());
  }

  List<Received> invocations() {
    return received.stream().filter(r -> r.path().startsWith("/v1.0/invoke/") || r.headers().contains("dapr-app-id"))
      .collect(Collectors.toList());
  }

  /** Every request except health checks: what a rejected client request must never cause. */
  List<Received> dataCalls() {
    return received.stream().filter(r -> !r.path().startsWith("/v1.0/healthz")).collect(Collectors.toList());
  }

  JsonArray keys() {
    return new JsonArray(List.copyOf(store.keySet()));
  }
}
