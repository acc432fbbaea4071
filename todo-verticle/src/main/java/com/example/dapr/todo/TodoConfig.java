package com.example.dapr.todo;

import com.example.dapr.http.Env;
import com.example.dapr.http.ServiceHttpServer;

/**
 * Settings of todo-api, from environment variables with the seed's defaults; see docs/configuration.md.
 * Tests build one from a map with {@code TodoConfig.from(new Env(Map.of(...)))}.
 *
 * @param port              APP_PORT, 8000 (0 picks a free port)
 * @param maxBodyBytes      MAX_BODY_BYTES: larger request bodies are refused with 413
 * @param requestReadTimeoutMs REQUEST_READ_TIMEOUT_MS: a request that has not arrived, headers and body, this long
 *                          after its first byte is answered 408 and its connection closed ({@link ServiceHttpServer})
 * @param shutdownDelayMs   SHUTDOWN_DELAY_MS: on SIGTERM, how long readiness answers 503 while requests are still
 *                          served, so that load balancers stop sending before the listener closes
 * @param shutdownTimeoutMs SHUTDOWN_TIMEOUT_MS: then, how long requests in flight get to finish
 */
public record TodoConfig(int port, int maxBodyBytes, long requestReadTimeoutMs, long shutdownDelayMs,
                         long shutdownTimeoutMs, Sidecar sidecar, Notifications notifications, Billing billing,
                         Resilience resilience) {

  /**
   * Where todo-api's Dapr sidecar is and how to talk to it: {@code apiToken} (DAPR_API_TOKEN) goes with every call to
   * it; {@code appApiToken} (APP_API_TOKEN) is what it sends with every call it makes to todo-api, which the routes
   * only the sidecar calls ({@code /dapr/subscribe}, the outbox deliveries) require when it is set.
   */
  public record Sidecar(String host, int httpPort, String apiToken, String appApiToken, String stateStore, int poolSize,
                        int maxWaitQueue) {
  }

  /**
   * Where notifications go and how they are made durable: invoked on {@code appId}/{@code method} through the sidecar
   * at once, and saved with the task through Dapr's transactional outbox, which publishes them to {@code pubsub}/
   * {@code topic}; todo-api subscribes to that topic (and to {@code retryTopic}, the dead-letter topic where Dapr
   * puts a notification whose retries ran out) and delivers what the first attempt did not.
   */
  public record Notifications(String appId, String method, InvokeMode invokeMode, String pubsub, String topic,
                              String retryTopic, long giveUpAfterMs, int rememberDelivered) {
  }

  /**
   * Where a completion's charge goes: {@code appId}/{@code method} (BILLING_APP_ID, {@code billing-service}, or
   * {@code billing-service.<namespace>} for another namespace; BILLING_METHOD, {@code charges}) in the notifications'
   * invocation form, each call within {@code timeoutMs} (BILLING_TIMEOUT_MS), behind a breaker of its own.
   * CHARGES={@code off} ({@code enabled} false) completes tasks without charging them, for a system that runs no
   * billing-service; a completion made then is never charged later.
   */
  public record Billing(boolean enabled, String appId, String method, long timeoutMs) {
  }

  /**
   * Timeouts, retries and breakers of the calls to the sidecar. A breaker opens after {@code breakerMaxFailures}
   * counted failures within {@code breakerWindowMs} with no other outcome between them, for {@code breakerResetMs}.
   */
  public record Resilience(long stateTimeoutMs, long notifyTimeoutMs, int notifyUndeliveredRetries, int stateRetries,
                           long retryInitialDelayMs, long retryMaxDelayMs, int breakerMaxFailures,
                           long breakerResetMs, long breakerWindowMs) {
  }

  /** How todo-api addresses notification-service through its sidecar. */
  public enum InvokeMode {
    /** {@code POST /v1.0/invoke/{app-id}/method/{method}}. */
    PATH,
    /** {@code POST /{method}} with the header {@code dapr-app-id: {app-id}}. */
    HEADER
  }

  public static TodoConfig from(Env env) {
    Sidecar sidecar = new Sidecar(
      env.string("DAPR_SIDECAR_IP", "127.0.0.1"),
      env.port("DAPR_HTTP_PORT", 3500),
      env.string("DAPR_API_TOKEN", null),
      env.string("APP_API_TOKEN", null),
      env.string("STATE_STORE_NAME", "statestore"),
      (int) env.number("HTTP_POOL_SIZE", 256, 1, 100_000),
      (int) env.number("HTTP_MAX_WAIT_QUEUE", 4_096, 0, 1_000_000));
    Notifications notifications = new Notifications(
      env.string("NOTIFICATION_APP_ID", "notification-service"),
      env.string("NOTIFICATION_METHOD", "notify"),
      InvokeMode.valueOf(env.choice("INVOKE_MODE", "path", "path", "header").toUpperCase()),
      env.string("PUBSUB_NAME", "pubsub"),
      env.string("NOTIFICATION_TOPIC", "notifications"),
      env.string("NOTIFICATION_RETRY_TOPIC", "notifications-retry"),
      env.number("NOTIFY_GIVE_UP_AFTER_MS", 86_400_000, 1_000, 31_536_000_000L),
      (int) env.number("REMEMBER_DELIVERED", 20_000, 0, 10_000_000));
    Billing billing = new Billing(
      "on".equals(env.choice("CHARGES", "on", "on", "off")),
      env.string("BILLING_APP_ID", "billing-service"),
      env.string("BILLING_METHOD", "charges"),
      env.number("BILLING_TIMEOUT_MS", 3_000, 1, 600_000));
    Resilience resilience = new Resilience(
      env.number("STATE_TIMEOUT_MS", 2_000, 1, 600_000),
      env.number("NOTIFY_TIMEOUT_MS", 3_000, 1, 600_000),
      (int) env.number("NOTIFY_UNDELIVERED_RETRIES", 2, 0, 10),
      (int) env.number("STATE_RETRIES", 2, 0, 10),
      env.number("RETRY_INITIAL_DELAY_MS", 50, 1, 60_000),
      env.number("RETRY_MAX_DELAY_MS", 1_000, 1, 600_000),
      (int) env.number("BREAKER_MAX_FAILURES", 5, 1, 1_000_000),
      env.number("BREAKER_RESET_MS", 1_000, 1, 3_600_000),
      env.number("BREAKER_WINDOW_MS", 10_000, 1_000, 3_600_000));
    return new TodoConfig(
      (int) env.number("APP_PORT", 8000, 0, 65_535),
      (int) env.number("MAX_BODY_BYTES", 16_384, 256, 10_485_760),
      ServiceHttpServer.requestReadTimeoutMs(env),
      env.number("SHUTDOWN_DELAY_MS", 2_000, 0, 600_000),
      env.number("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
      sidecar, notifications, billing, resilience);
  }
}
