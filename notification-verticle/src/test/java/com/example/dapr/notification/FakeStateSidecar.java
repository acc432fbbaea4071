package com.example.dapr.notification;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for notification-service's own Dapr sidecar with a Redis state store behind it, as far as the delivery
 * record uses it: {@code POST /v1.0/state/notificationstore} (first-write without an ETag saves only a key that has no
 * value, and is refused as daprd 1.18 refuses it on Redis: 500 {@code ERR_STATE_SAVE} "failed to set key"; in a bulk
 * save the other items are saved all the same and the call answers that one error, as Dapr's default bulk store does),
 * {@code POST .../transaction} (upserts) and {@code GET .../{key}}; the e2e layer runs the same code against the real
 * daprd and Redis. Shared by several replicas, like the one Redis of the embedded system. It can fail like a store
 * that is down, and it counts the calls it answered.
 */
final class FakeStateSidecar {

  static final String STORE = "notificationstore";

  private final Map<String, JsonObject> store = new ConcurrentHashMap<>();
  private final Map<String, Integer> versions = new ConcurrentHashMap<>();
  private final List<JsonObject> saves = new CopyOnWriteArrayList<>();
  private final Map<String, Integer> calls = new ConcurrentHashMap<>();
  private final Map<String, Promise<JsonObject>> awaited = new ConcurrentHashMap<>();
  private final Set<String> apiTokens = new CopyOnWriteArraySet<>();
  private HttpServer server;
  volatile boolean down;
  /** Only transactions (the records of answers) fail, as when the sidecar dies between a claim and its record. */
  volatile boolean transactionsDown;

  Future<FakeStateSidecar> start(Vertx vertx) {
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      apiTokens.add(String.valueOf(request.getHeader("dapr-api-token")));
      calls.merge(request.method().name() + " " + (request.path().endsWith("/transaction") ? "transaction"
        : request.path().startsWith("/v1.0/state/" + STORE + "/") ? "get" : "save"), 1, Integer::sum);
      if (down || (transactionsDown && request.path().endsWith("/transaction"))) {
        error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": dial tcp "
          + "127.0.0.1:6390: connect: connection refused");
      } else if (request.method().name().equals("POST") && request.path().equals("/v1.0/state/" + STORE)) {
        save(request, body.toJsonArray());
      } else if (request.method().name().equals("POST") && request.path().equals("/v1.0/state/" + STORE + "/transaction")) {
        transaction(request, body.toJsonObject());
      } else if (request.method().name().equals("GET") && request.path().startsWith("/v1.0/state/" + STORE + "/")) {
        JsonObject value = store.get(request.path().substring(("/v1.0/state/" + STORE + "/").length()));
        if (value == null) {
          request.response().setStatusCode(204).end();
        } else {
          String key = request.path().substring(("/v1.0/state/" + STORE + "/").length());
          request.response().putHeader("Content-Type", "application/json")
            .putHeader("ETag", String.valueOf(versions.getOrDefault(key, 1))).end(value.encode());
        }
      } else {
        error(request, 404, "ERR_NOT_FOUND", "no route " + request.path());
      }
    }));
    return server.listen(0, "127.0.0.1").map(this);
  }

  /** Redis's first-write semantics: without an ETag, only a key with no value; with one, only that version. */
  private synchronized void save(HttpServerRequest request, JsonArray items) {
    String refusedKey = null;
    for (Object raw : items) {
      JsonObject item = (JsonObject) raw;
      saves.add(item.copy());
      JsonObject options = item.getJsonObject("options", new JsonObject());
      boolean firstWrite = "first-write".equals(options.getString("concurrency"));
      String key = item.getString("key");
      String etag = item.getString("etag");
      boolean refused = firstWrite && (etag == null ? store.containsKey(key)
        : !etag.equals(String.valueOf(versions.get(key))));
      if (refused) {
        refusedKey = key;
        continue;
      }
      stored(key, item.getJsonObject("value"));
    }
    if (refusedKey != null) {
      error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": failed to set key "
        + "notification-service||" + refusedKey + ": ERR user_script:14: failed to set key notification-service||"
        + refusedKey);
      return;
    }
    request.response().setStatusCode(204).end();
  }

  /** A transaction of upserts without ETags: each key gets its value. */
  private synchronized void transaction(HttpServerRequest request, JsonObject body) {
    for (Object raw : body.getJsonArray("operations")) {
      JsonObject upsert = ((JsonObject) raw).getJsonObject("request");
      saves.add(upsert.copy());
      stored(upsert.getString("key"), upsert.getJsonObject("value"));
    }
    request.response().setStatusCode(204).end();
  }

  /** How many calls of a kind it answered: "POST save", "POST transaction", "GET get". */
  int calls(String kind) {
    return calls.getOrDefault(kind, 0);
  }

  /** Puts {@code value} under {@code key} as if some replica had saved it. */
  void put(String key, JsonObject value) {
    stored(key, value);
  }

  private void stored(String key, JsonObject value) {
    store.put(key, value);
    versions.merge(key, 1, Integer::sum);
    awaited.computeIfAbsent(key, k -> Promise.promise()).tryComplete(value);
  }

  /** Completes with the first value saved under {@code key}, at once if there is one. */
  Future<JsonObject> saved(String key) {
    return awaited.computeIfAbsent(key, k -> Promise.promise()).future();
  }

  private static void error(HttpServerRequest request, int status, String code, String message) {
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("errorCode", code).put("message", message).encode());
  }

  int port() {
    return server.actualPort();
  }

  /** The distinct {@code dapr-api-token} headers of the calls it answered, in order ("null" for none). */
  List<String> apiTokens() {
    return List.copyOf(apiTokens);
  }

  List<JsonObject> saves() {
    return List.copyOf(saves);
  }

  JsonObject value(String key) {
    return store.get(key);
  }
}
