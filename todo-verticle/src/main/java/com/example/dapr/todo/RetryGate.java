package com.example.dapr.todo;

import io.vertx.circuitbreaker.RetryPolicy;
import io.vertx.core.Future;

import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Lets a call through vertx-circuit-breaker's retries ({@code CircuitBreakerOptions.setMaxRetries}) be sent again only
 * after a failure that may be retried. The breaker retries every failure alike (5.0.8, {@code
 * CircuitBreakerImpl#retryPromise}) and counts only the last attempt's outcome; so the first failure that must not be
 * sent again is wrapped in {@link Final}, which every later attempt of the same call returns at once without sending,
 * and which {@link #delays} waits no time for. {@link #unwrap} gives the caller the real failure.
 */
final class RetryGate {

  /** A failure that ends the call's attempts. */
  static final class Final extends RuntimeException {
    Final(Throwable failure) {
      super(failure.getMessage(), failure, false, false);
    }
  }

  private RetryGate() {
  }

  /** One call's attempts: {@code send} again while each failure passes {@code retryable}. A new gate per call. */
  static <T> Supplier<Future<T>> attempts(Supplier<Future<T>> send, Predicate<Throwable> retryable) {
    Final[] stop = new Final[1];
    return () -> {
      if (stop[0] != null) {
        return Future.failedFuture(stop[0]);
      }
      return send.get().recover(failure -> {
        if (!retryable.test(failure)) {
          stop[0] = new Final(failure);
          return Future.failedFuture(stop[0]);
        }
        return Future.failedFuture(failure);
      });
    };
  }

  /**
   * The breaker's delays: exponential with full jitter ({@link RetryPolicy#exponentialDelayWithJitter}), at least 1 ms
   * so that a retry always yields to the event loop first; none after a {@link Final} failure, which sends nothing.
   */
  static RetryPolicy delays(long initialDelayMs, long maxDelayMs) {
    RetryPolicy jittered = RetryPolicy.exponentialDelayWithJitter(initialDelayMs, Math.max(initialDelayMs, maxDelayMs));
    return (failure, retryCount) -> failure instanceof Final ? 0 : Math.max(1, jittered.delay(failure, retryCount));
  }

  static Throwable unwrap(Throwable failure) {
    return failure instanceof Final f ? f.getCause() : failure;
  }
}
