package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import com.example.dapr.client.SidecarException.Kind;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.circuitbreaker.FailurePolicy;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * One target's {@link CircuitBreaker} (the state store, or notification-service): opens after BREAKER_MAX_FAILURES
 * failures that count, all within BREAKER_WINDOW_MS with no call between them that it did not count, for
 * BREAKER_RESET_MS; retries a call with jittered backoff while its failure may be sent again ({@link RetryGate}). An
 * answer about the request (a 4xx, a store's refusal of a conditional write) is no failure of the target. Each
 * counted failure is logged and counted by cause ({@link BreakerFailures}).
 */
final class BreakerGuard {

  private static final Logger LOG = Logger.getLogger(BreakerGuard.class.getName());

  private final String name;
  private final CircuitBreaker breaker;
  private final BreakerFailures failures;

  /**
   * {@code counts}: which failures count against the target, of those that are not answers about the request.
   * {@code transitions} hears (name, new state), {@code counted} (name, cause).
   */
  BreakerGuard(Vertx vertx, String name, TodoConfig.Resilience resilience, int maxRetries, Predicate<Throwable> counts,
               BiConsumer<String, String> transitions, BiConsumer<String, String> counted) {
    this.name = name;
    this.failures = new BreakerFailures(name, resilience.breakerWindowMs(), resilience.breakerResetMs(), 1_000,
      System::currentTimeMillis, counted);
    this.breaker = CircuitBreaker.create(name, vertx, new CircuitBreakerOptions()
      .setMaxFailures(resilience.breakerMaxFailures())
      .setFailuresRollingWindow(resilience.breakerWindowMs())
      .setTimeout(-1) // each attempt has its own (DaprTransport), so that its failure names the call
      .setMaxRetries(maxRetries)
      .setResetTimeout(resilience.breakerResetMs())
      .setFallbackOnFailure(false));
    breaker.retryPolicy(RetryGate.delays(resilience.retryInitialDelayMs(), resilience.retryMaxDelayMs()));
    breaker.failurePolicy((FailurePolicy<Object>) outcome -> {
      Throwable failure = outcome.failed() ? RetryGate.unwrap(outcome.cause()) : null;
      // An open circuit met during a call's retries is no new failure of the target.
      if (failure == null || failure instanceof OpenCircuitException || answersTheRequest(failure)
        || !counts.test(failure)) {
        failures.forget(); // the breaker resets its count on every outcome it does not count (Completion#handle)
        return false;
      }
      failures.counted(BreakerFailures.causeOf(failure), failure.getMessage());
      return true;
    });
    breaker.openHandler(v -> {
      failures.opened();
      transitions.accept(name, "open");
    }).halfOpenHandler(v -> {
      LOG.info(() -> "circuit breaker '" + name + "' HALF-OPEN: letting one call through");
      transitions.accept(name, "half_open");
    }).closeHandler(v -> {
      LOG.info(() -> "circuit breaker '" + name + "' CLOSED");
      failures.closed();
      transitions.accept(name, "closed");
    });
  }

  /** A 4xx or a refused conditional write: the target is healthy, the request was wrong or lost a race. */
  private static boolean answersTheRequest(Throwable failure) {
    return failure instanceof SidecarException e
      && (e.isStoreRefusal() || e.kind() == Kind.ERROR_RESPONSE && e.status() / 100 == 4);
  }

  /**
   * {@code attempt} through the breaker, sent again while each failure is {@code retryable}. Fails with the last
   * attempt's {@link SidecarException}, or with {@link Kind#CIRCUIT_OPEN} when the breaker did not let it out.
   */
  <T> Future<T> execute(String operation, Supplier<Future<T>> attempt, Predicate<Throwable> retryable) {
    return breaker.<T>execute(RetryGate.attempts(attempt, retryable)).recover(failure -> {
      Throwable cause = RetryGate.unwrap(failure);
      return Future.failedFuture(cause instanceof OpenCircuitException
        ? new SidecarException(Kind.CIRCUIT_OPEN, operation, 0, null,
          operation + ": circuit breaker open after repeated failures, not calling the sidecar", cause)
        : cause);
    });
  }

  String name() {
    return name;
  }

  CircuitBreakerState state() {
    return breaker.state();
  }

  /** Why it opened ({@link BreakerFailures#why()}) while it is not closed, else null. */
  io.vertx.core.json.JsonObject whyNotClosed() {
    return breaker.state() == CircuitBreakerState.CLOSED ? null : failures.why();
  }

  void close() {
    breaker.close();
  }
}
