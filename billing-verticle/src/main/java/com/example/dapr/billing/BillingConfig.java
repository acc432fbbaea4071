package com.example.dapr.billing;

import com.example.dapr.http.Env;
import com.example.dapr.http.ServiceHttpServer;

/**
 * Settings of billing-service, from environment variables.
 *
 * @param port           APP_PORT, 8002: the port its Dapr sidecar forwards to ({@code dapr.io/app-port})
 * @param replica        REPLICA_ID, else HOSTNAME (the pod name on Kubernetes), else the host name
 * @param maxBodyBytes   MAX_BODY_BYTES, 16384: larger bodies are refused with 413
 * @param ledger         where the charges are kept: the state store of its own, through its own sidecar
 * @param appApiToken    APP_API_TOKEN, none: the token its Dapr sidecar sends in {@code dapr-api-token}; when set,
 *                       every route but the health routes and {@code /metrics} refuses a call without it with 401
 * @param requestReadTimeoutMs REQUEST_READ_TIMEOUT_MS, 10000: a request that has not arrived this long after its
 *                       first byte is answered 408 ({@link ServiceHttpServer})
 */
public record BillingConfig(int port, String replica, int maxBodyBytes, Ledger ledger, String appApiToken,
                            long requestReadTimeoutMs) {

  /**
   * The ledger: the Dapr state store {@code store} (BILLING_STORE_NAME, "billingstore", scoped to billing-service)
   * through this replica's sidecar (DAPR_SIDECAR_IP, 127.0.0.1; DAPR_HTTP_PORT, 3500; DAPR_API_TOKEN), each call
   * bounded by {@code timeoutMs} (STATE_TIMEOUT_MS, 2000).
   */
  public record Ledger(String store, String sidecarHost, int sidecarHttpPort, String apiToken, long timeoutMs) {
  }

  public static BillingConfig from(Env env) {
    Ledger ledger = new Ledger(
      env.string("BILLING_STORE_NAME", "billingstore"),
      env.string("DAPR_SIDECAR_IP", "127.0.0.1"),
      env.port("DAPR_HTTP_PORT", 3500),
      env.string("DAPR_API_TOKEN", null),
      env.number("STATE_TIMEOUT_MS", 2_000, 1, 600_000));
    return new BillingConfig(
      (int) env.number("APP_PORT", 8002, 0, 65_535),
      env.replica("billing"),
      (int) env.number("MAX_BODY_BYTES", 16_384, 256, 10_485_760),
      ledger,
      env.string("APP_API_TOKEN", null),
      ServiceHttpServer.requestReadTimeoutMs(env));
  }
}
