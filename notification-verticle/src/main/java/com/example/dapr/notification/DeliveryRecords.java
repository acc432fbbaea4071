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

import java.util.List;
import java.util.UUID;
import java.util.logging.Logger;

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
 * <p>
 * Both writes are batched ({@link Batcher}): claims that arrive while a claim call is under way go together in Dapr's
 * bulk save ({@code POST /v1.0/state/notificationstore} with many items), answers in one
 * {@code POST /v1.0/state/notificationstore/transaction} (one round trip to Redis for the whole batch). Every claim
 * carries a token of its own attempt: when a bulk save fails (Dapr answers one error for the batch if any item was
 * refused, and applies the others), each claim is read back, and it is this attempt's if it holds its token.
 */
final class DeliveryRecords {

  private static final Logger LOG = Logger.getLogger(DeliveryRecords.class.getName());

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
  private final Batcher<JsonObject> claims;
  private final Batcher<JsonObject> answers;
  private final Vertx vertx;
  private volatile boolean closed;

  DeliveryRecords(Vertx vertx, NotificationConfig.Dedup config, String replica) {
    this.config = config;
    this.replica = replica;
    this.vertx = vertx;
    this.client = WebClient.create(vertx, new WebClientOptions()
        .setDefaultHost(config.sidecarHost()).setDefaultPort(config.sidecarHttpPort())
        .setKeepAlive(true).setTcpNoDelay(true).setUserAgent("notification-service")
        .setMetricsName("dapr-state"),
      new PoolOptions().setHttp1MaxSize(64).setMaxWaitQueueSize(4_096));
    this.statePath = "/v1.0/state/" + config.store();
    this.claims = new Batcher<>(config.batchMax(), this::saveAll);
    this.answers = new Batcher<>(vertx, config.batchMax(), config.recordLingerMs(), this::upsertAll);
  }

  /** Claims {@code notificationId} for this replica, or says who has it. Fails when the store cannot be reached. */
  Future<Claim> claim(String notificationId) {
    String key = "claim-" + notificationId;
    JsonObject claim = new JsonObject().put("replica", replica).put("claimed_at", System.currentTimeMillis())
      .put("attempt", UUID.randomUUID().toString());
    return claims.submit(item(key, claim, null, true))
      .<Claim>map(saved -> new Claimed())
      // Refused for this claim or another of its batch, or the store failed: what is stored now tells.
      .recover(refusedOrFailed -> read(key).compose(existing -> isThisAttempt(existing, claim)
        ? Future.succeededFuture(new Claimed())
        : read("delivery-" + notificationId).compose(delivery -> delivery != null
          ? Future.succeededFuture(new AlreadyDelivered(delivery.value()))
          : existing == null
          // Expired, or this claim was not applied: nobody has it now; the sender tries again.
          ? Future.succeededFuture(new InProgress("nobody"))
          : takeOverIfAbandoned(key, existing, claim))));
  }

  private static boolean isThisAttempt(Entry existing, JsonObject claim) {
    return existing != null && claim.getString("attempt").equals(existing.value().getString("attempt"));
  }

  private Future<Claim> takeOverIfAbandoned(String key, Entry existing, JsonObject claim) {
    long claimedAt = existing.value().getLong("claimed_at", 0L);
    if (System.currentTimeMillis() - claimedAt < config.claimTimeoutMs()) {
      return Future.succeededFuture(new InProgress(existing.value().getString("replica")));
    }
    return saveIfUnchanged(key, claim, existing.etag())
      .map(taken -> taken ? new Claimed() : new InProgress("another replica"));
  }

  /**
   * Records that this replica delivered {@code notificationId} and answered {@code answer}. When the record cannot be
   * saved (this replica's sidecar is down or restarting, the store fails), it is tried again, 250 ms later and then
   * up to every 2 s, for up to three claim timeouts: the claim stays this replica's for one claim timeout, so a
   * sidecar back within it leaves no window for a second delivery. Fails when it gave up, or the replica stops.
   */
  Future<Void> delivered(String notificationId, JsonObject answer) {
    return recordUntilSaved(notificationId, item("delivery-" + notificationId, answer, null, false),
      System.currentTimeMillis() + 3 * config.claimTimeoutMs(), 250);
  }

  private Future<Void> recordUntilSaved(String notificationId, JsonObject item, long giveUpAt, long delayMs) {
    return answers.submit(item).recover(failure -> {
      if (closed || System.currentTimeMillis() + delayMs > giveUpAt) {
        return Future.failedFuture(failure);
      }
      if (delayMs == 250) {
        LOG.warning(() -> "the answer to notification " + notificationId + " is not recorded yet (" + failure.getMessage()
          + "); trying again until " + java.time.Instant.ofEpochMilli(giveUpAt));
      }
      return vertx.timer(delayMs).compose(t -> recordUntilSaved(notificationId, item, giveUpAt,
        Math.min(2 * delayMs, 2_000)));
    });
  }

  /** One item of a save: {@code value} under {@code key}, expiring after the TTL, first-write when asked. */
  private JsonObject item(String key, JsonObject value, String etag, boolean firstWrite) {
    JsonObject item = new JsonObject().put("key", key).put("value", value)
      .put("metadata", new JsonObject().put("ttlInSeconds", String.valueOf(config.ttlSeconds())));
    if (firstWrite) {
      item.put("options", new JsonObject().put("concurrency", "first-write"));
    }
    if (etag != null) {
      item.put("etag", etag);
    }
    return item;
  }

  /** Dapr's bulk save of {@code items}: one call, which fails if the store refused or failed any of them. */
  private Future<Void> saveAll(List<JsonObject> items) {
    String what = items.size() == 1 ? "save " + items.get(0).getString("key") : "save " + items.size() + " claims";
    return request(HttpMethod.POST, statePath).sendBuffer(new JsonArray(items).toBuffer())
      .compose(response -> response.statusCode() / 100 == 2 ? Future.succeededFuture()
        : Future.failedFuture(failure(what, response)));
  }

  /** {@code items} upserted in one transaction: one call, and one round trip from the sidecar to Redis. */
  private Future<Void> upsertAll(List<JsonObject> items) {
    JsonArray operations = new JsonArray(items.stream()
      .map(item -> new JsonObject().put("operation", "upsert").put("request", item)).toList());
    return request(HttpMethod.POST, statePath + "/transaction")
      .sendBuffer(new JsonObject().put("operations", operations).toBuffer())
      .compose(response -> response.statusCode() / 100 == 2 ? Future.succeededFuture()
        : Future.failedFuture(failure("record " + items.size() + " answer(s)", response)));
  }

  /**
   * A save of {@code key} only if it is still at {@code etag} (taking over an abandoned claim). Answers whether it was
   * saved; false when the store refused it: the in-memory store answers 409, Redis 500 ERR_STATE_SAVE, which is also
   * what it answers when it fails, so the caller reads the key to tell.
   */
  private Future<Boolean> saveIfUnchanged(String key, JsonObject value, String etag) {
    return request(HttpMethod.POST, statePath).sendBuffer(new JsonArray().add(item(key, value, etag, true)).toBuffer())
      .compose(response -> response.statusCode() / 100 == 2 ? Future.succeededFuture(true)
        : isStoreRefusal(response) ? Future.succeededFuture(false)
        : Future.failedFuture(failure("save " + key, response)));
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

  /** Records every answer still waiting, at once; completes when they are recorded or failed. */
  Future<Void> flush() {
    return answers.flush();
  }

  void close() {
    closed = true;
    client.close();
  }
}
