package com.example.dapr.billing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for billing-service's Dapr sidecar with a Redis state store behind it, as far as the ledger uses it:
 * {@code POST /v1.0/state/billingstore} (first-write without an ETag saves only a key that has no value; otherwise
 * refused as daprd 1.18 refuses it on Redis: 500 {@code ERR_STATE_SAVE} "failed to set key") and
 * {@code GET .../{key}} (204 when there is none). Shared by several replicas, like one Redis. It can be down (500, as
 * when Redis refuses connections), hang (never answer), apply a save and then lose its answer (500), the case
 * where only reading the ledger back tells what happened, or apply a save and then answer nothing at all (a sidecar
 * whose answers come after the app's timeout), when not even the read back tells. The e2e layer runs the same code against real daprd.
 */
final class FakeLedgerSidecar {

  static final String STORE = "billingstore";
  private static final String PATH = "/v1.0/state/" + STORE;

  enum Mode { UP, DOWN, HANGING, LOSES_ANSWERS, APPLIES_THEN_HANGS }

  private final Map<String, JsonObject> store = new ConcurrentHashMap<>();
  private final AtomicInteger applied = new AtomicInteger();
  private final List<String> apiTokens = new CopyOnWriteArrayList<>();
  private HttpServer server;
  volatile Mode mode = Mode.UP;

  Future<FakeLedgerSidecar> start(Vertx vertx) {
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      apiTokens.add(String.valueOf(request.getHeader("dapr-api-token")));
      Mode now = mode;
      if (now == Mode.HANGING) {
        return;
      }
      if (now == Mode.APPLIES_THEN_HANGS) {
        if (request.method().name().equals("POST") && request.path().equals(PATH)) {
          saveSilently(body.toJsonArray());
        }
        return;
      }
      if (now == Mode.DOWN) {
        error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE
          + ": dial tcp 127.0.0.1:6390: connect: connection refused");
      } else if (request.method().name().equals("POST") && request.path().equals(PATH)) {
        save(request, body.toJsonArray(), now == Mode.LOSES_ANSWERS);
      } else if (request.method().name().equals("GET") && request.path().startsWith(PATH + "/")) {
        JsonObject value = store.get(request.path().substring(PATH.length() + 1));
        if (value == null) {
          request.response().setStatusCode(204).end();
        } else {
          request.response().putHeader("Content-Type", "application/json").putHeader("ETag", "1").end(value.encode());
        }
      } else {
        error(request, 404, "ERR_NOT_FOUND", "no route " + request.path());
      }
    }));
    return server.listen(0, "127.0.0.1").map(this);
  }

  private synchronized void saveSilently(JsonArray items) {
    for (Object raw : items) {
      JsonObject item = (JsonObject) raw;
      if (store.putIfAbsent(item.getString("key"), item.getJsonObject("value")) == null) {
        applied.incrementAndGet();
      }
    }
  }

  private synchronized void save(HttpServerRequest request, JsonArray items, boolean loseAnswer) {
    String refusedKey = null;
    for (Object raw : items) {
      JsonObject item = (JsonObject) raw;
      String key = item.getString("key");
      boolean firstWrite = "first-write".equals(item.getJsonObject("options", new JsonObject()).getString("concurrency"));
      if (firstWrite && store.containsKey(key)) {
        refusedKey = key;
        continue;
      }
      store.put(key, item.getJsonObject("value"));
      applied.incrementAndGet();
    }
    if (refusedKey != null) {
      error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": failed to set key "
        + "billing-service||" + refusedKey + ": ERR user_script:14: failed to set key billing-service||" + refusedKey);
    } else if (loseAnswer) {
      error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": i/o timeout");
    } else {
      request.response().setStatusCode(204).end();
    }
  }

  private static void error(HttpServerRequest request, int status, String code, String message) {
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("errorCode", code).put("message", message).encode());
  }

  int port() {
    return server.actualPort();
  }

  /** How many saves of a value the store applied (a refused first-write is not one). */
  int applied() {
    return applied.get();
  }

  JsonObject value(String key) {
    return store.get(key);
  }

  int size() {
    return store.size();
  }

  /** The {@code dapr-api-token} header of every call it received, in order ("null" for none). */
  List<String> apiTokens() {
    return List.copyOf(apiTokens);
  }
}
