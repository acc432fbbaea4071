package com.example.dapr.client;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Why a call to the Dapr sidecar failed: an open circuit, a timeout, no connection, a store's refusal of a conditional
 * write, or an error answer carrying Dapr's own error code ({@code ERR_DIRECT_INVOKE}, {@code ERR_STATE_STORE_NOT_FOUND},
 * ...). Each predicate below reads Dapr 1.18's answers; the e2e layer checks them against the real sidecar.
 */
public final class SidecarException extends RuntimeException {

  /** The kinds of failure. */
  public enum Kind {
    /** The caller's circuit breaker for the target is open: the call was not sent. */
    CIRCUIT_OPEN,
    /** No answer within the timeout. */
    TIMEOUT,
    /** No connection to the sidecar (not running, wrong port, the pool's wait queue full). */
    UNREACHABLE,
    /**
     * A conditional write (an ETag, or first-write) that the store refused: 409, or {@code ERR_STATE_SAVE} / {@code
     * ERR_STATE_TRANSACTION}. Dapr answers a stale ETag, a taken key and a failing store alike, so only a read of the key
     * tells which it was.
     */
    REFUSED,
    /** The sidecar answered with an error status. */
    ERROR_RESPONSE
  }

  private static final Pattern APP_CHANNEL =
    Pattern.compile("error invoking app channel: [A-Za-z]+ \"https?://([^/\"]+)");

  private final Kind kind;
  private final String operation;
  private final int status;
  private final String errorCode;

  public SidecarException(Kind kind, String operation, int status, String errorCode, String message, Throwable cause) {
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
  public static SidecarException fromResponse(String operation, int status, Buffer body) {
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

  /** The same failure as another kind (an error answer that is a store's refusal). */
  SidecarException as(Kind other) {
    return new SidecarException(other, operation, status, errorCode, getMessage(), getCause());
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
   * Whether the same call may succeed later: no answer, a 5xx, or a 2xx that was not the answer expected. A 4xx and a
   * refused conditional write will fail the same way again.
   */
  public boolean isTransient() {
    return kind == Kind.TIMEOUT || kind == Kind.UNREACHABLE
      || (kind == Kind.ERROR_RESPONSE && (status >= 500 || status / 100 == 2));
  }

  /** Whether a later attempt may succeed: {@link #isTransient()}, or an open circuit that will close again. */
  public boolean mayPassLater() {
    return isTransient() || kind == Kind.CIRCUIT_OPEN;
  }

  /** Whether the store refused a conditional write ({@link Kind#REFUSED}). */
  public boolean isStoreRefusal() {
    return kind == Kind.REFUSED;
  }

  /**
   * Whether Dapr says the invoked app never received the request: {@code ERR_DIRECT_INVOKE} because the target
   * sidecar could not connect to its app ({@code connection refused}), reports it unhealthy, could not itself be
   * reached ({@code Unavailable}), or Dapr's own circuit breaker for the app did not let the call out. Such a call is
   * safe to send again, and Dapr's name resolution may pick another replica for it; Dapr itself does not, as it
   * retries on the replica it resolved first.
   */
  public boolean neverReachedApp() {
    String message = getMessage();
    return "ERR_DIRECT_INVOKE".equals(errorCode) && message != null
      && (message.contains("connect: connection refused") || message.contains("app is not in a healthy state")
      || message.contains("code = Unavailable")
      // Dapr's own breaker for the app (resiliency.yaml), open or half-open (gobreaker's ErrOpenState and
      // ErrTooManyRequests): it sent the call to no replica.
      || message.endsWith("err: circuit breaker is open") || message.endsWith("err: too many requests"));
  }

  /**
   * The app address a {@code ERR_DIRECT_INVOKE} names when the target sidecar lost its call to its app midway ({@code
   * error invoking app channel: Post "http://127.0.0.1:8802/notify": EOF}, or a connection reset: the app died with the
   * call in flight), else null.
   */
  public String appChannelAddress() {
    String message = getMessage();
    if (!"ERR_DIRECT_INVOKE".equals(errorCode) || message == null) {
      return null;
    }
    Matcher matcher = APP_CHANNEL.matcher(message);
    return matcher.find() ? matcher.group(1) : null;
  }

  /** Dapr's error code and status as JSON fields ({@code dapr_error_code}, {@code dapr_status}), those it has. */
  public JsonObject daprFields() {
    JsonObject json = new JsonObject();
    if (errorCode != null) {
      json.put("dapr_error_code", errorCode);
    }
    if (status != 0) {
      json.put("dapr_status", status);
    }
    return json;
  }
}
