package com.example.dapr.billing;

import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprTransport;
import com.example.dapr.http.JsonBinding;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ledger of charges, one entry per {@code charge_id} under {@code charge-<charge_id>}, in billing-service's own
 * state store through its own sidecar ({@code POST}/{@code GET /v1.0/state/billingstore}). Each entry is saved
 * first-write without an ETag: only the first save of a key succeeds, on any replica, so a charge is recorded once
 * however many times and wherever it is sent. The entry is the charge itself: there is nothing to do after it is
 * saved, so one write is the whole of exactly-once here (notification-service needs a claim and a record because its
 * delivery happens outside the store).
 */
final class ChargeLedger {

  /** What recording a charge found: the entry in the ledger, and whether this call is the one that recorded it. */
  record Recorded(LedgerEntry entry, boolean first) {
  }

  private final DaprTransport transport;
  private final DaprState state;
  private final String replica;
  /**
   * The attempts of this process whose save's outcome it never learned (the save and the read back both failed, a
   * sidecar whose answers come after STATE_TIMEOUT_MS for one): when a later delivery finds one of them in the ledger,
   * that delivery is the one that confirms the charge, and says so, once. Bounded: past it, such a charge is still
   * recorded once but confirmed as a repeat.
   */
  private final Set<String> unconfirmed = ConcurrentHashMap.newKeySet();
  private static final int MAX_UNCONFIRMED = 10_000;

  ChargeLedger(Vertx vertx, BillingConfig.Ledger config, String replica) {
    this.transport = new DaprTransport(vertx, new DaprTransport.Options(config.sidecarHost(), config.sidecarHttpPort(),
      config.apiToken(), 64, 4_096, config.timeoutMs(), "billing-service", "dapr-state"));
    this.state = new DaprState(transport, config.store(), config.timeoutMs());
    this.replica = replica;
  }

  String store() {
    return state.store();
  }

  /**
   * Records {@code charge} unless the ledger holds it already; answers the entry the ledger holds. Fails when the store
   * cannot tell: the save failed and no entry could be read, so the caller sends the charge again.
   */
  Future<Recorded> record(Charge charge) {
    String key = key(charge.chargeId());
    LedgerEntry entry = new LedgerEntry(charge.chargeId(), charge.taskId(), charge.title(), charge.completedAt(),
      Instant.now().toString(), replica, UUID.randomUUID().toString());
    return state.save("record charge " + charge.chargeId(), List.of(Item.of(key, JsonBinding.toJsonObject(entry))
        .ifAbsent()))
      .map(saved -> new Recorded(entry, true))
      // Refused (recorded before), or failed midway (the save may or may not have been applied): the ledger tells.
      // When neither tells, the save's own failure is the answer, and the attempt is kept as unconfirmed.
      .recover(failure -> find(charge.chargeId()).transform(read -> {
        if (read.succeeded() && read.result() != null) {
          String recordedBy = read.result().attempt();
          return Future.succeededFuture(new Recorded(read.result(),
            recordedBy.equals(entry.attempt()) || unconfirmed.remove(recordedBy)));
        }
        if (unconfirmed.size() < MAX_UNCONFIRMED) {
          unconfirmed.add(entry.attempt());
        }
        return Future.failedFuture(failure);
      }));
  }

  /** The entry of {@code chargeId}, or null when the ledger has none. */
  Future<LedgerEntry> find(String chargeId) {
    return state.get(key(chargeId)).map(found -> found == null ? null
      : JsonBinding.bind(found.value(), LedgerEntry.class));
  }

  void close() {
    transport.close();
  }

  private static String key(String chargeId) {
    return "charge-" + chargeId;
  }
}
