package com.example.dapr.notification;

import io.vertx.ext.web.RoutingContext;

import java.util.logging.Logger;

/**
 * Faults a test can switch on, only when the service runs with {@code FAULT_INJECTION=true}: {@code PUT /faults}
 * {@code {"delay_ms": 5000}} makes every {@code /notify} answer that much later (slower than todo-api's
 * {@code NOTIFY_TIMEOUT_MS}, say); {@code {"delay_ms": 0}} turns it off. Shared by the verticle instances of a process.
 */
final class Faults implements io.vertx.core.shareddata.Shareable {

  private static final Logger LOG = Logger.getLogger(Faults.class.getName());
  static final long MAX_DELAY_MS = 600_000;

  private volatile long delayMs;

  long delayMs() {
    return delayMs;
  }

  void set(RoutingContext ctx) {
    Long value = com.example.dapr.http.JsonBinding.read(ctx, Body.class).delayMs();
    if (value == null || value < 0 || value > MAX_DELAY_MS) {
      throw com.example.dapr.http.ApiException.badRequest("INVALID_FIELD",
        "'delay_ms' must be a number of milliseconds from 0 to " + MAX_DELAY_MS);
    }
    delayMs = value;
    LOG.warning(() -> "fault injection: /notify now answers " + delayMs + " ms late");
    ctx.response().putHeader("Content-Type", "application/json")
      .end(com.example.dapr.http.JsonBinding.encode(new Body(delayMs)));
  }

  /** {@code {"delay_ms": 5000}}. */
  record Body(Long delayMs) {
  }
}
