package com.example.dapr.notification;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

/**
 * The record of delivered notifications, shared by every replica through each replica's own Dapr sidecar and one state
 * store ({@code POST}/{@code GET /v1.0/state/notificationstore}), under {@code delivery-<notification id>}. Before it
 * delivers a notification, a replica saves the answer it is about to give with first-write concurrency and no ETag:
 * only the first save of a key succeeds, so of any number of attempts, on any replicas, at the same time or days
 * apart, exactly one delivers; every other one reads the record and answers what the first did.
 * <p>
 * One write per notification, and no window in which two replicas can both deliver. The window it leaves: a replica
 * that dies between saving the record and delivering (one local call) has a notification recorded that it never
 * delivered. Deliver first and record after, and that window would deliver twice instead, and concurrent attempts
 * could both deliver.
 */
final class DeliveryRecords {

  /** What recording a notification found. */
  sealed interface Claim {
  }

  /** The notification is this replica's to deliver: the record with its answer is saved. */
  record Claimed() implements Claim {
  }

  /** It was delivered before: {@code answer} is what that delivery answered. */
  record AlreadyDelivered(JsonObject answer) implements Claim {
  }

  private final NotificationConfig.Dedup config;
  private final WebClient client;
  private final String statePath;

  DeliveryRecords(Vertx vertx, NotificationConfig.Dedup config) {
    this.config = config;
    this.client = WebClient.create(vertx, new WebClientOptions()
        .setDefaultHost(config.sidecarHost()).setDefaultPort(config.sidecarHttpPort())
        .setKeepAlive(true).setTcpNoDelay(true).setUserAgent("notification-service"),
      new PoolOptions().setHttp1MaxSize(64).setMaxWaitQueueSize(4_096));
    this.statePath = "/v1.0/state/" + config.store();
  }

  /**
   * Records that this replica delivers {@code notificationId} with {@code answer}, unless it was recorded before; then
   * answers that record. Fails when the store cannot be reached, or the record vanished between the two calls (its
   * TTL ran out), in which case the sender tries again.
   */
  Future<Claim> claim(String notificationId, JsonObject answer) {
    String key = "delivery-" + notificationId;
    return save(key, answer).compose(saved -> saved ? Future.succeededFuture(new Claimed())
      : read(key).compose(existing -> existing == null
        ? Future.failedFuture(new IllegalStateException("the record of " + notificationId + " was refused as taken, "
        + "then not found"))
        : Future.succeededFuture(new AlreadyDelivered(existing))));
  }

  /**
   * A save of {@code key} only if it has no value (first-write concurrency, no ETag), expiring after the TTL. Answers
   * whether it was saved; false when the store refused it: the in-memory store answers 409 for a taken key, Redis 500
   * ERR_STATE_SAVE (for a key first written first-write, as every record is), which is also what it answers when it
   * fails, so the caller reads the key to tell.
   */
  private Future<Boolean> save(String key, JsonObject value) {
    JsonObject item = new JsonObject().put("key", key).put("value", value)
      .put("options", new JsonObject().put("concurrency", "first-write"))
      .put("metadata", new JsonObject().put("ttlInSeconds", String.valueOf(config.ttlSeconds())));
    return request(HttpMethod.POST, statePath).sendBuffer(new JsonArray().add(item).toBuffer()).compose(response -> {
      if (response.statusCode() / 100 == 2) {
        return Future.succeededFuture(true);
      }
      if (isStoreRefusal(response)) {
        return Future.succeededFuture(false);
      }
      return Future.failedFuture(failure("save " + key, response));
    });
  }

  private Future<JsonObject> read(String key) {
    return request(HttpMethod.GET, statePath + "/" + key).send().compose(response -> {
      if (response.statusCode() == 204 || response.statusCode() == 200 && response.body() == null) {
        return Future.succeededFuture(null);
      }
      if (response.statusCode() != 200) {
        return Future.failedFuture(failure("get " + key, response));
      }
      return Future.succeededFuture(response.bodyAsJsonObject());
    });
  }

  private HttpRequest<Buffer> request(HttpMethod method, String uri) {
    HttpRequest<Buffer> request = client.request(method, uri).timeout(config.timeoutMs())
      .putHeader("Content-Type", "application/json");
    if (config.apiToken() != null) {
      request.putHeader("dapr-api-token", config.apiToken());
    }
    return request;
  }

  private static boolean isStoreRefusal(HttpResponse<Buffer> response) {
    if (response.statusCode() == 409) {
      return true;
    }
    try {
      return response.statusCode() == 500 && "ERR_STATE_SAVE".equals(response.bodyAsJsonObject().getString("errorCode"));
    } catch (RuntimeException notJson) {
      return false;
    }
  }

  private IllegalStateException failure(String what, HttpResponse<Buffer> response) {
    return new IllegalStateException(what + " in state store " + config.store() + " through the sidecar answered "
      + response.statusCode() + ": " + response.bodyAsString());
  }

  void close() {
    client.close();
  }
}
