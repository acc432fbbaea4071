package com.example.dapr.todo;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.circuitbreaker.CircuitBreakerState;

import java.util.function.Supplier;

/**
 * todo-api's own meters, beside the HTTP timings Vert.x records (vertx_http_server_*, by route; vertx_http_client_*,
 * by client_name dapr-state / dapr-invoke):
 * <ul>
 *   <li>{@code todo_circuit_breaker_state{breaker}}: 0 closed, 1 half-open, 2 open;</li>
 *   <li>{@code todo_circuit_breaker_transitions_total{breaker, state}};</li>
 *   <li>{@code todo_circuit_breaker_failures_total{breaker, cause}}: each failure a breaker counted, by its cause
 *   ({@link BreakerFailures#causeOf}: timeout, connection_refused, unreachable, or Dapr's error code);</li>
 * </ul>
 * What became of notifications is {@link NotificationDelivery}'s own ({@code todo_notifications_total{outcome}}).
 */
final class TodoMetrics {

  private TodoMetrics() {
  }

  static void register(MeterRegistry registry, SidecarClient sidecar) {
    breaker(registry, sidecar.stateBreakerName(), sidecar::stateBreakerState);
    breaker(registry, sidecar.invokeBreakerName(), sidecar::invokeBreakerState);
    sidecar.onTransition((breaker, state) -> transition(registry, breaker, state));
    sidecar.onCountedFailure((breaker, cause) -> countedFailure(registry, breaker, cause));
  }

  /** Counts one transition of {@code breaker} into {@code state}. */
  static void transition(MeterRegistry registry, String breaker, String state) {
    Counter.builder("todo_circuit_breaker_transitions")
      .description("Circuit breaker transitions, by breaker and the state entered")
      .tag("breaker", breaker).tag("state", state).register(registry).increment();
  }

  /** Counts one failure {@code breaker} counted towards opening, by its {@code cause}. */
  static void countedFailure(MeterRegistry registry, String breaker, String cause) {
    Counter.builder("todo_circuit_breaker_failures")
      .description("Failures a circuit breaker counted towards opening, by breaker and cause")
      .tag("breaker", breaker).tag("cause", cause).register(registry).increment();
  }

  static void breaker(MeterRegistry registry, String name, Supplier<CircuitBreakerState> state) {
    Gauge.builder("todo_circuit_breaker_state", state, s -> switch (s.get()) {
        case CLOSED -> 0;
        case HALF_OPEN -> 1;
        case OPEN -> 2;
      })
      .description("Circuit breaker state: 0 closed, 1 half-open, 2 open")
      // A gauge holds its object weakly by default: this supplier, referenced from nowhere else, was collected and
      // the gauge read NaN (seen in CI). Hold it.
      .strongReference(true)
      .tag("breaker", name).register(registry);
  }
}
