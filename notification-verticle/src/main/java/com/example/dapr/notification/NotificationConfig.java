package com.example.dapr.notification;

import com.example.dapr.http.Env;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Settings of notification-service, from environment variables with the seed's defaults.
 *
 * @param port         APP_PORT, 8001: the port its Dapr sidecar forwards to ({@code dapr.io/app-port})
 * @param replica      REPLICA_ID, else HOSTNAME (the pod name on Kubernetes), else the host name
 * @param maxBodyBytes MAX_BODY_BYTES, 16384: larger bodies are refused with 413
 * @param recentLimit  RECENT_NOTIFICATIONS, 200: how many notifications {@code GET /notifications} remembers
 */
public record NotificationConfig(int port, String replica, int maxBodyBytes, int recentLimit) {

  public static NotificationConfig from(Env env) {
    return new NotificationConfig(
      (int) env.number("APP_PORT", 8001, 0, 65_535),
      env.string("REPLICA_ID", env.string("HOSTNAME", localHostName())),
      (int) env.number("MAX_BODY_BYTES", 16_384, 256, 10_485_760),
      (int) env.number("RECENT_NOTIFICATIONS", 200, 0, 100_000));
  }

  private static String localHostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "notification-" + ProcessHandle.current().pid();
    }
  }
}
