package com.example.dapr.todo;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.circuitbreaker.CircuitBreakerState;

import java.util.List;
import java.util.function.Supplier;

/**
 * todo-api's own meters, beside the HTTP timings Vert.x records (vertx_http_server_*, by route; vertx_http_client_*,
 * by client_name dapr-state / dapr-invoke):
 * <ul>
 *   <li>{@code todo_circuit_breaker_state{breaker}}: 0 closed, 1 half-open, 2 open;</li>
 *   <li>{@code todo_circuit_breaker_transitions_total{breaker, state}};</li>
 *   <li>{@code todo_circuit_breaker_failures_total{breaker, cause}}: each failure a breaker counted, by its cause
 *   ({@link BreakerFailures#causeOf}: timeout, connection_refused, unreachable, or Dapr's error code);</li>
 *   <li>{@code todo_notifications_total{outcome}}: delivered_first_attempt, delivered_by_outbox, left_to_outbox,
 *   outbox_retries, outbox_already_delivered, outbox_waited_for_first_attempt, outbox_phantoms, given_up; summed over
 *   todo-api's pods, left_to_outbox minus delivered_by_outbox minus given_up is what the outbox still holds;</li>
 *   <li>{@code todo_notifications_in_flight}: first attempts under way.</li>
 * </ul>
 */
final class TodoMetrics {

  private static final List<String> OUTCOMES = List.of("delivered_first_attempt", "delivered_by_outbox",
    "left_to_outbox", "outbox_retries", "outbox_already_delivered", "outbox_waited_for_first_attempt",
    "outbox_phantoms", "given_up");

  private TodoMetrics() {
  }

  static void register(MeterRegistry registry, SidecarClient sidecar, NotificationStats stats,
                       RecentDeliveries recent) {
    breaker(registry, sidecar.stateBreakerName(), sidecar::stateBreakerState);
    breaker(registry, sidecar.invokeBreakerName(), sidecar::invokeBreakerState);
    sidecar.onTransition((breaker, state) -> Counter.builder("todo_circuit_breaker_transitions")
      .description("Circuit breaker transitions, by breaker and the state entered")
      .tag("breaker", breaker).tag("state", state).register(registry).increment());
    sidecar.onCountedFailure((breaker, cause) -> Counter.builder("todo_circuit_breaker_failures")
      .description("Failures a circuit breaker counted towards opening, by breaker and cause")
      .tag("breaker", breaker).tag("cause", cause).register(registry).increment());
    for (String outcome : OUTCOMES) {
      FunctionCounter.builder("todo_notifications", stats, s -> s.toJson().getLong(outcome, 0L))
        .description("What became of notifications in this process, by outcome")
        .tag("outcome", outcome).register(registry);
    }
    Gauge.builder("todo_notifications_in_flight", recent, RecentDeliveries::sendingNow)
      .description("First attempts to deliver a notification under way now").strongReference(true).register(registry);
  }

  private static void breaker(MeterRegistry registry, String name, Supplier<CircuitBreakerState> state) {
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
