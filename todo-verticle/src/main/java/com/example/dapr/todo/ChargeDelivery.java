package com.example.dapr.todo;

import com.example.dapr.client.DaprInvoke;
import com.example.dapr.client.DaprTransport;
import com.example.dapr.client.SidecarException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.function.BiConsumer;
import java.util.logging.Logger;

/**
 * Sends completions' charges to billing-service's {@code charges} method through the sidecar, on a pool of connections
 * and behind a breaker of its own (BILLING_TIMEOUT_MS), so that a billing-service down or slow holds up neither
 * creates nor notifications. Owns which charges this process delivered and the counts by outcome
 * ({@code todo_charges_total{outcome}}). Every charge was saved with its completion in Dapr's outbox before it is sent
 * here; one that an attempt does not deliver, the outbox delivers later ({@link OutboxSubscriber}), and billing-service
 * records it once whichever attempt arrives.
 */
final class ChargeDelivery implements MeterBinder {

  private static final Logger LOG = Logger.getLogger(ChargeDelivery.class.getName());

  /** What became of charges, as counted; the label is the {@code outcome} tag. */
  enum Counted {
    CHARGED_FIRST_ATTEMPT,
    CHARGED_BY_OUTBOX,
    /** A first attempt that did not charge (yet): the outbox will. */
    LEFT_TO_OUTBOX,
    /** An outbox attempt that did not charge: the event is answered RETRY. */
    OUTBOX_RETRIES,
    /** An outbox event whose charge this process had delivered already: not sent again. */
    OUTBOX_ALREADY_CHARGED,
    /** billing-service refused the charge itself (a 4xx other than access control): never charged. */
    REFUSED,
    GIVEN_UP
  }

  private final DaprTransport transport;
  private final DaprInvoke charges;
  private final BreakerGuard guard;
  private final RecentDeliveries recent;
  private final OutcomeCounts<Counted> counts = new OutcomeCounts<>(Counted.class);
  private volatile BiConsumer<String, String> transitions = (name, state) -> { };
  private volatile BiConsumer<String, String> failures = (name, cause) -> { };

  ChargeDelivery(Vertx vertx, TodoConfig config) {
    TodoConfig.Billing billing = config.billing();
    TodoConfig.Resilience resilience = config.resilience();
    this.transport = SidecarClient.transport(vertx, config.sidecar(), resilience.stateTimeoutMs(), "dapr-billing");
    this.charges = new DaprInvoke(transport, billing.appId(), billing.method(),
      config.notifications().invokeMode() == TodoConfig.InvokeMode.PATH ? DaprInvoke.Form.PATH : DaprInvoke.Form.HEADER,
      billing.timeoutMs());
    // The same rule as notification-service's: only failures of billing-service as a whole count, not one replica's.
    this.guard = new BreakerGuard(vertx, charges.operation(), resilience, resilience.notifyUndeliveredRetries(),
      new NotifyFailures(resilience.breakerWindowMs(), System::currentTimeMillis),
      (name, state) -> transitions.accept(name, state), (name, cause) -> failures.accept(name, cause));
    this.recent = new RecentDeliveries(config.notifications().rememberDelivered());
  }

  /**
   * Sends {@code charge} once. Never fails: the outcome says {@code {"status": "charged", "charge_id", "replica"}},
   * or {@code "pending"} (the outbox will deliver it) or {@code "failed"} (billing-service refused it), the last two
   * with the error and Dapr's error code.
   */
  Future<Outcome> send(Charge charge, boolean fromOutbox) {
    // Sent again only when Dapr says it never reached a replica; any other repeat is the outbox's, deduplicated by
    // billing-service's ledger.
    Future<Outcome> outcome = guard.execute(charges.operation(), () -> charges.post(charge.toJson()),
        failure -> failure instanceof SidecarException e && e.neverReachedApp())
      .compose(answer -> "charged".equals(answer.getString("status"))
        && charge.chargeId().equals(answer.getString("charge_id")) ? Future.succeededFuture(answer)
        : Future.failedFuture(new SidecarException(SidecarException.Kind.ERROR_RESPONSE, charges.operation(), 200,
          null, charges.operation() + ": the answer is not billing-service's for " + charge.chargeId(), null)))
      .map(answer -> charged(charge, answer, fromOutbox))
      .recover(failure -> Future.succeededFuture(undelivered(charge, failure, fromOutbox)));
    recent.sending(charge.chargeId(), outcome.map(Outcome::delivered));
    return outcome;
  }

