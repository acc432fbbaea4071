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
 * store ({@code POST}/{@code GET /v1.0/state/notificationstore}). A replica first claims a notification under
 * {@code claim-<id>} (a first-write save without an ETag: only the first claim of a key succeeds, on any replica),
 * delivers it, then saves its answer under {@code delivery-<id>}; an attempt that finds the answer gets it back instead
 * of a second delivery, one that finds only a claim is told to come back later ({@link InProgress}).
 * <p>
 * A claim with no answer after {@code CLAIM_TIMEOUT_MS} was abandoned (its replica died, or the store failed under it
 * and it delivered nothing) and is taken over, with the claim's ETag so that only one replica does. So no
 * notification is lost to a replica or a store that fails; the price is the one window left: a replica that dies
 * between delivering and saving its answer (one round trip) has its notification delivered again after the timeout.
 * (Saving the answer before delivering, in one write, turns that window into a loss, and also loses a notification
 * whose save the store applied but failed to acknowledge: the fault suite saw both.) Two keys, because Redis refuses
 * any later save of a key first written first-write unless it carries the key's ETag, which Dapr's save does not
 * answer.
 */
final class DeliveryRecords {

  /** What claiming a notification found. */
  sealed interface Claim {
  }

  /** The notification is this replica's to deliver; then {@link #delivered} records the answer. */
  record Claimed() implements Claim {
  }

  /** It was delivered before: {@code answer} is what that delivery answered. */
  record AlreadyDelivered(JsonObject answer) implements Claim {
  }

  /** Another replica claimed it less than {@code CLAIM_TIMEOUT_MS} ago and has not recorded an answer yet. */
  record InProgress(String replica) implements Claim {
  }

  private final NotificationConfig.Dedup config;
  private final String replica;
  private final WebClient client;
  private final String statePath;

  DeliveryRecords(Vertx vertx, NotificationConfig.Dedup config, String replica) {
    this.config = config;
    this.replica = replica;
    this.client = WebClient.create(vertx, new WebClientOptions()
        .setDefaultHost(config.sidecarHost()).setDefaultPort(config.sidecarHttpPort())
        .setKeepAlive(true).setTcpNoDelay(true).setUserAgent("notification-service"),
      new PoolOptions().setHttp1MaxSize(64).setMaxWaitQueueSize(4_096));
    this.statePath = "/v1.0/state/" + config.store();
  }

  /** Claims {@code notificationId} for this replica, or says who has it. Fails when the store cannot be reached. */
  Future<Claim> claim(String notificationId) {
    String key = "claim-" + notificationId;
    JsonObject claim = new JsonObject().put("replica", replica).put("claimed_at", System.currentTimeMillis());
    return save(key, claim, null, true).compose(saved -> saved ? Future.succeededFuture(new Claimed())
      : read("delivery-" + notificationId).compose(delivery -> delivery != null
        ? Future.succeededFuture(new AlreadyDelivered(delivery.value()))
        : read(key).compose(existing -> existing == null
          // Expired between the calls: nobody has it now; the sender tries again.
          ? Future.succeededFuture(new InProgress("nobody"))
          : takeOverIfAbandoned(key, existing, claim))));
  }

  private Future<Claim> takeOverIfAbandoned(String key, Entry existing, JsonObject claim) {
    long claimedAt = existing.value().getLong("claimed_at", 0L);
    if (System.currentTimeMillis() - claimedAt < config.claimTimeoutMs()) {
      return Future.succeededFuture(new InProgress(existing.value().getString("replica")));
    }
    return save(key, claim, existing.etag(), true)
      .map(taken -> taken ? new Claimed() : new InProgress("another replica"));
  }

  /** Records that this replica delivered {@code notificationId} and answered {@code answer}. */
  Future<Void> delivered(String notificationId, JsonObject answer) {
    return save("delivery-" + notificationId, answer, null, false).mapEmpty();
  }

  /**
   * A save of {@code key}, expiring after the TTL; {@code firstWrite} makes it conditional: on {@code etag}, or without
   * one, on the key having no value. Answers whether it was saved; false when the store refused a conditional save:
   * the in-memory store answers 409 for a taken key, Redis 500 ERR_STATE_SAVE (for a key first written first-write,
   * as every claim is), which is also what it answers when it fails, so the caller reads the key to tell.
   */
  private Future<Boolean> save(String key, JsonObject value, String etag, boolean firstWrite) {
    JsonObject item = new JsonObject().put("key", key).put("value", value)
      .put("metadata", new JsonObject().put("ttlInSeconds", String.valueOf(config.ttlSeconds())));
    if (firstWrite) {
      item.put("options", new JsonObject().put("concurrency", "first-write"));
    }
    if (etag != null) {
      item.put("etag", etag);
    }
    return request(HttpMethod.POST, statePath).sendBuffer(new JsonArray().add(item).toBuffer()).compose(response -> {
      if (response.statusCode() / 100 == 2) {
        return Future.succeededFuture(true);
      }
      if (firstWrite && isStoreRefusal(response)) {
        return Future.succeededFuture(false);
      }
      return Future.failedFuture(failure("save " + key, response));
    });
  }

  private record Entry(JsonObject value, String etag) {
  }

  private Future<Entry> read(String key) {
    return request(HttpMethod.GET, statePath + "/" + key).send().compose(response -> {
      if (response.statusCode() == 204 || response.statusCode() == 200 && response.body() == null) {
        return Future.succeededFuture(null);
      }
      if (response.statusCode() != 200) {
        return Future.failedFuture(failure("get " + key, response));
      }
      return Future.succeededFuture(new Entry(response.bodyAsJsonObject(), response.getHeader("ETag")));
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
