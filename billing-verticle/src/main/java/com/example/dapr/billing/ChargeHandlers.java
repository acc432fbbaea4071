package com.example.dapr.billing;

import com.example.dapr.client.SidecarException;
import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.example.dapr.http.JsonErrors;
import com.example.dapr.http.Observability;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;
import java.util.logging.Logger;

/**
 * {@code POST /charges} records a charge once ({@link ChargeLedger}): {@code 201} with the charge when this call
 * recorded it, {@code 200} with the first charge, marked {@code "duplicate": true}, when it was recorded before.
 * {@code GET /charges/{charge_id}} answers the recorded charge, or {@code 404 CHARGE_NOT_FOUND}.
 */
final class ChargeHandlers {

  private static final Logger LOG = Logger.getLogger(ChargeHandlers.class.getName());

  private final ChargeLedger ledger;
  private final Counter recorded;
  private final Counter repeated;

  ChargeHandlers(ChargeLedger ledger, String replica) {
    this.ledger = ledger;
    this.recorded = Counter.builder("charges_recorded")
      .description("Charges this replica recorded in the ledger (a repeat answered from the ledger is not counted)")
      .tag("replica", replica).register(Observability.registry());
    this.repeated = Counter.builder("charges_repeated")
      .description("Charges sent again after they were recorded, answered from the ledger and not recorded again")
      .tag("replica", replica).register(Observability.registry());
  }

  void charge(RoutingContext ctx) {
    Charge charge = JsonBinding.read(ctx, Charge.class);
    Observability.tagTask(charge.taskId());
    ledger.record(charge)
      .onSuccess(result -> {
        if (result.first()) {
          recorded.increment();
          LOG.info(() -> "Charge recorded: " + charge.chargeId() + " (task_id=" + charge.taskId() + ")");
        } else {
          repeated.increment();
          LOG.info(() -> "Charge " + charge.chargeId() + " received again: answered from the ledger (recorded by "
            + result.entry().replica() + " at " + result.entry().recordedAt() + "), not charged twice");
        }
        send(ctx, result.first() ? 201 : 200, result.entry().answer(!result.first()));
      })
      .onFailure(failure -> JsonErrors.send(ctx, unavailable("cannot record charge " + charge.chargeId(), failure)));
  }

  void find(RoutingContext ctx) {
    String chargeId = ctx.pathParam("charge_id");
    if (chargeId.isBlank() || chargeId.length() > Charge.MAX_CHARGE_ID_LENGTH) {
      JsonErrors.send(ctx, ApiException.badRequest("INVALID_CHARGE_ID", "a charge id is 1 to "
        + Charge.MAX_CHARGE_ID_LENGTH + " characters"));
      return;
    }
    ledger.find(chargeId)
      .onSuccess(entry -> {
        if (entry == null) {
          JsonErrors.send(ctx, new ApiException(404, "CHARGE_NOT_FOUND", "no charge " + chargeId + " in the ledger"));
        } else {
          send(ctx, 200, entry.answer(false));
        }
      })
      .onFailure(failure -> JsonErrors.send(ctx, unavailable("cannot read charge " + chargeId, failure)));
  }

  private static void send(RoutingContext ctx, int status, Object body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(JsonBinding.encode(body));
  }

  /** {@code 503 LEDGER_UNAVAILABLE}, with Dapr's error code and status when the sidecar answered one: retry later. */
  private static ApiException unavailable(String what, Throwable failure) {
    JsonObject details = failure instanceof SidecarException e ? e.daprFields() : new JsonObject();
    return new ApiException(503, "LEDGER_UNAVAILABLE", what + ": " + failure.getMessage(), details,
      Map.of("Retry-After", "1"), failure);
  }
}
