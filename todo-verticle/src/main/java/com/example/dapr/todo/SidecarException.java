package com.example.dapr.todo;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

/**
 * Why a call to the Dapr sidecar failed: an open circuit, a timeout, no connection, or an error answer carrying Dapr's
 * own error code ({@code ERR_DIRECT_INVOKE}, {@code ERR_STATE_STORE_NOT_FOUND}, ...).
 */
public final class SidecarException extends RuntimeException {

  /** The kinds of failure, each with the HTTP status and error name todo-api answers for it. */
  public enum Kind {
    /** The target's circuit breaker is open: the call was not sent. */
    CIRCUIT_OPEN(503, "CIRCUIT_OPEN"),
    /** No answer within the timeout. */
    TIMEOUT(504, "SIDECAR_TIMEOUT"),
    /** No connection to the sidecar (not running, wrong DAPR_HTTP_PORT, pool wait queue full). */
    UNREACHABLE(502, "SIDECAR_UNREACHABLE"),
    /** The sidecar answered with an error status. */
    ERROR_RESPONSE(502, "SIDECAR_ERROR");

    final int httpStatus;
    final String errorName;

    Kind(int httpStatus, String errorName) {
      this.httpStatus = httpStatus;
      this.errorName = errorName;
    }
  }

  private final Kind kind;
  private final String operation;
  private final int status;
  private final String errorCode;

  SidecarException(Kind kind, String operation, int status, String errorCode, String message, Throwable cause) {
    super(message, cause, false, false);
    this.kind = kind;
    this.operation = operation;
    this.status = status;
    this.errorCode = errorCode;
  }

  /**
   * Reads an error answer: Dapr's {@code {"errorCode": ..., "message": ...}}, or, when an invoked app answered an error
   * itself and the sidecar passed it on, that app's {@code {"error": ..., "message": ...}}.
   */
  static SidecarException fromResponse(String operation, int status, Buffer body) {
    String code = null;
    String message = null;
    if (body != null && body.length() > 0) {
      try {
        JsonObject json = body.toJsonObject();
        code = json.getString("errorCode", json.getString("error"));
        message = json.getString("message");
      } catch (RuntimeException notJson) {
        message = abbreviate(body.toString().strip());
      }
    }
    if (message == null || message.isEmpty()) {
      message = "HTTP " + status;
    }
    return new SidecarException(Kind.ERROR_RESPONSE, operation, status, code, operation + ": " + message, null);
  }

  private static String abbreviate(String text) {
    return text.length() <= 300 ? text : text.substring(0, 300) + "...";
  }

  public Kind kind() {
    return kind;
  }

  /** What was being done, such as {@code save state task-...} or {@code invoke notification-service/notify}. */
  public String operation() {
    return operation;
  }

  /** The HTTP status the sidecar answered, or 0 when it did not answer. */
  public int status() {
    return status;
  }

  /** Dapr's error code, or null when there was no answer or its body had none. */
  public String errorCode() {
    return errorCode;
  }

  /**
   * Whether the same call may succeed later: no answer, a 5xx, or a 2xx that was not the answer expected (see
   * {@link TaskNotifier}). A 4xx will fail the same way again.
   */
  public boolean isTransient() {
    return kind == Kind.TIMEOUT || kind == Kind.UNREACHABLE
      || (kind == Kind.ERROR_RESPONSE && (status >= 500 || status / 100 == 2));
  }

  /**
   * Whether Dapr says the invoked app never received the request: {@code ERR_DIRECT_INVOKE} because the target
   * sidecar could not connect to its app ({@code connection refused}), reports it unhealthy, could not itself be
   * reached ({@code Unavailable}), or Dapr's own circuit breaker for the app did not let the call out. Such a call is
   * safe to send again, and Dapr's name resolution may pick another replica for it; Dapr itself does not, as it
   * retries on the replica it resolved first. Read from the messages of Dapr 1.18; the end-to-end tests check them
   * against the real sidecar.
   */
  public boolean neverReachedApp() {
    String message = getMessage();
    return "ERR_DIRECT_INVOKE".equals(errorCode) && message != null
      && (message.contains("connect: connection refused") || message.contains("app is not in a healthy state")
      || message.contains("code = Unavailable")
      // Dapr's own breaker for the app (resiliency.yaml), open or half-open (gobreaker's ErrOpenState and
      // ErrTooManyRequests): it sent the call to no replica. Counted, one dead replica opened todo-api's breaker too.
      || message.endsWith("err: circuit breaker is open") || message.endsWith("err: too many requests"));
  }

  /**
   * The app address a {@code ERR_DIRECT_INVOKE} names when the target sidecar lost its call to its app midway ({@code
   * error invoking app channel: Post "http://127.0.0.1:8802/notify": EOF}, or a connection reset: the replica died
   * with the call in flight), else null.
   */
  public String appChannelAddress() {
    String message = getMessage();
    if (!"ERR_DIRECT_INVOKE".equals(errorCode) || message == null) {
      return null;
    }
    java.util.regex.Matcher matcher = APP_CHANNEL.matcher(message);
    return matcher.find() ? matcher.group(1) : null;
  }

  private static final java.util.regex.Pattern APP_CHANNEL =
    java.util.regex.Pattern.compile("error invoking app channel: [A-Za-z]+ \"https?://([^/\"]+)");

  /**
   * Whether the state store refused a write ({@code ERR_STATE_SAVE}, {@code ERR_STATE_TRANSACTION}, or a 409): what
   * Dapr answers both for a stale ETag or a taken key and for a store that failed, so only a read tells which.
   */
  public boolean isStoreRefusal() {
    return kind == Kind.ERROR_RESPONSE && (status == 409
      || "ERR_STATE_SAVE".equals(errorCode) || "ERR_STATE_TRANSACTION".equals(errorCode));
  }

  /** Whether a later attempt may succeed: {@link #isTransient()}, or an open circuit that will close again. */
  public boolean mayPassLater() {
    return isTransient() || kind == Kind.CIRCUIT_OPEN;
  }

  /** The error fields todo-api puts in its JSON: {@code error}, {@code message}, and Dapr's code and status if any. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("error", kind.errorName).put("message", getMessage());
    if (errorCode != null) {
      json.put("dapr_error_code", errorCode);
    }
    if (status != 0) {
      json.put("dapr_status", status);
    }
    return json;
  }
}
