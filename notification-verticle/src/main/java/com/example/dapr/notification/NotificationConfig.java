package com.example.dapr.notification;

import com.example.dapr.http.Env;
import com.example.dapr.http.ServiceHttpServer;

/**
 * Settings of notification-service, from environment variables with the seed's defaults.
 *
 * @param port           APP_PORT, 8001: the port its Dapr sidecar forwards to ({@code dapr.io/app-port})
 * @param replica        REPLICA_ID, else HOSTNAME (the pod name on Kubernetes), else the host name
 * @param maxBodyBytes   MAX_BODY_BYTES, 16384: larger bodies are refused with 413
 * @param recentLimit    RECENT_NOTIFICATIONS, 200: how many notifications {@code GET /notifications} remembers
 * @param faultInjection FAULT_INJECTION, false: when true, {@code PUT /faults} can slow {@code /notify} down (tests)
 * @param dedup          where the record of delivered notifications is kept, shared by every replica
 * @param appApiToken    APP_API_TOKEN, none: the token this replica's Dapr sidecar sends in {@code dapr-api-token}
 *                       (Dapr's {@code APP_API_TOKEN}, set on the sidecar too); when set, every route but the health
 *                       routes refuses a call without it with 401
 * @param requestReadTimeoutMs REQUEST_READ_TIMEOUT_MS, 10000: a request that has not arrived, headers and body, this
 *                       long after its first byte is answered 408 and its connection closed ({@link ServiceHttpServer})
 */
public record NotificationConfig(int port, String replica, int maxBodyBytes, int recentLimit, boolean faultInjection,
                                 Dedup dedup, String appApiToken, long requestReadTimeoutMs) {

  /** Without an app API token: every route answers any caller. */
  public NotificationConfig(int port, String replica, int maxBodyBytes, int recentLimit, boolean faultInjection,
                            Dedup dedup) {
    this(port, replica, maxBodyBytes, recentLimit, faultInjection, dedup, null);
  }

  /** With the default bound on how long a request may take to arrive. */
  public NotificationConfig(int port, String replica, int maxBodyBytes, int recentLimit, boolean faultInjection,
                            Dedup dedup, String appApiToken) {
    this(port, replica, maxBodyBytes, recentLimit, faultInjection, dedup, appApiToken,
      ServiceHttpServer.DEFAULT_REQUEST_READ_TIMEOUT_MS);
  }

  /**
   * The deduplication record: kept in the Dapr state store {@code store} (DEDUP_STORE_NAME, "notificationstore";
   * "none" turns deduplication off) through this replica's own sidecar (DAPR_HTTP_PORT, 3500), for
   * {@code ttlSeconds} (DEDUP_TTL_SECONDS, 25 h: longer than todo-api keeps redelivering, NOTIFY_GIVE_UP_AFTER_MS).
   * A claim without an answer older than {@code claimTimeoutMs} (CLAIM_TIMEOUT_MS, 30 s) was abandoned and is taken
   * over. At most {@code batchMax} (DEDUP_BATCH_MAX, 100; 1 sends each alone) claims, or answers, go in one call to the
   * sidecar: claims that arrive while the previous claim call is under way, answers that wait up to
   * {@code recordLingerMs} (DEDUP_RECORD_LINGER_MS, 50) for others.
   */
  public record Dedup(String store, String sidecarHost, int sidecarHttpPort, String apiToken, long timeoutMs,
                      long ttlSeconds, long claimTimeoutMs, int batchMax, long recordLingerMs) {
    public boolean enabled() {
      return !"none".equals(store);
    }
  }

  public static NotificationConfig from(Env env) {
    Dedup dedup = new Dedup(
      env.string("DEDUP_STORE_NAME", "notificationstore"),
      env.string("DAPR_SIDECAR_IP", "127.0.0.1"),
      env.port("DAPR_HTTP_PORT", 3500),
      env.string("DAPR_API_TOKEN", null),
      env.number("STATE_TIMEOUT_MS", 2_000, 1, 600_000),
      env.number("DEDUP_TTL_SECONDS", 90_000, 1, 31_536_000),
      env.number("CLAIM_TIMEOUT_MS", 30_000, 1, 3_600_000),
      (int) env.number("DEDUP_BATCH_MAX", 100, 1, 1_000),
      env.number("DEDUP_RECORD_LINGER_MS", 50, 0, 10_000));
    return new NotificationConfig(
      (int) env.number("APP_PORT", 8001, 0, 65_535),
      env.replica("notification"),
      (int) env.number("MAX_BODY_BYTES", 16_384, 256, 10_485_760),
      (int) env.number("RECENT_NOTIFICATIONS", 200, 0, 100_000),
      "true".equalsIgnoreCase(env.choice("FAULT_INJECTION", "false", "true", "false")),
      dedup,
      env.string("APP_API_TOKEN", null),
      ServiceHttpServer.requestReadTimeoutMs(env));
  }
}
