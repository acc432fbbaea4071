package com.example.dapr.todo;

import com.example.dapr.http.Env;

/**
 * Settings of todo-api, from environment variables with the seed's defaults; see the README's configuration table.
 * Tests build one from a map with {@code TodoConfig.from(new Env(Map.of(...)))}.
 */
public record TodoConfig(
  int port,
  String sidecarHost,
  int sidecarHttpPort,
  String apiToken,
  String stateStore,
  String notificationAppId,
  String notifyMethod,
  InvokeMode invokeMode,
  long stateTimeoutMs,
  long notifyTimeoutMs,
  int notifyUndeliveredRetries,
  int stateRetries,
  long retryInitialDelayMs,
  long retryMaxDelayMs,
  int breakerMaxFailures,
  long breakerResetMs,
  int poolSize,
  int maxWaitQueue,
  int maxBodyBytes,
  int redeliveryAttempts,
  long redeliveryInitialDelayMs,
  long redeliveryMaxDelayMs,
  int redeliveryMaxPending) {

  /** How todo-api addresses notification-service through its sidecar. */
  public enum InvokeMode {
    /** {@code POST /v1.0/invoke/{app-id}/method/{method}}. */
    PATH,
    /** {@code POST /{method}} with the header {@code dapr-app-id: {app-id}}. */
    HEADER
  }

  public static TodoConfig from(Env env) {
    return new TodoConfig(
      (int) env.number("APP_PORT", 8000, 0, 65_535),
      env.string("DAPR_SIDECAR_IP", "127.0.0.1"),
      env.port("DAPR_HTTP_PORT", 3500),
      env.string("DAPR_API_TOKEN", null),
      env.string("STATE_STORE_NAME", "statestore"),
      env.string("NOTIFICATION_APP_ID", "notification-service"),
      env.string("NOTIFICATION_METHOD", "notify"),
      InvokeMode.valueOf(env.choice("INVOKE_MODE", "path", "path", "header").toUpperCase()),
      env.number("STATE_TIMEOUT_MS", 2_000, 1, 600_000),
      env.number("NOTIFY_TIMEOUT_MS", 3_000, 1, 600_000),
      (int) env.number("NOTIFY_UNDELIVERED_RETRIES", 2, 0, 10),
      (int) env.number("STATE_RETRIES", 2, 0, 10),
      env.number("RETRY_INITIAL_DELAY_MS", 50, 1, 60_000),
      env.number("RETRY_MAX_DELAY_MS", 1_000, 1, 600_000),
      (int) env.number("BREAKER_MAX_FAILURES", 5, 1, 1_000_000),
      env.number("BREAKER_RESET_MS", 10_000, 1, 3_600_000),
      (int) env.number("HTTP_POOL_SIZE", 256, 1, 100_000),
      (int) env.number("HTTP_MAX_WAIT_QUEUE", 4_096, 0, 1_000_000),
      (int) env.number("MAX_BODY_BYTES", 16_384, 256, 10_485_760),
      (int) env.number("REDELIVERY_ATTEMPTS", 8, 0, 1_000),
      env.number("REDELIVERY_INITIAL_DELAY_MS", 1_000, 1, 3_600_000),
      env.number("REDELIVERY_MAX_DELAY_MS", 30_000, 1, 3_600_000),
      (int) env.number("REDELIVERY_MAX_PENDING", 10_000, 0, 10_000_000));
  }
}
