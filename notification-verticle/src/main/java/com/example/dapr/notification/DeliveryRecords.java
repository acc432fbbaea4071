package com.example.dapr.notification;

import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprState.Entry;
import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprState.Operation;
import com.example.dapr.client.DaprTransport;
import com.example.dapr.client.SidecarException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

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
 * Saving the answer before delivering, in one write, would turn that window into a loss (docs/durability.md). Two
 * keys, because Redis refuses
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
  private final DaprTransport transport;
  private final DaprState state;
  private final Batcher<Item> claims;
  private final Batcher<Item> answers;
  private final Vertx vertx;
  private volatile boolean closed;

  DeliveryRecords(Vertx vertx, NotificationConfig.Dedup config, String replica) {
    this.config = config;
    this.replica = replica;
    this.vertx = vertx;
    this.transport = new DaprTransport(vertx, new DaprTransport.Options(config.sidecarHost(), config.sidecarHttpPort(),
      config.apiToken(), 64, 4_096, config.timeoutMs(), "notification-service", "dapr-state"));
    this.state = new DaprState(transport, config.store(), config.timeoutMs());
    this.claims = new Batcher<>(config.batchMax(), this::saveAll);
    this.answers = new Batcher<>(vertx, config.batchMax(), config.recordLingerMs(), this::upsertAll);
  }

  /** Claims {@code notificationId} for this replica, or says who has it. Fails when the store cannot be reached. */
  Future<Claim> claim(String notificationId) {
    String key = "claim-" + notificationId;
    JsonObject claim = new JsonObject().put("replica", replica).put("claimed_at", System.currentTimeMillis())
      .put("attempt", UUID.randomUUID().toString());
    return claims.submit(item(key, claim).ifAbsent())
      .<Claim>map(saved -> new Claimed())
      // Refused for this claim or another of its batch, or the store failed: what is stored now tells.
      .recover(refusedOrFailed -> state.get(key).compose(existing -> isThisAttempt(existing, claim)
        ? Future.succeededFuture(new Claimed())
        : state.get("delivery-" + notificationId).compose(delivery -> delivery != null
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
    return saveIfUnchanged(item(key, claim).ifEtag(existing.etag()))
      .map(taken -> taken ? new Claimed() : new InProgress("another replica"));
  }

  /**
   * Records that this replica delivered {@code notificationId} and answered {@code answer}. When the record cannot be
   * saved (this replica's sidecar is down or restarting, the store fails), it is tried again, 250 ms later and then
   * up to every 2 s, for up to three claim timeouts: the claim stays this replica's for one claim timeout, so a
   * sidecar back within it leaves no window for a second delivery. Fails when it gave up, or the replica stops.
   */
  Future<Void> delivered(String notificationId, JsonObject answer) {
    return recordUntilSaved(notificationId, item("delivery-" + notificationId, answer),
      System.currentTimeMillis() + 3 * config.claimTimeoutMs(), 250);
  }

  private Future<Void> recordUntilSaved(String notificationId, Item item, long giveUpAt, long delayMs) {
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

  /** One item of a save: {@code value} under {@code key}, expiring after the TTL. */
  private Item item(String key, JsonObject value) {
    return Item.of(key, value).ttlSeconds(config.ttlSeconds());
  }

  /** Dapr's bulk save of {@code items}: one call, which fails if the store refused or failed any of them. */
  private Future<Void> saveAll(List<Item> items) {
    return state.save(items.size() == 1 ? "save " + items.get(0).key() : "save " + items.size() + " claims", items);
  }

  /** {@code items} upserted in one transaction: one call, and one round trip from the sidecar to Redis. */
  private Future<Void> upsertAll(List<Item> items) {
    return state.transaction("record " + items.size() + " answer(s)", items.stream().map(Operation::upsert).toList());
  }

  /**
   * A save of a claim only if it is still at its ETag (taking over an abandoned claim). Answers whether it was saved;
   * false when the store refused it, which a failing store answers too, so the caller reads the key to tell.
   */
  private Future<Boolean> saveIfUnchanged(Item claim) {
    return state.save("save " + claim.key(), List.of(claim)).map(saved -> true)
      .recover(failure -> failure instanceof SidecarException e && e.isStoreRefusal()
        ? Future.succeededFuture(false) : Future.failedFuture(failure));
  }

  /** Records every answer still waiting, at once; completes when they are recorded or failed. */
  Future<Void> flush() {
    return answers.flush();
  }

  void close() {
    closed = true;
    transport.close();
  }
}