  /** Whether this process delivered {@code chargeId}, waiting for the attempt under way when there is one. */
  Future<Boolean> chargedHere(String chargeId) {
    Future<Boolean> inFlight = recent.inFlight(chargeId);
    Future<Boolean> charged = recent.contains(chargeId) ? Future.succeededFuture(true)
      : inFlight != null ? inFlight : Future.succeededFuture(false);
    return charged.map(yes -> {
      if (yes) {
        count(Counted.OUTBOX_ALREADY_CHARGED);
      }
      return yes;
    });
  }

  /** Whether billing-service's breaker is open, so that a charge sent now would fail at once. */
  boolean cannotSendNow() {
    return guard.state() == CircuitBreakerState.OPEN;
  }

  CircuitBreakerState breakerState() {
    return guard.state();
  }

  /** Why the breaker opened, while it is not closed, else null. */
  JsonObject breakerWhy() {
    return guard.whyNotClosed();
  }

  void count(Counted counted) {
    counts.count(counted);
  }

  /** The counts by outcome, for readiness. */
  JsonObject toJson() {
    return counts.toJson();
  }

  /** {@code todo_charges_total{outcome}}, and billing-service's breaker in {@link TodoMetrics}'s breaker meters. */
  @Override
  public void bindTo(MeterRegistry registry) {
    counts.bindTo(registry, "todo_charges", "What became of completions' charges in this process, by outcome");
    TodoMetrics.breaker(registry, guard.name(), guard::state);
    transitions = (name, state) -> TodoMetrics.transition(registry, name, state);
    failures = (name, cause) -> TodoMetrics.countedFailure(registry, name, cause);
  }

  void close() {
    guard.close();
    transport.close();
  }

  private Outcome charged(Charge charge, JsonObject answer, boolean fromOutbox) {
    recent.remember(charge.chargeId());
    count(fromOutbox ? Counted.CHARGED_BY_OUTBOX : Counted.CHARGED_FIRST_ATTEMPT);
    JsonObject json = new JsonObject().put("status", "charged").put("charge_id", charge.chargeId());
    if (answer.getString("replica") != null) {
      json.put("replica", answer.getString("replica"));
    }
    return new Outcome(json, true, false);
  }

  private Outcome undelivered(Charge charge, Throwable failure, boolean fromOutbox) {
    SidecarException error = failure instanceof SidecarException e ? e
      : new SidecarException(SidecarException.Kind.UNREACHABLE, charges.operation(), 0, null, String.valueOf(failure),
        failure);
    JsonObject json = SidecarErrors.toJson(error).put("charge_id", charge.chargeId());
    // A 403 is billing-service's access control refusing this todo-api: a configuration to mend, after which the
    // outbox's next attempt charges it. Dropping it would lose a charge for good.
    if (error.mayPassLater() || error.status() == 403) {
      LOG.fine(() -> "charge " + charge.chargeId() + " not delivered yet (" + error.getMessage()
        + "); the outbox will deliver it");
      count(fromOutbox ? Counted.OUTBOX_RETRIES : Counted.LEFT_TO_OUTBOX);
      return new Outcome(json.put("status", "pending").put("redelivery", "outbox"), false, true);
    }
    count(Counted.REFUSED);
    LOG.severe(() -> "charge " + charge.chargeId() + " refused by billing-service, not charged: " + error.getMessage());
    return new Outcome(json.put("status", "failed"), false, false);
  }
}
